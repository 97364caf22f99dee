"""Optimizers and LR schedulers: trajectories against torch.optim, state dicts, validation, convergence."""

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import optim

SHAPES = [(3, 4), (5,), (2, 1, 3)]


def _grad(p: np.ndarray, k: int, i: int) -> np.ndarray:
    """A gradient that depends on the parameter (so optimizer state matters) and on the step."""
    rng = np.random.default_rng(100 * k + i)
    return 0.7 * p + 0.5 * np.sin(3.0 * p) + rng.standard_normal(p.shape)


def _run_pair(torch, tg_cls, torch_cls, kwargs, steps=8, dtype=np.float64, groups=False, sparse_grads=False):
    """Step a tinygrad_rnn and a torch optimizer on identical gradients; return both trajectories."""
    rng = np.random.default_rng(7)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = [tg.Tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    if groups:
        opt = tg_cls([{"params": ours[:2]}, {"params": ours[2:], "lr": 0.05}], **kwargs)
        topt = torch_cls([{"params": theirs[:2]}, {"params": theirs[2:], "lr": 0.05}], foreach=False, **kwargs)
    else:
        opt, topt = tg_cls(ours, **kwargs), torch_cls(theirs, foreach=False, **kwargs)
    traj_ours, traj_theirs = [], []
    for k in range(steps):
        opt.zero_grad()
        topt.zero_grad()
        for i, (p, q) in enumerate(zip(ours, theirs)):
            if sparse_grads and i == 1 and k % 3 == 1:
                continue  # no gradient this step: both must skip the parameter entirely
            g = _grad(p.numpy().astype(np.float64), k, i).astype(dtype)
            p.grad = tg.Tensor(g.copy())
            q.grad = torch.tensor(g.copy())
        opt.step()
        topt.step()
        traj_ours.append([p.numpy().copy() for p in ours])
        traj_theirs.append([q.detach().numpy().copy() for q in theirs])
    return ours, traj_ours, traj_theirs


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-6)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, amsgrad=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.5, betas=(0.5, 0.9))),
]


def _ids(case):
    return case[0] + "-" + ",".join(f"{k}={v}" for k, v in case[1].items())


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_trajectory_matches_torch_float64(torch, case):
    name, kwargs = case
    _, ours, theirs = _run_pair(
        torch, getattr(optim, name), getattr(torch.optim, name), kwargs, steps=8, sparse_grads=True
    )
    for k, (a, b) in enumerate(zip(ours, theirs)):
        for i, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(x, y, rtol=1e-11, atol=1e-13, err_msg=f"step {k} param {i}")


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_trajectory_matches_torch_with_param_groups(torch, name):
    kwargs = {
        "SGD": dict(lr=0.1, momentum=0.9),
        "Adagrad": dict(lr=0.1),
        "RMSprop": dict(lr=0.01, centered=True),
        "Adam": dict(lr=0.01),
        "AdamW": dict(lr=0.01),
    }[name]
    _, ours, theirs = _run_pair(torch, getattr(optim, name), getattr(torch.optim, name), kwargs, steps=6, groups=True)
    for a, b in zip(ours[-1], theirs[-1]):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("case", [CASES[3], CASES[8], CASES[12], CASES[16], CASES[19]], ids=_ids)
def test_float32_trajectory_stays_float32_and_matches_torch(torch, case):
    name, kwargs = case
    params, ours, theirs = _run_pair(
        torch, getattr(optim, name), getattr(torch.optim, name), kwargs, steps=6, dtype=np.float32
    )
    for p in params:
        assert p.dtype == np.float32 and p.data.dtype == np.float32
    for a, b in zip(ours[-1], theirs[-1]):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_state_float32_stays_float32(name):
    p = tg.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    kwargs = {
        "SGD": dict(lr=0.1, momentum=0.9, weight_decay=0.1),
        "RMSprop": dict(centered=True, momentum=0.9),
        "Adam": dict(amsgrad=True, weight_decay=0.1),
        "Adagrad": dict(lr_decay=0.1, weight_decay=0.1),
        "AdamW": dict(),
    }[name]
    opt = getattr(optim, name)([p], **kwargs)
    for _ in range(3):
        p.grad = tg.Tensor(np.full((2, 3), 0.5, np.float32))
        opt.step()
    assert p.data.dtype == np.float32
    for v in opt.state[p].values():
        if hasattr(v, "dtype"):
            assert v.dtype == np.float32


def _continue(opt_params, opt, steps, start):
    out = []
    for k in range(start, start + steps):
        for i, p in enumerate(opt_params):
            p.grad = tg.Tensor(_grad(p.numpy(), k, i))
        opt.step()
        out.append([p.numpy().copy() for p in opt_params])
    return out


STATEFUL = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
]


