"""LBFGS against torch.optim.LBFGS in float64: the same iterates, losses and state, with and without the
strong-Wolfe line search, on Rosenbrock, quadratics and a small LSTM regression from copied weights."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import backend, nn, optim

torch = pytest.importorskip("torch")

RTOL = 1e-10  # asked for; on this machine the float64 iterates agree bit for bit on most problems


def _closure(opt, params, loss_fn):
    def closure():
        opt.zero_grad()
        loss = loss_fn(params)
        loss.backward()
        return loss

    return closure


def _state_summary(st):
    keys = ("func_evals", "n_iter", "t", "H_diag", "prev_loss")
    out = {k: float(st[k]) for k in keys if k in st and st[k] is not None}
    out["history"] = len(st.get("old_dirs") or [])
    return out


def _run_pair(x0s, loss_ours, loss_theirs, steps, **kw):
    """Run ``steps`` LBFGS steps in both frameworks; returns per-step (params, loss, state) for each."""
    ps = [tg.Tensor(x.copy(), requires_grad=True) for x in x0s]
    qs = [torch.tensor(x.copy(), requires_grad=True) for x in x0s]
    opt, topt = optim.LBFGS(ps, **kw), torch.optim.LBFGS(qs, **kw)
    c, tc = _closure(opt, ps, loss_ours), _closure(topt, qs, loss_theirs)
    ours, theirs = [], []
    for _ in range(steps):
        lo = opt.step(c)
        lt = topt.step(tc)
        ours.append(([p.numpy().copy() for p in ps], float(lo), _state_summary(opt.state[ps[0]])))
        theirs.append(([q.detach().numpy().copy() for q in qs], float(lt.detach()), _state_summary(topt.state[qs[0]])))
    return ours, theirs, opt, topt


def _assert_close(a, b, rtol=RTOL, what=""):
    """Norm-wise relative agreement, max|a - b| <= rtol * max|b|: a converged iterate's tiny coordinates
    come from cancellations (differences of nearly equal gradients) and carry rounding noise of the
    parameters' scale, not their own."""
    a, b = (np.asarray(backend.to_numpy(v) if backend.is_array(v) else v, dtype=float) for v in (a, b))
    err, scale = float(np.max(np.abs(a - b), initial=0.0)), float(np.max(np.abs(b), initial=0.0))
    assert err <= rtol * scale + 1e-300, f"{what}: max|diff| {err:.2e} > {rtol:.0e} * max|x| {scale:.2e}"


def _assert_same(ours, theirs, rtol=RTOL, atol=1e-14):
    for k, ((p, lo, so), (q, lt, st)) in enumerate(zip(ours, theirs)):
        for a, b in zip(p, q):
            _assert_close(a, b, rtol, f"step {k}")
        assert lo == pytest.approx(lt, rel=rtol, abs=atol), f"step {k}"
        assert so["func_evals"] == st["func_evals"] and so["n_iter"] == st["n_iter"], f"step {k}: {so} vs {st}"
        assert so["history"] == st["history"], f"step {k}"
        for key in ("t", "H_diag", "prev_loss"):
            if key in st:
                assert so[key] == pytest.approx(st[key], rel=rtol, abs=atol), f"step {k} {key}"


def rosenbrock(ps):
    x = ps[0]
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosenbrock_nd(ps):
    x = ps[0]
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


@pytest.mark.parametrize(
    "kw",
    [
        dict(line_search_fn="strong_wolfe"),
        dict(line_search_fn="strong_wolfe", history_size=3),
        dict(line_search_fn="strong_wolfe", max_iter=7, max_eval=9),
        dict(line_search_fn="strong_wolfe", lr=0.5, tolerance_change=1e-12),
        dict(lr=0.1),
        dict(lr=0.02, history_size=5),
        dict(lr=0.1, max_iter=3),
    ],
    ids=repr,
)
@pytest.mark.parametrize("x0", [[-1.5, 2.0], [1.2, 1.2], [-0.5, -0.8]], ids=repr)
def test_rosenbrock_2d(kw, x0):
    ours, theirs, _, _ = _run_pair([np.array(x0)], rosenbrock, rosenbrock, steps=12, **kw)
    _assert_same(ours, theirs)


def _torch_self_deviation(x0s, loss_fn, steps, **kw):
    """How far torch's own iterates move when every starting coordinate changes by one ulp, per step."""

    def run(xs):
        qs = [torch.tensor(x.copy(), requires_grad=True) for x in xs]
        topt = torch.optim.LBFGS(qs, **kw)
        c = _closure(topt, qs, loss_fn)
        out = []
        for _ in range(steps):
            topt.step(c)
            out.append([q.detach().numpy().copy() for q in qs])
        return out

    a, b = run(x0s), run([np.nextafter(x, np.inf) for x in x0s])
    return [max(float(np.max(np.abs(u - v))) for u, v in zip(pa, pb)) for pa, pb in zip(a, b)]


