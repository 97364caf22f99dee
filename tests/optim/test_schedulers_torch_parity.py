"""Every LR scheduler against torch.optim.lr_scheduler: lr (and momentum) sequences over many steps, with
several parameter groups, resumed from state dicts, with user changes to the rates, and step(epoch)."""

import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import optim

torch = pytest.importorskip("torch")

LRS = [0.1, 0.3, 0.05]
RTOL = 0.0  # the sequences agree bit for bit (the same float operations in the same order)


def _opts(kind="sgd"):
    """A tinygrad_rnn and a torch optimizer with three parameter groups of different rates."""
    ps = [tg.Tensor(np.ones(2), requires_grad=True) for _ in LRS]
    qs = [torch.ones(2, requires_grad=True) for _ in LRS]
    if kind == "sgd":
        kw = dict(lr=0.1, momentum=0.9)
        return (
            optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(ps, LRS)], **kw),
            torch.optim.SGD([{"params": [q], "lr": lr} for q, lr in zip(qs, LRS)], **kw),
        )
    if kind == "adam":
        return (
            optim.Adam([{"params": [p], "lr": lr} for p, lr in zip(ps, LRS)], betas=(0.9, 0.99)),
            torch.optim.Adam([{"params": [q], "lr": lr} for q, lr in zip(qs, LRS)], betas=(0.9, 0.99)),
        )
    raise ValueError(kind)


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _run(make, steps=100, kind="sgd", metrics=None, before_step=None):
    """Step both schedulers ``steps`` times; returns both (lrs, momenta) histories."""
    opt, topt = _opts(kind)
    s, ts = make(optim.lr_scheduler, opt), make(torch.optim.lr_scheduler, topt)
    hist = [([s.get_last_lr()], [_momenta(opt)]), ([ts.get_last_lr()], [_momenta(topt)])]
    for k in range(steps):
        opt.step()
        topt.step()
        if before_step is not None:
            before_step(k, opt)
            before_step(k, topt)
        if metrics is None:
            s.step()
            ts.step()
        else:
            s.step(metrics[k])
            ts.step(metrics[k])
        for (lrs, moms), o, sch in zip(hist, (opt, topt), (s, ts)):
            lrs.append(sch.get_last_lr())
            moms.append(_momenta(o))
        assert [g["lr"] for g in opt.param_groups] == hist[0][0][-1]
    return hist


def _assert_same(hist):
    (lrs, moms), (tlrs, tmoms) = hist
    np.testing.assert_allclose(np.array(lrs, dtype=float), np.array(tlrs, dtype=float), rtol=RTOL, atol=0)
    np.testing.assert_allclose(np.array(moms, dtype=float), np.array(tmoms, dtype=float), rtol=RTOL, atol=0)


def test_every_torch_scheduler_is_exported_from_both_places():
    """PyTorch's scheduler names (``torch.optim.lr_scheduler.__all__``) are each one class here, importable
    from ``optim`` and ``optim.lr_scheduler`` and listed in both ``__all__``."""
    for n in torch.optim.lr_scheduler.__all__:
        assert getattr(optim, n) is getattr(optim.lr_scheduler, n), n
        assert n in optim.__all__ and n in optim.lr_scheduler.__all__, n


