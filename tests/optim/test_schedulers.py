"""LR schedulers without torch: closed forms, invariants, composition, state dicts, errors."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import optim
from tinygrad_rnn.optim import lr_scheduler as S


def _opt(lrs=(0.1, 0.4), cls=optim.SGD, **kw):
    groups = [{"params": [tg.Tensor(np.ones(2), requires_grad=True)], "lr": lr} for lr in lrs]
    return cls(groups, **kw)


def _seq(sched, steps):
    """The rates after construction and after each of ``steps`` steps."""
    out = [sched.get_last_lr()]
    for _ in range(steps):
        sched.optimizer.step()
        sched.step()
        out.append(sched.get_last_lr())
    return np.array(out)


BASE = np.array([0.1, 0.4])


def test_all_schedulers_are_exported_from_both_places():
    """Every scheduler class the library defines is in both ``__all__`` lists and is one object in both
    places (the names PyTorch has are checked against torch in test_schedulers_torch_parity.py)."""
    schedulers = {n for n, v in vars(S).items() if isinstance(v, type) and issubclass(v, S.LRScheduler)}
    assert {"LRScheduler", "StepLR", "OneCycleLR", "ReduceLROnPlateau"} <= schedulers
    for n in schedulers:
        assert getattr(optim, n) is getattr(optim.lr_scheduler, n), n
        assert n in optim.__all__ and n in optim.lr_scheduler.__all__, n
    assert len(set(optim.__all__)) == len(optim.__all__)
    from tinygrad_rnn.optim.lr_scheduler import OneCycleLR  # noqa: F401


def test_construction_takes_the_first_step_and_records_initial_lr():
    opt = _opt()
    s = S.ExponentialLR(opt, gamma=0.5)
    assert s.last_epoch == 0 and s._step_count == 1
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.4] == s.base_lrs == s.get_last_lr()


@pytest.mark.parametrize(
    "make, closed",
    [
        (lambda o: S.ExponentialLR(o, 0.9), lambda e: 0.9**e),
        (lambda o: S.StepLR(o, 4, 0.5), lambda e: 0.5 ** (e // 4)),
        (lambda o: S.MultiStepLR(o, [3, 9, 9, 20], 0.1), lambda e: 0.1 ** sum(m <= e for m in [3, 9, 9, 20])),
        (lambda o: S.ConstantLR(o, 0.25, 6), lambda e: 0.25 if e < 6 else 1.0),
        (lambda o: S.LinearLR(o, 0.2, 1.0, 8), lambda e: 0.2 + 0.8 * min(e, 8) / 8),
        (lambda o: S.LinearLR(o, 1.0, 0.0, 10), lambda e: 1.0 - min(e, 10) / 10),
        (lambda o: S.PolynomialLR(o, 12, 2.0), lambda e: (1 - min(e, 12) / 12) ** 2),
        (lambda o: S.CosineAnnealingLR(o, 15), lambda e: 0.5 * (1 + math.cos(math.pi * e / 15))),
        (lambda o: S.LambdaLR(o, lambda e: 1 / (1 + e)), lambda e: 1 / (1 + e)),
        (lambda o: S.MultiplicativeLR(o, lambda e: 0.95), lambda e: 0.95**e),
    ],
)
def test_chainable_rules_follow_the_closed_forms(make, closed):
    got = _seq(make(_opt()), 40)
    want = np.array([[closed(e) * b for b in BASE] for e in range(41)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_cosine_annealing_keeps_oscillating_past_t_max_and_honours_eta_min():
    got = _seq(S.CosineAnnealingLR(_opt(), T_max=10, eta_min=0.01), 40)
    closed = lambda e, b: 0.01 + (b - 0.01) * (1 + math.cos(math.pi * e / 10)) / 2
    np.testing.assert_allclose(got, [[closed(e, b) for b in BASE] for e in range(41)], rtol=1e-12, atol=1e-15)
    assert np.allclose(got[10], 0.01) and np.allclose(got[20], BASE)  # the minimum at T_max, back up at 2 T_max


def test_warm_restarts_restart_and_grow():
    got = _seq(S.CosineAnnealingWarmRestarts(_opt(), T_0=3, T_mult=2), 21)[:, 0]
    # cycles of 3, 6, 12 epochs: restarts at 3 and 9 and 21
    for restart in (0, 3, 9, 21):
        assert got[restart] == pytest.approx(0.1)
    T_cur, T_i = [0, 1, 2, 0, 1, 2, 3, 4, 5], [3, 3, 3, 6, 6, 6, 6, 6, 6]
    np.testing.assert_allclose(got[:9], [0.05 * (1 + math.cos(math.pi * c / i)) for c, i in zip(T_cur, T_i)])


def test_warm_restarts_fractional_epochs():
    s = S.CosineAnnealingWarmRestarts(_opt(), T_0=4, T_mult=1)
    s.step(5.5)
    assert s.T_cur == pytest.approx(1.5) and s.last_epoch == 5
    assert s.get_last_lr()[0] == pytest.approx(0.05 * (1 + math.cos(math.pi * 1.5 / 4)))
    s2 = S.CosineAnnealingWarmRestarts(_opt(), T_0=2, T_mult=3)
    s2.step(9.0)  # cycles [0,2) [2,8) [8,26)
    assert (s2.T_cur, s2.T_i) == (pytest.approx(1.0), 18)
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        s2.step(-1)


def test_one_cycle_shape_and_momentum():
    opt = _opt(cls=optim.SGD, momentum=0.9)
    s = S.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=100, pct_start=0.3)
    lrs, moms = [s.get_last_lr()], [[g["momentum"] for g in opt.param_groups]]
    for _ in range(99):
        s.step()
        lrs.append(s.get_last_lr())
        moms.append([g["momentum"] for g in opt.param_groups])
    lrs, moms = np.array(lrs), np.array(moms)
    np.testing.assert_allclose(lrs[0], [1.0 / 25, 2.0 / 25])
    peak = int(np.argmax(lrs[:, 0]))
    assert peak == 29 and lrs[29, 0] == pytest.approx(1.0)  # end of phase 1: pct_start * total - 1
    np.testing.assert_allclose(lrs[-1], [1.0 / 25 / 1e4, 2.0 / 25 / 1e4])
    assert np.all(np.diff(lrs[:30, 0]) > 0) and np.all(np.diff(lrs[29:, 0]) < 0)
    np.testing.assert_allclose(moms[0], 0.95)
    np.testing.assert_allclose(moms[29], 0.85)
    np.testing.assert_allclose(moms[-1], 0.95)
    assert opt.param_groups[1]["max_lr"] == 2.0 and opt.param_groups[1]["min_lr"] == pytest.approx(2.0 / 25 / 1e4)
    s.step()  # step 100 == total_steps is allowed
    with pytest.raises(ValueError, match="Tried to step 101 times. The specified number of total steps is 100"):
        s.step()


def test_one_cycle_linear_three_phase_and_adam_betas():
    opt = _opt(cls=optim.Adam, betas=(0.9, 0.98))
    s = S.OneCycleLR(opt, max_lr=1.0, epochs=4, steps_per_epoch=10, anneal_strategy="linear", three_phase=True)
    assert s.total_steps == 40
    seq = [s.get_last_lr()[0]]
    betas = [opt.param_groups[0]["betas"]]
    for _ in range(39):
        s.step()
        seq.append(s.get_last_lr()[0])
        betas.append(opt.param_groups[0]["betas"])
    # phases end at steps 11, 22 and 39; linear in between
    assert seq[11] == pytest.approx(1.0) and seq[22] == pytest.approx(0.04)
    assert seq[39] == pytest.approx(0.04 / 1e4)
    np.testing.assert_allclose(np.diff(seq[:12]), (1.0 - 0.04) / 11)
    assert all(b[1] == 0.98 for b in betas) and betas[11][0] == pytest.approx(0.85)
    assert betas[22][0] == pytest.approx(0.95) and betas[39][0] == pytest.approx(0.95)


def test_one_cycle_needs_momentum_to_cycle_it():
    opt = _opt(cls=optim.Adagrad)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    S.OneCycleLR(opt, max_lr=1.0, total_steps=10, cycle_momentum=False)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_lr_triangles(mode):
    opt = _opt(cls=optim.SGD, momentum=0.9)
    s = S.CyclicLR(opt, base_lr=0.1, max_lr=[1.0, 2.0], step_size_up=4, step_size_down=6, mode=mode, gamma=0.9)
    lrs, moms = [s.get_last_lr()], [opt.param_groups[0]["momentum"]]
    for _ in range(30):
        s.step()
        lrs.append(s.get_last_lr())
        moms.append(opt.param_groups[0]["momentum"])
    lrs = np.array(lrs)
    for e in range(31):
        cycle, pos = divmod(e, 10)
        h = pos / 4 if pos <= 4 else (10 - pos) / 6
        scale = {"triangular": 1.0, "triangular2": 0.5**cycle, "exp_range": 0.9**e}[mode]
        np.testing.assert_allclose(lrs[e], [0.1 + (m - 0.1) * h * scale for m in (1.0, 2.0)], rtol=1e-12, atol=1e-15)
        assert moms[e] == pytest.approx(0.9 - 0.1 * h * scale)
    assert opt.param_groups[0]["base_momentum"] == 0.8 and opt.param_groups[0]["max_momentum"] == 0.9


def test_cyclic_lr_custom_scale_fn_state_dict():
    class Decay:
        def __init__(self, k):
            self.k = k

        def __call__(self, x):
            return 1.0 / (1.0 + self.k * x)

    opt = _opt(cls=optim.Adam)
    s = S.CyclicLR(opt, 0.01, 0.1, step_size_up=3, scale_fn=Decay(0.5), scale_mode="cycle")
    for _ in range(4):
        s.step()
    assert opt.param_groups[0]["betas"][1] == 0.999
    sd = s.state_dict()
    assert sd["_scale_fn_custom"] == {"k": 0.5} and "_scale_fn_ref" not in sd
    fn = Decay(9.0)
    s2 = S.CyclicLR(_opt(cls=optim.Adam), 0.01, 0.1, step_size_up=3, scale_fn=fn, scale_mode="cycle")
    s2.load_state_dict(sd)
    assert fn.k == 0.5 and s2.last_epoch == 4
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        S.CyclicLR(_opt(), 0.1, 1.0, mode="sine")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.CyclicLR(_opt(cls=optim.Adagrad), 0.1, 1.0)


def test_sequential_lr_switches_at_milestones():
    opt = _opt()
    warm = S.LinearLR(opt, start_factor=0.1, total_iters=4)
    decay = S.ExponentialLR(opt, gamma=0.5)
    s = S.SequentialLR(opt, [warm, decay], milestones=[4])
    got = _seq(s, 8)[:, 0]
    want = [0.1 * f for f in (0.1, 0.325, 0.55, 0.775)] + [0.1 * 0.5**k for k in range(5)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert s.last_epoch == 8 and decay.last_epoch == 4


def test_chained_scheduler_multiplies_the_effects():
    opt = _opt()
    s = S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=3), S.ExponentialLR(opt, gamma=0.9)])
    got = _seq(s, 6)
    want = [[b * (0.5 if e < 3 else 1.0) * 0.9**e for b in BASE] for e in range(7)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_reduce_lr_on_plateau_rules():
    opt = _opt()
    s = S.ReduceLROnPlateau(opt, patience=2, factor=0.5, min_lr=[0.03, 0.0], cooldown=1)
    lrs = []
    for m in [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]:
        s.step(m)
        lrs.append(s.get_last_lr())
    lrs = np.array(lrs)
    # improvement at epochs 1-2; bad epochs 3, 4, 5 -> cut after the 3rd (index 4); cooldown 1 epoch, then
    # three more bad epochs -> next cut at index 8, then index 12 would be next
    np.testing.assert_allclose(lrs[:4], [[0.1, 0.4]] * 4)
    np.testing.assert_allclose(lrs[4], [0.05, 0.2])
    np.testing.assert_allclose(lrs[8], [0.03, 0.1])  # the first group clipped at min_lr
    assert s.best == 0.9 and s.last_epoch == 12
    s_max = S.ReduceLROnPlateau(_opt(), mode="max", patience=0, threshold_mode="abs", threshold=0.1)
    s_max.step(1.0)
    s_max.step(1.05)  # not better by 0.1: a bad epoch, patience 0 -> cut
    assert s_max.get_last_lr() == pytest.approx([0.01, 0.04])


def test_reduce_lr_on_plateau_eps_and_new_groups():
    opt = _opt(lrs=(1e-8,))
    s = S.ReduceLROnPlateau(opt, patience=0)
    s.step(1.0)
    s.step(2.0)
    assert s.get_last_lr() == [1e-8]  # the cut would change it by less than eps
    opt.add_param_group({"params": [tg.Tensor(np.ones(1), requires_grad=True)], "lr": 1.0})
    s.step(3.0)
    assert s.min_lrs == [0, 0] and s.get_last_lr() == [1e-8, pytest.approx(0.1)]
    s2 = S.ReduceLROnPlateau(_opt(lrs=(1.0,)), patience=0, min_lr=[0.0])
    s2.optimizer.add_param_group({"params": [tg.Tensor(np.ones(1), requires_grad=True)]})
    s2.step(1.0)
    with pytest.raises(RuntimeError, match="The number of param groups in the `optimizer` \\(2\\) differs"):
        s2.step(2.0)


def test_step_with_epoch_is_deprecated_and_closed_form():
    s = S.StepLR(_opt(), step_size=3, gamma=0.1)
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)` was not necessary"):
        s.step(7)
    assert s.last_epoch == 7 and s.get_last_lr() == pytest.approx([0.1 * 0.01, 0.4 * 0.01])
    lam = S.LambdaLR(_opt(), lambda e: 2.0**e)  # no closed form: get_lr at the given epoch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lam.step(3)
    assert lam.get_last_lr() == [0.8, 3.2]


def test_get_lr_outside_step_warns():
    s = S.CosineAnnealingLR(_opt(), T_max=5)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        s.get_lr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.step()  # no warning from inside step


def test_get_last_lr_is_a_copy():
    s = S.StepLR(_opt(), 2)
    s.get_last_lr().append(99)
    assert s.get_last_lr() == [0.1, 0.4]


def test_resume_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="needs 'initial_lr' in parameter group 0"):
        S.ExponentialLR(_opt(), gamma=0.9, last_epoch=5)
    opt = _opt()
    S.ExponentialLR(opt, gamma=0.9)
    s = S.ExponentialLR(opt, gamma=0.9, last_epoch=5)
    assert s.last_epoch == 6


@pytest.mark.parametrize(
    "make",
    [
        lambda o: S.MultiStepLR(o, [2, 5, 5], 0.5),
        lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=50, three_phase=True),
        lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.5, total_iters=3), S.CosineAnnealingLR(o, 10)], [3]),
        lambda o: S.ChainedScheduler([S.StepLR(o, 2, 0.9), S.LinearLR(o, 0.5, total_iters=4)]),
        lambda o: S.CosineAnnealingWarmRestarts(o, 3, 2),
        lambda o: S.ReduceLROnPlateau(o, patience=1),
        lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="exp_range", gamma=0.9),
    ],
)
def test_state_dict_round_trip_through_save(tmp_path, make):
    def run(s, n, k0=0):
        out = []
        for k in range(k0, k0 + n):
            if isinstance(s, S.ReduceLROnPlateau):
                s.step(1.0 / (1 + (k % 3)))
            else:
                s.step()
            out.append(s.get_last_lr())
        return out

    opt = _opt(cls=optim.SGD, momentum=0.9)
    s = make(opt)
    run(s, 7)
    tg.save({"opt": opt.state_dict(), "sched": s.state_dict()}, tmp_path / "ck.npz")
    want = run(s, 10, 7)
    ck = tg.load(tmp_path / "ck.npz")
    opt2 = _opt(cls=optim.SGD, momentum=0.9)
    s2 = make(opt2)
    opt2.load_state_dict(ck["opt"])
    s2.load_state_dict(ck["sched"])
    assert run(s2, 10, 7) == want


def test_state_dict_excludes_the_optimizer_and_is_a_snapshot():
    s = S.MultiStepLR(_opt(), [4, 2, 2])
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["milestones"] == [2, 2, 4] and sd["last_epoch"] == 0
    s.step()
    assert sd["last_epoch"] == 0 and sd["_last_lr"] == [0.1, 0.4]


@pytest.mark.parametrize(
    "make, exc, msg",
    [
        (lambda o: S.ConstantLR(o, factor=2.0), ValueError, "Constant multiplicative factor expected to be between"),
        (lambda o: S.LinearLR(o, start_factor=0), ValueError, "Starting multiplicative factor expected"),
        (lambda o: S.LinearLR(o, end_factor=-0.1), ValueError, "Ending multiplicative factor expected"),
        (lambda o: S.OneCycleLR(o, max_lr=1.0), ValueError, "You must define either total_steps OR"),
        (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=5.0), ValueError, "Expected positive integer total_steps"),
        (lambda o: S.OneCycleLR(o, 1.0, 10, pct_start=1), ValueError, "Expected float between 0 and 1 pct_start"),
        (lambda o: S.OneCycleLR(o, [1.0], 10), ValueError, "max_lr must have the same length as optimizer.param"),
        (lambda o: S.ReduceLROnPlateau(o, factor=1.5), ValueError, "Factor should be < 1.0."),
        (lambda o: S.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode avg is unknown!"),
        (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1, 0.1, 0.1]), ValueError, "expected 2 min_lrs, got 3"),
        (lambda o: S.SequentialLR(o, [S.StepLR(o, 1)], [1]), ValueError, "one more than the number of milestone"),
        (lambda o: S.SequentialLR(o, [S.StepLR(_opt(), 1)], []), ValueError, "belong to the same optimizer"),
        (lambda o: S.ChainedScheduler([S.ReduceLROnPlateau(o)]), ValueError, "does not support `ReduceLROnPlateau`"),
        (lambda o: S.SequentialLR(o, [object()], []), TypeError, "should have `optimizer` as its attribute"),
        (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=1.5), ValueError, "Expected positive integer T_0"),
        (lambda o: S.CosineAnnealingWarmRestarts(o, 2, eta_min="0"), ValueError, "Expected float or int eta_min"),
        (lambda o: S.MultiplicativeLR(o, [lambda e: 1.0]), ValueError, "expected 2 lr_lambdas"),
        (lambda o: S.MultiplicativeLR(o, 0.9), TypeError, "lr_lambda must be callable"),
        (lambda o: S.OneCycleLR([], 1.0, 10), TypeError, "OneCycleLR: expected an Optimizer, got list"),
        (lambda o: S.ReduceLROnPlateau(None), TypeError, "ReduceLROnPlateau: expected an Optimizer, got NoneType"),
    ],
)
def test_errors(make, exc, msg):
    with pytest.raises(exc, match=msg.replace("(", "\\(").replace(")", "\\)").replace(".", "\\.")):
        make(_opt())


def test_a_group_added_after_the_scheduler_is_an_error_at_the_next_step():
    opt = _opt()
    s = S.LambdaLR(opt, lambda e: 0.5**e)  # one lambda and base rate per group, fixed at construction
    opt.add_param_group({"params": [tg.Tensor(np.ones(1), requires_grad=True)]})
    with pytest.raises(ValueError, match="computed 2 learning rates for 3 parameter groups"):
        s.step()