def _quadratic(n=30, cond=10.0, seed=1):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (q * np.geomspace(1, cond, n)) @ q.T
    b = rng.standard_normal(n)
    return A, b


def _quadratic_losses(cond):
    A, b = _quadratic(cond=cond)
    At, bt = tg.Tensor(A), tg.Tensor(b)
    Aq, bq = torch.tensor(A), torch.tensor(b)

    def f(ps, A, b, cat):
        x = cat(ps)
        return 0.5 * (x * (A @ x)).sum() - (b * x).sum()

    return (
        lambda ps: f(ps, At, bt, lambda ps: tg.cat([ps[0], ps[1].reshape(-1)])),
        lambda ps: f(ps, Aq, bq, lambda ps: torch.cat([ps[0], ps[1].reshape(-1)])),
    )


QUAD_KW = [
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=4, max_iter=10),
    dict(lr=1e-2),
    dict(lr=5e-3, history_size=2, max_iter=40, max_eval=30),
]
QUAD_X0 = [0.1 * np.arange(12.0), np.ones((3, 6))]


@pytest.mark.parametrize("kw", QUAD_KW, ids=repr)
def test_well_conditioned_quadratic_with_two_parameters(kw):
    ours_f, theirs_f = _quadratic_losses(cond=10.0)
    ours, theirs, _, _ = _run_pair(QUAD_X0, ours_f, theirs_f, steps=8, **kw)
    _assert_same(ours, theirs)


# Ill-conditioned problems amplify rounding: there torch's own iterates move by up to 1e-7 when the start
# moves by one ulp, and the dot products and sums here round differently from torch's (other summation
# orders). The test: this library stays as close to torch as torch stays to itself.
ILL = [
    ("rosenbrock-10d-wolfe", dict(line_search_fn="strong_wolfe", history_size=8)),
    ("rosenbrock-10d-fixed", dict(lr=0.05, history_size=8)),
    ("quadratic-cond1e3-wolfe", dict(line_search_fn="strong_wolfe")),
    ("quadratic-cond1e3-wolfe-short-history", dict(line_search_fn="strong_wolfe", history_size=4, max_iter=10)),
    ("quadratic-cond1e3-fixed", dict(lr=1e-3)),
]


@pytest.mark.parametrize("name, kw", ILL, ids=[n for n, _ in ILL])
def test_ill_conditioned_problems_stay_within_torchs_own_rounding_sensitivity(name, kw):
    if name.startswith("rosenbrock"):
        x0s, fo, ft, steps = [np.random.default_rng(0).uniform(-2, 2, 10)], rosenbrock_nd, rosenbrock_nd, 5
    else:
        (fo, ft), x0s, steps = _quadratic_losses(cond=1e3), QUAD_X0, 8
    ours, theirs, _, _ = _run_pair(x0s, fo, ft, steps=steps, **kw)
    sens = _torch_self_deviation(x0s, ft, steps, **kw)
    for k, ((p, _, _), (q, _, _)) in enumerate(zip(ours, theirs)):
        dev = max(float(np.max(np.abs(a - b))) for a, b in zip(p, q))
        assert dev <= max(1e-12, 100 * sens[k]), f"step {k}: deviation {dev:.1e}, torch's own {sens[k]:.1e}"


class _TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 6, batch_first=True)
        self.head = torch.nn.Linear(6, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 6, batch_first=True)
        self.head = nn.Linear(6, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


@pytest.mark.parametrize(
    "kw",
    [dict(line_search_fn="strong_wolfe", max_iter=10), dict(lr=0.2, max_iter=10), dict(lr=0.5, history_size=4)],
    ids=repr,
)
def test_small_lstm_regression_from_copied_weights(kw):
    """The goal case: the same program, the same initial weights, the same losses step after step."""
    torch.manual_seed(0)
    tnet = _TorchNet().double()
    tg.set_default_dtype("float64")
    net = _Net()
    net.load_state_dict({k: v.detach().numpy().copy() for k, v in tnet.state_dict().items()})
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 7, 3))
    y = np.sin(x.sum(axis=(1, 2)))[:, None]
    xt, yt, xq, yq = tg.Tensor(x), tg.Tensor(y), torch.tensor(x), torch.tensor(y)
    opt = optim.LBFGS(net.parameters(), **kw)
    topt = torch.optim.LBFGS(tnet.parameters(), **kw)

    def closure():
        opt.zero_grad()
        loss = ((net(xt) - yt) ** 2).mean()
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = ((tnet(xq) - yq) ** 2).mean()
        loss.backward()
        return loss

    losses, tlosses = [], []
    for _ in range(6):
        losses.append(float(opt.step(closure)))
        tlosses.append(float(topt.step(tclosure).detach()))
    # the fit becomes exact (loss ~1e-10), so the loss is compared relative to its starting size
    np.testing.assert_allclose(losses, tlosses, rtol=RTOL, atol=1e-12 * losses[0])
    assert losses[-1] < 1e-3 * losses[0]
    for (name, p), (tname, q) in zip(net.named_parameters(), tnet.named_parameters()):
        assert name == tname
        _assert_close(p.numpy(), q.detach().numpy(), RTOL, name)
    st, tst = opt.state[next(net.parameters())], topt.state[next(tnet.parameters())]
    assert (st["func_evals"], st["n_iter"]) == (tst["func_evals"], tst["n_iter"])