CASES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[3, 10, 10, 40], gamma=0.3),
    "MultiStepLR-unsorted": lambda m, o: m.MultiStepLR(o, milestones=[50, 5, 20], gamma=0.5),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.97),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=30),
    "CosineAnnealingLR-eta_min": lambda m, o: m.CosineAnnealingLR(o, T_max=17, eta_min=0.01),
    "CosineAnnealingLR-T1": lambda m, o: m.CosineAnnealingLR(o, T_max=1, eta_min=0.001),
    "LinearLR": lambda m, o: m.LinearLR(o),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=30),
    "LinearLR-warmup": lambda m, o: m.LinearLR(o, start_factor=0.05, end_factor=0.9, total_iters=13),
    "ConstantLR": lambda m, o: m.ConstantLR(o),
    "ConstantLR-long": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=20),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=40, power=2.0),
    "PolynomialLR-sqrt": lambda m, o: m.PolynomialLR(o, total_iters=25, power=0.5),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 0.95**e),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(
        o, [lambda e: 1 / (1 + e), lambda e: min(1.0, (e + 1) / 10), lambda e: 0.5 ** (e // 9)]
    ),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.98),
    "MultiplicativeLR-per-group": lambda m, o: m.MultiplicativeLR(
        o, [lambda e: 0.99, lambda e: 1.0 if e < 10 else 0.9, lambda e: 1.01]
    ),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=10),
    "CosineAnnealingWarmRestarts-mult": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-3),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=100),
    "OneCycleLR-linear": lambda m, o: m.OneCycleLR(
        o, max_lr=[0.5, 1.0, 2.0], total_steps=120, anneal_strategy="linear"
    ),
    "OneCycleLR-three-phase": lambda m, o: m.OneCycleLR(
        o, max_lr=0.8, epochs=10, steps_per_epoch=11, three_phase=True, pct_start=0.25
    ),
    "OneCycleLR-no-momentum": lambda m, o: m.OneCycleLR(
        o, max_lr=0.4, total_steps=100, cycle_momentum=False, div_factor=10.0, final_div_factor=100.0
    ),
    "OneCycleLR-momentum-lists": lambda m, o: m.OneCycleLR(
        o, max_lr=0.4, total_steps=101, base_momentum=[0.8, 0.7, 0.6], max_momentum=[0.9, 0.95, 0.99]
    ),
    "CyclicLR": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=7),
    "CyclicLR-triangular2": lambda m, o: m.CyclicLR(
        o, base_lr=[0.01, 0.02, 0.001], max_lr=[0.1, 0.3, 0.05], step_size_up=5, step_size_down=9, mode="triangular2"
    ),
    "CyclicLR-exp_range": lambda m, o: m.CyclicLR(
        o, base_lr=0.001, max_lr=0.2, step_size_up=6, mode="exp_range", gamma=0.97, base_momentum=[0.7, 0.8, 0.85]
    ),
    "CyclicLR-scale_fn": lambda m, o: m.CyclicLR(
        o, 0.01, 0.1, step_size_up=4, scale_fn=lambda x: 1 / (1 + 0.1 * x), scale_mode="iterations"
    ),
    "CyclicLR-no-momentum": lambda m, o: m.CyclicLR(o, 0.05, 0.5, step_size_up=10, cycle_momentum=False),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=45)], milestones=[5]
    ),
    "SequentialLR-three": lambda m, o: m.SequentialLR(
        o,
        [m.ConstantLR(o, factor=0.2, total_iters=4), m.ExponentialLR(o, gamma=0.9), m.StepLR(o, 10, gamma=0.5)],
        milestones=[8, 30],
    ),
    "SequentialLR-lambda-multistep": lambda m, o: m.SequentialLR(
        o, [m.LambdaLR(o, lambda e: (e + 1) / 10), m.MultiStepLR(o, [10, 20])], milestones=[10]
    ),
    "SequentialLR-poly": lambda m, o: m.SequentialLR(
        o, [m.ExponentialLR(o, gamma=1.1), m.PolynomialLR(o, total_iters=30)], milestones=[12]
    ),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.1, total_iters=2), m.ExponentialLR(o, gamma=0.9)]
    ),
    "ChainedScheduler-three": lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, start_factor=0.2, total_iters=10), m.StepLR(o, 15, 0.5), m.MultiStepLR(o, [25, 60], 0.2)],
        optimizer=o,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_lr_sequence_matches_torch_with_sgd(name):
    _assert_same(_run(CASES[name], steps=100 if "OneCycle" not in name else 99))


@pytest.mark.parametrize(
    "name", ["OneCycleLR", "OneCycleLR-three-phase", "CosineAnnealingLR", "SequentialLR", "CyclicLR-exp_range"]
)
def test_sequence_matches_torch_with_adam_betas(name):
    _assert_same(_run(CASES[name], steps=99, kind="adam"))