@pytest.mark.parametrize("case", STATEFUL, ids=_ids)
def test_state_dict_round_trip_through_save_gives_identical_continuation(tmp_path, case):
    name, kwargs = case
    cls = getattr(optim, name)
    rng = np.random.default_rng(3)
    params = [tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in SHAPES]
    opt = cls(params, **kwargs)
    _continue(params, opt, 3, 0)
    snapshot = [p.numpy().copy() for p in params]
    tg.save(opt.state_dict(), tmp_path / "opt.npz")
    expected = _continue(params, opt, 4, 3)

    params2 = [tg.Tensor(a.copy(), requires_grad=True) for a in snapshot]
    fresh_kwargs = dict(kwargs, lr=123.0)  # a different lr: load_state_dict must restore the saved one
    opt2 = cls(params2, **fresh_kwargs)
    opt2.load_state_dict(tg.load(tmp_path / "opt.npz"))
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    got = _continue(params2, opt2, 4, 3)
    for a, b in zip(expected, got):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_state_dict_is_a_snapshot_with_index_keys_and_numbers():
    p = tg.Tensor(np.ones(3), requires_grad=True)
    q = tg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([{"params": [p]}, {"params": [q], "lr": 0.5}], lr=0.1)
    p.grad = tg.Tensor(np.ones(3))
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd["state"]) == ["0"]  # q has no grad yet, so no state
    assert sd["param_groups"][0]["params"] == [0] and sd["param_groups"][1]["params"] == [1]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sd["state"]["0"]["step"] == 1
    to_host = tg.backend.to_numpy  # the state's arrays are the backend's (device arrays under CuPy)
    before = to_host(sd["state"]["0"]["exp_avg"]).copy()
    p.grad = tg.Tensor(np.full(3, 5.0))
    opt.step()
    np.testing.assert_array_equal(to_host(sd["state"]["0"]["exp_avg"]), before)  # later steps do not leak into it
    assert opt.state_dict()["state"]["0"]["step"] == 2


def test_load_state_dict_accepts_int_keys_and_casts_to_param_dtype():
    p = tg.Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.load_state_dict(
        {
            "state": {0: {"momentum_buffer": np.full(3, 2.0)}},
            "param_groups": [
                {"lr": 0.2, "momentum": 0.9, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0, "params": [0]}
            ],
        }
    )
    assert opt.state[p]["momentum_buffer"].dtype == np.float32
    p.grad = tg.Tensor(np.ones(3, np.float32))
    opt.step()
    np.testing.assert_allclose(p.numpy(), 1 - 0.2 * (0.9 * 2.0 + 1.0), rtol=1e-6)


def test_load_state_dict_errors():
    p, q = tg.Tensor(np.ones(3), requires_grad=True), tg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([p, q])
    p.grad, q.grad = tg.Tensor(np.ones(3)), tg.Tensor(np.ones(2))
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match=r"1 parameter\(s\) in the state dict but 2"):
        optim.Adam([p, q]).load_state_dict({"state": {}, "param_groups": [dict(sd["param_groups"][0], params=[0])]})
    with pytest.raises(ValueError, match=r"2 parameter group\(s\) but this optimizer has 1"):
        optim.Adam([p, q]).load_state_dict({"state": {}, "param_groups": sd["param_groups"] * 2})
    with pytest.raises(ValueError, match="expected a dict with keys 'state' and 'param_groups'"):
        optim.Adam([p, q]).load_state_dict({"params": []})
    other = optim.Adam([q, p])  # same counts, swapped shapes
    with pytest.raises(ValueError, match=r"shape \(3,\) but the parameter has shape \(2,\)"):
        other.load_state_dict(sd)
    with pytest.raises(ValueError, match=r"expects \['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step'\]"):
        optim.Adam([p, q], amsgrad=True).load_state_dict(
            {"state": sd["state"], "param_groups": [dict(sd["param_groups"][0], amsgrad=True)]}
        )
    sgd = optim.SGD([p, q], lr=0.1, momentum=0.9)
    with pytest.raises(
        ValueError, match=r"has keys \['exp_avg', 'exp_avg_sq', 'step'\].*expects \['momentum_buffer'\]"
    ):
        sgd.load_state_dict({"state": sd["state"], "param_groups": [dict(sgd.state_dict()["param_groups"][0])]})
    with pytest.raises(ValueError, match="state for parameter 5"):
        optim.Adam([p, q]).load_state_dict({"state": {"5": {}}, "param_groups": sd["param_groups"]})
    # a failed load leaves the optimizer as it was
    fresh = optim.Adam([p, q], lr=0.5)
    with pytest.raises(ValueError):
        fresh.load_state_dict({"state": {"0": {"bogus": 1}}, "param_groups": sd["param_groups"]})
    assert fresh.param_groups[0]["lr"] == 0.5 and fresh.state == {}


