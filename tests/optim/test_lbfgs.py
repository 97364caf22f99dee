"""LBFGS without torch: convergence, closure semantics, budgets, state and state dicts, errors; the
strong-Wolfe line search and cubic interpolation; the single-rounding axpy."""

import math
from fractions import Fraction

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import backend, optim
from tinygrad_rnn.optim.fma import axpy
from tinygrad_rnn.optim.line_search import cubic_interpolate, strong_wolfe


def _problem(n=8, cond=50.0, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (q * np.geomspace(1, cond, n)) @ q.T
    b = rng.standard_normal(n)
    return A.astype(dtype), b.astype(dtype)


def _setup(ls=None, dtype=np.float64, **kw):
    A, b = _problem(dtype=dtype)
    x = tg.Tensor(np.zeros(8, dtype), requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn=ls, **kw)
    At, bt = tg.Tensor(A), tg.Tensor(b)
    calls = []

    def closure():
        calls.append(x.numpy().copy())
        opt.zero_grad()
        loss = 0.5 * (x * (At @ x)).sum() - (bt * x).sum()
        loss.backward()
        return loss

    return x, opt, closure, calls, np.linalg.solve(A.astype(np.float64), b.astype(np.float64))


@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
def test_solves_a_quadratic(ls):
    tol = dict(tolerance_grad=1e-11, tolerance_change=1e-15)  # the defaults stop at a looser optimum
    x, opt, closure, _, x_star = _setup(ls, lr=1.0 if ls else 0.05, max_iter=100, **tol)
    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(x.numpy(), x_star, rtol=1e-6, atol=1e-8)


def test_rosenbrock_with_line_search_converges():
    x = tg.Tensor(np.array([-1.5, 2.0]), requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe", tolerance_grad=1e-10, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=1e-6)


def test_step_returns_the_first_closure_result_and_counts_evaluations():
    x, opt, closure, calls, _ = _setup(lr=0.01, max_iter=6)
    first = []

    def wrapped():
        loss = closure()
        first.append(loss)
        return loss

    out = opt.step(wrapped)
    assert out is first[0]
    # no line search: one evaluation per iteration, none after the last one
    assert len(calls) == 6
    st = opt.state[x]
    assert st["func_evals"] == 6 and st["n_iter"] == 6 and len(st["old_dirs"]) == 5
    np.testing.assert_array_equal(calls[0], 0.0)


@pytest.mark.parametrize("max_iter, max_eval", [(20, 25), (10, 4), (50, 7), (3, None)])
def test_line_search_respects_the_evaluation_budget(max_iter, max_eval):
    x, opt, closure, calls, _ = _setup("strong_wolfe", max_iter=max_iter, max_eval=max_eval)
    opt.step(closure)
    budget = max_eval if max_eval is not None else max_iter * 5 // 4
    assert len(calls) <= budget
    assert opt.state[x]["func_evals"] == len(calls)
    assert opt.state[x]["n_iter"] <= max_iter


def test_history_size_bounds_the_memory():
    x, opt, closure, _, _ = _setup(lr=0.01, max_iter=30, history_size=3, tolerance_change=0.0)
    opt.step(closure)
    st = opt.state[x]
    assert len(st["old_dirs"]) == len(st["old_stps"]) == len(st["ro"]) == 3
    assert len(st["al"]) == 3


def test_an_optimum_returns_at_once():
    x = tg.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.LBFGS([x])

    def closure():
        opt.zero_grad()
        loss = ((x - tg.Tensor(np.array([1.0, -2.0]))) ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0.0
    assert opt.state[x] == {"func_evals": 1, "n_iter": 0}
    np.testing.assert_array_equal(x.numpy(), [1.0, -2.0])


def test_parameters_are_written_in_place_and_frozen_ones_stay():
    x, opt, closure, _, _ = _setup(lr=0.01, max_iter=3)
    old, view, version = x.array, x.data, x._version
    snapshot = backend.to_numpy(old).copy()  # on the host, compared with .numpy() below
    opt.step(closure)
    assert x.array is old and x._version > version  # written into the parameter's memory, as PyTorch
    assert not np.array_equal(view.numpy(), snapshot) and np.array_equal(view.numpy(), x.numpy())

    a = tg.Tensor(np.array([2.0]), requires_grad=True)
    frozen = tg.Tensor(np.array([5.0, 6.0]), requires_grad=True)
    opt2 = optim.LBFGS([frozen, a], line_search_fn="strong_wolfe")

    def closure2():
        opt2.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    opt2.step(closure2)
    assert abs(a.item()) < 1e-6
    np.testing.assert_array_equal(frozen.numpy(), [5.0, 6.0])
    assert set(opt2.state) == {frozen}  # the state lives under the first parameter, as in PyTorch


def test_closure_runs_with_grad_enabled_under_no_grad():
    x, opt, closure, _, _ = _setup(max_iter=2)
    with tg.no_grad():
        opt.step(closure)
    assert opt.state[x]["func_evals"] >= 2


@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
def test_float32_stays_float32(ls):
    x, opt, closure, _, x_star = _setup(ls, dtype=np.float32, lr=1.0 if ls else 0.05, max_iter=60)
    for _ in range(2):
        opt.step(closure)
    assert x.dtype == np.float32 and x.data.dtype == np.float32
    st = opt.state[x]
    assert st["d"].dtype == np.float32 and all(v.dtype == np.float32 for v in st["old_dirs"])
    assert isinstance(st["t"], float) and isinstance(st["H_diag"], float)
    np.testing.assert_allclose(x.numpy(), x_star, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
def test_state_dict_round_trip_through_save_continues_identically(tmp_path, ls):
    kw = dict(lr=1.0 if ls else 0.02, max_iter=4, history_size=3)
    x, opt, closure, _, _ = _setup(ls, **kw)
    opt.step(closure)
    opt.step(closure)
    sd = opt.state_dict()
    assert set(sd["state"]) == {"0"}
    keys = {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss"}
    assert keys <= set(sd["state"]["0"])
    tg.save({"opt": sd, "x": x.numpy()}, tmp_path / "ck.npz")
    n_iter, history = opt.state[x]["n_iter"], list(opt.state[x]["old_dirs"])
    opt.step(closure)
    want = x.numpy().copy()
    # the state dict is a snapshot: the step after it changed neither its counters nor its history list
    assert sd["state"]["0"]["n_iter"] == n_iter < opt.state[x]["n_iter"]
    assert all(a is b for a, b in zip(sd["state"]["0"]["old_dirs"], history))
    assert len(sd["state"]["0"]["old_dirs"]) == len(history)

    ck = tg.load(tmp_path / "ck.npz")
    y, opt2, closure2, _, _ = _setup(ls, **kw)
    y.data = tg.Tensor(ck["x"]).data
    opt2.load_state_dict(ck["opt"])
    opt2.step(closure2)
    np.testing.assert_array_equal(y.numpy(), want)
    assert opt2.state[y]["n_iter"] == opt.state[x]["n_iter"]


def test_load_state_dict_errors():
    x, opt, closure, _, _ = _setup(max_iter=2)
    opt.step(closure)
    sd = opt.state_dict()
    bad = {"state": {"0": {**sd["state"]["0"], "d": np.zeros(3)}}, "param_groups": sd["param_groups"]}
    with pytest.raises(ValueError, match="state 'd' has shape \\(3,\\), expected \\(8,\\)"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="state has keys \\['bogus'\\]"):
        opt.load_state_dict({"state": {"0": {"bogus": 1}}, "param_groups": sd["param_groups"]})
    x2 = tg.Tensor(np.zeros(2), requires_grad=True)
    y2 = tg.Tensor(np.zeros(2), requires_grad=True)
    opt2 = optim.LBFGS([x2, y2])
    with pytest.raises(ValueError, match="keeps its state under parameter 0, got state for parameter 1"):
        opt2.load_state_dict(
            {"state": {"1": {"func_evals": 1, "n_iter": 0}}, "param_groups": opt2.state_dict()["param_groups"]}
        )


def test_errors():
    p = tg.Tensor(np.ones(2), requires_grad=True)
    q = tg.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options \\(parameter groups\\)"):
        optim.LBFGS([{"params": [p]}, {"params": [q], "lr": 0.1}])
    opt = optim.LBFGS([p])
    opt.add_param_group({"params": [q]})
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        opt.step(lambda: 0.0)
    with pytest.raises(TypeError, match="LBFGS.step: needs a closure"):
        optim.LBFGS([p]).step()
    with pytest.raises(ValueError, match="invalid line_search_fn 'backtracking'"):
        optim.LBFGS([p], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="invalid learning rate -1"):
        optim.LBFGS([p], lr=-1)
    with pytest.raises(ValueError, match="invalid max_iter 0"):
        optim.LBFGS([p], max_iter=0)
    with pytest.raises(ValueError, match="invalid history_size 2.5"):
        optim.LBFGS([p], history_size=2.5)
    assert optim.LBFGS([p], max_iter=8, max_eval=10.0).defaults["max_eval"] == 10.0
    assert optim.LBFGS([p], max_iter=9).defaults["max_eval"] == 11


@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
def test_plain_numpy_updates_agree_to_rounding(ls):
    runs = []
    for fma in (True, False):
        x, opt, closure, _, _ = _setup(ls, lr=1.0 if ls else 0.02, max_iter=10)
        opt.fma_updates = fma
        for _ in range(3):
            opt.step(closure)
        runs.append(x.numpy().copy())
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-9, atol=1e-12)
    assert optim.LBFGS.fma_updates is True


def test_defaults_and_repr():
    opt = optim.LBFGS([tg.Tensor(np.ones(2), requires_grad=True)])
    assert opt.defaults == dict(
        lr=1,
        max_iter=20,
        max_eval=25,
        tolerance_grad=1e-7,
        tolerance_change=1e-9,
        history_size=100,
        line_search_fn=None,
    )
    assert repr(opt).startswith("LBFGS (") and "history_size: 100" in repr(opt)


# ---- the line search --------------------------------------------------------------------------------
def test_cubic_interpolation_finds_a_cubics_minimum():
    f = lambda x: (x - 1.0) * (x - 1.0) * (x + 2.0)  # local minimum at x = 1
    df = lambda x: 3 * x * x - 3.0
    x = cubic_interpolate(0.0, f(0.0), df(0.0), 2.0, f(2.0), df(2.0))
    assert x == pytest.approx(1.0, abs=1e-12)
    assert cubic_interpolate(2.0, f(2.0), df(2.0), 0.0, f(0.0), df(0.0)) == pytest.approx(1.0, abs=1e-12)
    # clipped to the bounds, and the midpoint when the cubic has no minimum
    assert cubic_interpolate(0.0, f(0.0), df(0.0), 2.0, f(2.0), df(2.0), bounds=(1.5, 3.0)) == 1.5
    assert cubic_interpolate(0.0, 0.0, 1.0, 1.0, 2.0, 5.0, bounds=(0.0, 4.0)) == 2.0
    # a quadratic through the points: exact minimiser
    q = lambda x: (x - 0.3) ** 2
    assert cubic_interpolate(0.0, q(0.0), -0.6, 1.0, q(1.0), 1.4) == pytest.approx(0.3, abs=1e-12)
    # coincident points: 0/0 is NaN as in a tensor division (no ZeroDivisionError), so the midpoint
    assert cubic_interpolate(1.0, 1.0, -1.0, 1.0, 1.0, -1.0) == 1.0
    assert math.isnan(cubic_interpolate(1.0, 2.0, -1.0, 1.0, 1.0, -1.0, bounds=(0.0, 3.0)))  # inf·0, as IEEE


@pytest.mark.parametrize("t0", [1e-3, 0.5, 1.0, 10.0])
def test_strong_wolfe_returns_a_step_satisfying_the_conditions(t0):
    # phi(t) = f(x + t d) along d for f(x) = sum((x - c)^4) + (x . x): smooth and convex
    c = np.array([1.0, -2.0, 0.5])
    f = lambda x: float(np.sum((x - c) ** 4) + x @ x)
    g = lambda x: 4 * (x - c) ** 3 + 2 * x
    x0 = np.zeros(3)
    d = -g(x0)
    evals = []

    def obj(x, t, d):
        evals.append(t)
        return f(x + t * d), g(x + t * d)

    f_new, g_new, t, n = strong_wolfe(obj, x0, t0, d, f(x0), g(x0), float(g(x0) @ d))
    gtd0 = float(g(x0) @ d)
    assert f_new <= f(x0) + 1e-4 * t * gtd0
    assert abs(float(g_new @ d)) <= -0.9 * gtd0
    assert n == len(evals) and f_new == f(x0 + t * d)
    np.testing.assert_array_equal(g_new, g(x0 + t * d))


def test_strong_wolfe_stops_at_max_ls():
    calls = []

    def obj(x, t, d):  # always "still descending steeply": extrapolation never ends by itself
        calls.append(t)
        return -t * 10.0, np.array([-10.0])

    f, g, t, n = strong_wolfe(obj, np.zeros(1), 1.0, np.array([1.0]), 0.0, np.array([-10.0]), -10.0, max_ls=5)
    assert n == len(calls) == 6 and t == calls[-1]  # the first evaluation plus max_ls extrapolations


# ---- the single-rounding axpy (on backend arrays, as the optimizers call it) ----------------------------
_dev, _on_host = tg.backend.to_backend, tg.backend.to_numpy


def _exact(x, alpha, y, dtype):
    return np.array(
        [float(Fraction(float(a)) + Fraction(float(dtype(alpha))) * Fraction(float(b))) for a, b in zip(x, y)]
    ).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_axpy_is_correctly_rounded(dtype):
    rng = np.random.default_rng(2)
    n = 3000
    x = (rng.standard_normal(n) * np.exp(rng.uniform(-15, 15, n))).astype(dtype)
    y = (rng.standard_normal(n) * np.exp(rng.uniform(-15, 15, n))).astype(dtype)
    alpha = -0.7391208519
    x[:1000] = (-(np.float64(alpha) * y[:1000].astype(np.float64))).astype(dtype)  # cancellation: the hard cases
    got = _on_host(axpy(_dev(x), alpha, _dev(y)))
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, _exact(x, alpha, y, dtype))
    assert np.any(got != x + dtype(alpha) * y)  # the separate multiply-and-add does round twice


def test_axpy_special_values():
    x = np.array([np.inf, np.nan, 1.0, 1e300, -0.0, 0.0])
    y = np.array([1.0, 1.0, np.inf, 1e300, 0.0, -0.0])
    got = _on_host(axpy(_dev(x), 2.0, _dev(y)))
    want = x + 2.0 * y
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    ints = _dev(np.ones(3, np.int64))
    assert _on_host(axpy(ints, 2.0, ints)).tolist() == [3.0, 3.0, 3.0]