def test_one_cycle_full_length_and_past_the_end():
    """total_steps steps are allowed (the last one extrapolates as PyTorch's); one more raises."""
    hist = _run(lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=30), steps=30)
    _assert_same(hist)
    opt, topt = _opts()
    s = optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=5)
    ts = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=1.0, total_steps=5)
    for _ in range(5):
        opt.step()
        topt.step()
        s.step()
        ts.step()
    with pytest.raises(ValueError) as ours:
        s.step()
    with pytest.raises(ValueError) as theirs:
        ts.step()
    assert str(ours.value) == str(theirs.value) == "Tried to step 6 times. The specified number of total steps is 5"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(patience=0),
        dict(mode="max", factor=0.5, patience=2),
        dict(threshold_mode="abs", threshold=0.05, patience=1, cooldown=3),
        dict(patience=1, cooldown=2, min_lr=0.02),
        dict(patience=0, min_lr=[0.05, 0.001, 0.0], factor=0.3),
        dict(patience=1, eps=0.02, factor=0.9),
        dict(mode="max", threshold_mode="abs", threshold=0.0, patience=3, cooldown=1),
    ],
    ids=repr,
)
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    rng = np.random.default_rng(3)
    # decreasing for a while, then noisy plateaus (and a rising stretch for mode="max")
    metrics = list(np.concatenate([np.linspace(1.0, 0.5, 15), 0.5 + 0.01 * rng.standard_normal(40)]))
    metrics += list(np.linspace(0.5, 0.9, 10)) + [0.9] * 15
    hist = _run(lambda m, o: m.ReduceLROnPlateau(o, **kwargs), steps=len(metrics), metrics=metrics)
    _assert_same(hist)


def test_reduce_lr_on_plateau_accepts_tensor_metrics_and_tracks_state():
    opt, topt = _opts()
    s = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, patience=1)
    for v in [3.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0]:
        s.step(tg.tensor(v))
        ts.step(torch.tensor(v))
        assert (s.best, s.num_bad_epochs, s.cooldown_counter, s.last_epoch) == (
            ts.best,
            ts.num_bad_epochs,
            ts.cooldown_counter,
            ts.last_epoch,
        )
    assert s.get_last_lr() == ts.get_last_lr()


def test_user_changes_to_the_rate_are_carried_along_like_torch():
    """Chainable schedulers start from the group's current rate, so an edit persists (as in PyTorch)."""

    def halve_at_20(k, o):
        if k == 20:
            for g in o.param_groups:
                g["lr"] = g["lr"] / 2

    for name in ["CosineAnnealingLR", "ExponentialLR", "MultiStepLR", "LinearLR-decay", "PolynomialLR", "LambdaLR"]:
        _assert_same(_run(CASES[name], steps=60, before_step=halve_at_20))