def test_construction_errors():
    p = tg.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="got a single Tensor; wrap it in a list"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 of group 0 is a ndarray, expected a Tensor"):
        optim.Adam([p, np.ones(2)])
    with pytest.raises(TypeError, match="has dtype int64; only floating-point"):
        optim.Adam([tg.Tensor(np.ones(2, np.int64))])
    with pytest.raises(ValueError, match="not a leaf tensor"):
        optim.Adam([p * 2])
    with pytest.raises(ValueError, match="invalid learning rate -0.1"):
        optim.SGD([p], lr=-0.1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum > 0 and zero dampening"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match="invalid beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Adagrad: invalid lr_decay"):
        optim.Adagrad([p], lr_decay=-1)
    with pytest.raises(ValueError, match="RMSprop: invalid alpha"):
        optim.RMSprop([p], alpha=-0.5)
    with pytest.raises(ValueError, match="lists the same tensor twice"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="needs a 'params' entry"):
        optim.SGD([{"lr": 0.1}], lr=0.1)


def test_step_errors_on_mismatched_grad():
    p = tg.Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = tg.Tensor(np.ones(4, np.float32))
    with pytest.raises(
        RuntimeError, match=r"SGD.step: parameter 0 of group 0 has shape \(3,\) but its grad has shape \(4,\)"
    ):
        opt.step()
    p.grad = tg.Tensor(np.ones(3, np.float64))
    with pytest.raises(TypeError, match="is float32 but its grad is float64"):
        opt.step()


def test_zero_grad_and_skipping_params_without_grad():
    p, q = tg.Tensor(np.ones(2), requires_grad=True), tg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([p, q], lr=0.1)
    p.grad = tg.Tensor(np.ones(2))
    old_q, version = q.array.copy(), q._version
    opt.step()
    assert np.array_equal(q.array, old_q) and q._version == version and q not in opt.state and p in opt.state
    assert not np.allclose(p.numpy(), 1.0)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), 0.0)
    assert q.grad is None
    opt.zero_grad()
    assert p.grad is None and q.grad is None


def test_step_writes_into_the_parameter_and_refuses_a_stale_backward():
    p = tg.Tensor(np.ones(3), requires_grad=True)
    alias, array = p.data, p.array
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    g = np.full(3, 2.0)
    p.grad = tg.Tensor(g)
    loss = (p * p).sum()  # saves p for its backward
    opt.step()
    assert p.array is array  # written in place, as PyTorch: views of the parameter see the step
    np.testing.assert_array_equal(alias.numpy(), 0.0)
    np.testing.assert_array_equal(g, 2.0)  # the gradient is read, never written
    np.testing.assert_allclose(p.numpy(), 0.0)
    with pytest.raises(RuntimeError, match=r"input 0 of op 'mul' .*modified by an in-place operation"):
        loss.backward()