def test_parameters_without_gradients_count_as_zero_and_history_state_matches():
    x0 = np.array([-1.2, 1.0])
    extra = np.array([0.3, -0.7, 1.1])
    ours, theirs, opt, topt = _run_pair(
        [x0, extra], rosenbrock, rosenbrock, steps=5, line_search_fn="strong_wolfe", history_size=4
    )
    _assert_same(ours, theirs)
    np.testing.assert_array_equal(ours[-1][0][1], extra)  # never moved
    st = opt.state[opt.param_groups[0]["params"][0]]
    tst = topt.state[topt.param_groups[0]["params"][0]]
    assert set(st) == set(tst)
    for key in ("d", "prev_flat_grad"):
        _assert_close(st[key], tst[key].numpy(), RTOL, key)
    for key in ("old_dirs", "old_stps"):
        for a, b in zip(st[key], tst[key]):
            _assert_close(a, b.numpy(), RTOL, key)
    np.testing.assert_allclose(st["ro"], [float(r) for r in tst["ro"]], rtol=RTOL)


def test_returns_the_first_loss_and_early_exit_at_an_optimum_like_torch():
    for ls in (None, "strong_wolfe"):
        ours, theirs, _, _ = _run_pair([np.array([1.0, 1.0])], rosenbrock, rosenbrock, steps=3, line_search_fn=ls)
        _assert_same(ours, theirs)
        assert ours[-1][2] == {"func_evals": 3.0, "n_iter": 0.0, "history": 0}


def test_lr_as_a_one_element_tensor():
    x0 = np.array([-1.0, 1.5])
    p, q = tg.Tensor(x0.copy(), requires_grad=True), torch.tensor(x0.copy(), requires_grad=True)
    opt = optim.LBFGS([p], lr=tg.tensor(0.3))
    topt = torch.optim.LBFGS([q], lr=torch.tensor(0.3))
    for _ in range(3):
        opt.step(_closure(opt, [p], rosenbrock))
        topt.step(_closure(topt, [q], rosenbrock))
    _assert_close(p.numpy(), q.detach().numpy(), RTOL, "x")


def test_float32_stays_float32_and_stays_close_to_torch():
    """float32: PyTorch does the scalar arithmetic in float32 and this library in float64, so agreement is
    to float32 rounding growth, not bits."""
    x0 = np.array([-1.5, 2.0], np.float32)
    ours, theirs, opt, _ = _run_pair([x0], rosenbrock, rosenbrock, steps=3, line_search_fn="strong_wolfe")
    assert ours[-1][0][0].dtype == np.float32
    st = opt.state[opt.param_groups[0]["params"][0]]
    assert st["d"].dtype == np.float32 and st["prev_flat_grad"].dtype == np.float32
    np.testing.assert_allclose(ours[0][0][0], theirs[0][0][0], rtol=1e-3)


def test_errors_match_torch():
    p, q = tg.Tensor(np.ones(2), requires_grad=True), torch.ones(2, requires_grad=True)
    r, s = tg.Tensor(np.ones(2), requires_grad=True), torch.ones(2, requires_grad=True)
    with pytest.raises(ValueError) as ours:
        optim.LBFGS([{"params": [p]}, {"params": [r]}])
    with pytest.raises(ValueError) as theirs:
        torch.optim.LBFGS([{"params": [q]}, {"params": [s]}])
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError) as ours:
        optim.LBFGS([p], lr=tg.tensor([0.1, 0.2]))
    with pytest.raises(ValueError) as theirs:
        torch.optim.LBFGS([q], lr=torch.tensor([0.1, 0.2]))
    assert str(ours.value) == str(theirs.value)


def test_defaults_match_torch():
    p, q = tg.Tensor(np.ones(2), requires_grad=True), torch.ones(2, requires_grad=True)
    ours, theirs = optim.LBFGS([p]).defaults, torch.optim.LBFGS([q]).defaults
    assert ours == theirs
    assert optim.LBFGS([p], max_iter=9).defaults["max_eval"] == torch.optim.LBFGS([q], max_iter=9).defaults["max_eval"]