@pytest.mark.parametrize(
    "name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "ConstantLR", "PolynomialLR"]
)
def test_step_with_epoch_uses_the_closed_form_and_warns_like_torch(name):
    opt, topt = _opts()
    s, ts = CASES[name](optim.lr_scheduler, opt), CASES[name](torch.optim.lr_scheduler, topt)
    for epoch in [3, 4, 10, 2, 25, 26, 60]:
        with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)` was not necessary"):
            s.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ts.step(epoch)
        np.testing.assert_allclose(s.get_last_lr(), ts.get_last_lr(), rtol=RTOL, atol=0)
        assert s.last_epoch == ts.last_epoch == epoch


def test_warm_restarts_with_fractional_epochs_matches_torch():
    opt, topt = _opts()
    s = optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2, eta_min=0.001)
    ts = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=4, T_mult=2, eta_min=0.001)
    iters = 7
    for epoch in range(30):
        for i in range(iters):
            s.step(epoch + i / iters)
            ts.step(epoch + i / iters)
            np.testing.assert_allclose(s.get_last_lr(), ts.get_last_lr(), rtol=RTOL, atol=0)
            assert (s.T_cur, s.T_i, s.last_epoch) == (ts.T_cur, ts.T_i, ts.last_epoch)
    for _ in range(10):  # back to plain steps
        s.step()
        ts.step()
        np.testing.assert_allclose(s.get_last_lr(), ts.get_last_lr(), rtol=RTOL, atol=0)


@pytest.mark.parametrize(
    "name",
    [
        "StepLR",
        "MultiStepLR",
        "CosineAnnealingLR",
        "OneCycleLR-three-phase",
        "SequentialLR",
        "ChainedScheduler-three",
        "CosineAnnealingWarmRestarts-mult",
        "LinearLR-warmup",
        "PolynomialLR",
        "CyclicLR-triangular2",
        "CyclicLR-exp_range",
    ],
)
def test_resume_from_state_dict_through_save_matches_uninterrupted_torch(tmp_path, name):
    """Run 23 steps, save optimizer and scheduler, load into fresh ones, continue: same rates as torch's run."""
    _, (tlrs, _) = _run(CASES[name], steps=60)
    opt, _ = _opts()
    s = CASES[name](optim.lr_scheduler, opt)
    for _ in range(23):
        s.step()
    tg.save({"opt": opt.state_dict(), "sched": s.state_dict()}, tmp_path / "ck.npz")
    ck = tg.load(tmp_path / "ck.npz")
    opt2, _ = _opts()
    s2 = CASES[name](optim.lr_scheduler, opt2)
    opt2.load_state_dict(ck["opt"])
    s2.load_state_dict(ck["sched"])
    assert s2.get_last_lr() == tlrs[23]
    for k in range(24, 61):
        s2.step()
        np.testing.assert_allclose(s2.get_last_lr(), tlrs[k], rtol=RTOL, atol=0)


def test_state_dict_keys_match_torch_apart_from_flags():
    for name in ["StepLR", "CosineAnnealingLR", "OneCycleLR", "LinearLR", "CosineAnnealingWarmRestarts", "CyclicLR"]:
        opt, topt = _opts()
        s, ts = CASES[name](optim.lr_scheduler, opt), CASES[name](torch.optim.lr_scheduler, topt)
        theirs = set(ts.state_dict()) - {"_get_lr_called_within_step", "_is_initial"}
        assert set(s.state_dict()) == theirs, name


def test_plateau_state_dict_round_trip_matches_torch(tmp_path):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85]
    opt, topt = _opts()
    s = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, patience=1, cooldown=1)
    for v in metrics[:5]:
        s.step(v)
        ts.step(v)
    tg.save({"opt": opt.state_dict(), "sched": s.state_dict()}, tmp_path / "ck.npz")
    ck = tg.load(tmp_path / "ck.npz")
    opt2, _ = _opts()
    s2 = optim.lr_scheduler.ReduceLROnPlateau(opt2, mode="max")  # overwritten by the load
    opt2.load_state_dict(ck["opt"])
    s2.load_state_dict(ck["sched"])
    for v in metrics[5:]:
        s2.step(v)
        ts.step(v)
        assert s2.get_last_lr() == ts.get_last_lr()
        assert [g["lr"] for g in opt2.param_groups] == ts.get_last_lr()


@pytest.mark.parametrize(
    "make",
    [
        lambda m, o: m.ConstantLR(o, factor=1.5),
        lambda m, o: m.LinearLR(o, start_factor=0.0),
        lambda m, o: m.LinearLR(o, end_factor=1.5),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=0),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=0),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, epochs=0, steps_per_epoch=3),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"),
        lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=10),
        lambda m, o: m.ReduceLROnPlateau(o, factor=1.0),
        lambda m, o: m.ReduceLROnPlateau(o, mode="middle"),
        lambda m, o: m.ReduceLROnPlateau(o, threshold_mode="relative"),
        lambda m, o: m.ReduceLROnPlateau(o, min_lr=[0.1]),
        lambda m, o: m.SequentialLR(o, [m.StepLR(o, 2)], milestones=[3]),
        lambda m, o: m.SequentialLR(o, [], milestones=[]),
        lambda m, o: m.SequentialLR(o, [m.StepLR(o, 2), m.ReduceLROnPlateau(o)], milestones=[3]),
        lambda m, o: m.ChainedScheduler([]),
        lambda m, o: m.CyclicLR(o, 0.1, 1.0, mode="square"),
        lambda m, o: m.CyclicLR(o, [0.1, 0.2], 1.0),
    ],
)
def test_errors_match_torch(make):
    opt, topt = _opts()
    with pytest.raises((ValueError, TypeError)) as theirs:
        make(torch.optim.lr_scheduler, topt)
    with pytest.raises(type(theirs.value)) as ours:
        make(optim.lr_scheduler, opt)
    assert str(ours.value) == str(theirs.value)


def test_get_lr_outside_step_warns_like_torch():
    opt, topt = _opts()
    s, ts = optim.lr_scheduler.StepLR(opt, 3), torch.optim.lr_scheduler.StepLR(topt, 3)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        s.get_lr()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        ts.get_lr()