def test_closure_is_evaluated_with_grad_and_returned():
    p = tg.Tensor(np.array([3.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with tg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(p.numpy(), [3.0 - 0.25 * 6.0])


def test_adam_learns_least_squares():
    """Adam reaches the exact least-squares solution of a consistent system to within 1e-3 (float32)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((32, 5)).astype(np.float32)
    x_true = rng.standard_normal(5).astype(np.float32)
    b = A @ x_true
    x = tg.Tensor(np.zeros(5, np.float32), requires_grad=True)
    opt = optim.Adam([x], lr=0.05)
    At, bt = tg.Tensor(A), tg.Tensor(b)
    first = None
    for _ in range(600):
        opt.zero_grad()
        loss = ((At @ x - bt) ** 2).mean()
        first = loss.item() if first is None else first
        loss.backward()
        opt.step()
    assert x.dtype == np.float32
    assert loss.item() < 1e-5 * first
    np.testing.assert_allclose(x.numpy(), x_true, atol=1e-3)


def test_adam_and_adamw_weight_decay_defaults_and_coupling():
    """PyTorch's defaults (0 for Adam, 1e-2 for AdamW, an explicit 0 kept), and where the decay acts: with
    a zero gradient AdamW only shrinks θ by (1 − γλ), while Adam's L2 term moves θ by about γ towards 0."""
    p = tg.Tensor(np.array([2.0, -4.0]), requires_grad=True)
    assert optim.Adam([p]).defaults["weight_decay"] == 0.0
    assert optim.AdamW([p]).defaults["weight_decay"] == 1e-2
    assert optim.AdamW([p], weight_decay=0.0).defaults["weight_decay"] == 0.0
    assert optim.Adam([p], 0.1, (0.9, 0.999), 1e-8, 0.5).defaults["weight_decay"] == 0.5
    moved = {}
    for cls in (optim.Adam, optim.AdamW):
        q = tg.Tensor(np.array([2.0, -4.0]), requires_grad=True)
        opt = cls([q], lr=0.1, weight_decay=0.5)
        q.grad = tg.zeros(2, dtype=q.dtype)
        opt.step()
        moved[cls.__name__] = q.numpy()
    np.testing.assert_allclose(moved["AdamW"], np.array([2.0, -4.0]) * (1 - 0.1 * 0.5), rtol=1e-12)
    np.testing.assert_allclose(moved["Adam"], [2.0 - 0.1, -4.0 + 0.1], rtol=1e-6)


# ---- schedulers ----------------------------------------------------------------------------------------
def _sched_pair(torch, make_ours, make_theirs, steps=12):
    ps = [tg.Tensor(np.ones(2), requires_grad=True), tg.Tensor(np.ones(3), requires_grad=True)]
    qs = [torch.ones(2, requires_grad=True), torch.ones(3, requires_grad=True)]
    opt = optim.SGD([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.3}], lr=0.1)
    topt = torch.optim.SGD([{"params": qs[:1]}, {"params": qs[1:], "lr": 0.3}], lr=0.1)
    s, ts = make_ours(opt), make_theirs(topt)
    ours, theirs = [s.get_last_lr()], [ts.get_last_lr()]
    for _ in range(steps):
        opt.step()
        topt.step()
        s.step()
        ts.step()
        ours.append(s.get_last_lr())
        theirs.append(ts.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == ours[-1]
    return ours, theirs


def test_steplr_matches_torch(torch):
    ours, theirs = _sched_pair(
        torch,
        lambda o: optim.StepLR(o, step_size=3, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-15)
    assert ours[3] == [0.05, 0.15] and ours[2] == [0.1, 0.3]


def test_lambdalr_matches_torch(torch):
    f = lambda e: 0.9**e  # noqa: E731
    ours, theirs = _sched_pair(torch, lambda o: optim.LambdaLR(o, f), lambda o: torch.optim.lr_scheduler.LambdaLR(o, f))
    np.testing.assert_allclose(ours, theirs, rtol=1e-15)
    fs = [lambda e: 1.0 / (e + 1), lambda e: min(1.0, (e + 1) / 4)]
    ours, theirs = _sched_pair(
        torch, lambda o: optim.LambdaLR(o, fs), lambda o: torch.optim.lr_scheduler.LambdaLR(o, fs)
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-15)


def test_scheduler_state_dict_round_trip(tmp_path):
    def make():
        p = tg.Tensor(np.ones(2), requires_grad=True)
        opt = optim.SGD([p], lr=1.0)
        return opt, optim.StepLR(opt, step_size=2, gamma=0.1)

    opt, s = make()
    for _ in range(5):
        s.step()
    tg.save({"opt": opt.state_dict(), "sched": s.state_dict()}, tmp_path / "ck.npz")
    ck = tg.load(tmp_path / "ck.npz")
    opt2, s2 = make()
    opt2.load_state_dict(ck["opt"])
    s2.load_state_dict(ck["sched"])
    assert s2.last_epoch == 5 and s2.get_last_lr() == s.get_last_lr()
    for _ in range(3):
        s.step()
        s2.step()
        assert s2.get_last_lr() == s.get_last_lr()
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_lambdalr_state_dict_keeps_callable_object_state():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, e):
            return min(1.0, (e + 1) / self.n)

    opt = optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    sd = optim.LambdaLR(opt, Warmup(4)).state_dict()
    assert sd["lr_lambdas"] == [{"n": 4}]
    w = Warmup(99)
    s2 = optim.LambdaLR(optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0), w)
    s2.load_state_dict(sd)
    assert w.n == 4
    sd_fn = optim.LambdaLR(opt, lambda e: 1.0).state_dict()
    assert sd_fn["lr_lambdas"] == [None]


def test_scheduler_errors_and_aliases():
    opt = optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive int, got 0"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="LambdaLR: expected 1 lr_lambdas"):
        optim.LambdaLR(opt, [lambda e: 1.0, lambda e: 1.0])
    with pytest.raises(TypeError, match="LambdaLR: lr_lambda must be callable"):
        optim.LambdaLR(opt, 0.5)
    with pytest.raises(TypeError, match="StepLR: expected an Optimizer, got list"):
        optim.StepLR([], step_size=1)
    from tinygrad_rnn.optim.lr_scheduler import LambdaLR, StepLR

    assert StepLR is optim.StepLR and LambdaLR is optim.LambdaLR
    assert optim.lr_scheduler.StepLR is optim.StepLR


def test_repr_lists_groups():
    opt = optim.Adam([tg.Tensor(np.ones(1), requires_grad=True)], lr=0.5)
    r = repr(opt)
    assert r.startswith("Adam (") and "lr: 0.5" in r and "amsgrad: False" in r
    assert not math.isnan(opt.param_groups[0]["eps"])
