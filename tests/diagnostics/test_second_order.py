"""Second-order tools (tinygrad_rnn.diagnostics.second_order): HVPs against finite differences of gradients
and closed forms, CG, truncated Newton, Gauss–Newton products and power iteration, all in float64."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from example_loader import load_example
from gradcheck_helpers import float64_default  # noqa: F401  (the fixture applies here)

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn
from tinygrad_rnn.diagnostics import second_order as so

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _example_main():
    """The example's main, loaded by path (examples/ is not a package), as tests/examples/test_examples.py does."""
    return load_example("pathologies_second_order").main


def _fd_hvp(loss_fn, params, vs, eps=1e-5):
    """Central difference of gradients along v: (∇L(θ + εv) − ∇L(θ − εv)) / 2ε ≈ H v (error O(ε²))."""
    start = [p.numpy().copy() for p in params]  # on the host, like v and the gradients; p.data = copies it over

    def grads_at(sign):
        for p, s, v in zip(params, start, vs):
            p.data = s + sign * eps * v
        return so.gradient(loss_fn, params)[1]

    gp, gm = grads_at(1.0), grads_at(-1.0)
    for p, s in zip(params, start):
        p.data = s
    return [(a - b) / (2 * eps) for a, b in zip(gp, gm)]


def _assert_hvp_matches_fd(loss_fn, params, rng):
    vs = [rng.standard_normal(p.shape) for p in params]
    hv = so.hvp(loss_fn, params, vs)
    fd = _fd_hvp(loss_fn, params, vs)
    for h, f in zip(hv, fd):
        assert h.shape == f.shape
        np.testing.assert_allclose(h, f, rtol=1e-5, atol=1e-7)
    assert max(np.abs(h).max() for h in hv) > 1e-3  # not trivially zero


# ---------------------------------------------------------------------------------------------------
# HVP correctness
# ---------------------------------------------------------------------------------------------------
def test_hvp_mlp_matches_finite_difference(rng):
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    x, y = tg.Tensor(rng.standard_normal((6, 3))), tg.Tensor(rng.standard_normal((6, 2)))
    _assert_hvp_matches_fd(lambda: F.mse_loss(model(x), y), list(model.parameters()), rng)


@pytest.mark.parametrize("fused", [None, False], ids=["fused-default", "unfused"])
def test_hvp_rnn_layer_matches_finite_difference(rng, fused):
    # None = the layer's default (fused); the double backward then runs through the composed definition
    rnn, head = nn.RNN(2, 4, fused=fused).double(), nn.Linear(4, 1).double()
    x, y = tg.Tensor(rng.standard_normal((5, 3, 2))), tg.Tensor(rng.standard_normal((5, 3, 1)))

    def loss_fn():
        out, _ = rnn(x)
        return F.mse_loss(head(out.reshape(15, 4)).reshape(5, 3, 1), y)

    _assert_hvp_matches_fd(loss_fn, list(rnn.parameters()) + list(head.parameters()), rng)


def test_hvp_fused_and_unfused_rnn_agree(rng):
    # the same weights through both paths must give the same curvature, not just each a plausible one
    a, b = nn.RNN(2, 3).double(), nn.RNN(2, 3, fused=False).double()
    b.load_state_dict(a.state_dict())
    x = tg.Tensor(rng.standard_normal((4, 2, 2)))
    vs = [rng.standard_normal(p.shape) for p in a.parameters()]
    ha = so.hvp(lambda: (a(x)[0] ** 2).sum(), list(a.parameters()), vs)
    hb = so.hvp(lambda: (b(x)[0] ** 2).sum(), list(b.parameters()), vs)
    for u, w in zip(ha, hb):
        np.testing.assert_allclose(u, w, rtol=1e-10, atol=1e-12)


def test_hvp_rnn_cell_loop_matches_finite_difference(rng):
    cell, head = nn.RNNCell(2, 3).double(), nn.Linear(3, 1).double()
    xs = [tg.Tensor(rng.standard_normal((4, 2))) for _ in range(5)]
    y = tg.Tensor(rng.standard_normal((4, 1)))

    def loss_fn():
        h = None
        for x in xs:
            h = cell(x, h)
        return F.mse_loss(head(h), y)

    _assert_hvp_matches_fd(loss_fn, list(cell.parameters()) + list(head.parameters()), rng)


def test_hvp_of_quadratic_is_exact(rng):
    M = rng.standard_normal((6, 6))
    A = M + M.T  # symmetric, indefinite
    At = tg.Tensor(A)
    x = tg.Tensor(rng.standard_normal(6), requires_grad=True)
    v = rng.standard_normal(6)
    (hv,) = so.hvp(lambda: 0.5 * (x * (At @ x)).sum(), [x], [v])
    np.testing.assert_allclose(hv, A @ v, rtol=1e-12, atol=1e-12)


def test_hvp_linear_parameter_gives_zero_block(rng):
    # b enters linearly: its Hessian rows are zero (its gradient has no graph), and the other block is exact
    w = tg.Tensor(rng.standard_normal(3), requires_grad=True)
    b = tg.Tensor(np.array(0.5), requires_grad=True)
    hw, hb = so.hvp(lambda: (w * w).sum() + b * 3.0, [w, b], [np.ones(3), np.array(1.0)])
    np.testing.assert_allclose(hw, 2 * np.ones(3))
    assert float(hb) == 0.0


def test_flat_unflat_round_trip(rng):
    params = [tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in [(2, 3), (4,), ()]]
    v = so.flat(params)
    assert v.shape == (11,)
    for a, p in zip(so.unflat(v, params), params):
        np.testing.assert_array_equal(a, p.numpy())


# ---------------------------------------------------------------------------------------------------
# CG, power iteration, Gauss–Newton
# ---------------------------------------------------------------------------------------------------
def test_conjugate_gradient_solves_spd_system(rng):
    M = rng.standard_normal((8, 8))
    A = M @ M.T + 0.5 * np.eye(8)
    b = rng.standard_normal(8)
    x, st = so.conjugate_gradient(lambda v: A @ v, b, iters=50, tol=1e-12)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-8, atol=1e-10)
    assert st["relative_residual"] <= 1e-12 and st["iters"] <= 50 and not st["negative_curvature"]
    # damping solves (A + λI) x = b
    xd, _ = so.conjugate_gradient(lambda v: A @ v, b, iters=50, tol=1e-12, damping=2.0)
    np.testing.assert_allclose(xd, np.linalg.solve(A + 2.0 * np.eye(8), b), rtol=1e-8, atol=1e-10)


def test_conjugate_gradient_stops_at_negative_curvature():
    x, st = so.conjugate_gradient(lambda v: -v, np.ones(3), iters=10)
    assert st["negative_curvature"] and st["iters"] == 1
    np.testing.assert_array_equal(x, np.zeros(3))


def test_power_iteration_on_known_quadratic(rng):
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    A = Q @ np.diag([5.0, -3.0, 2.0, 1.0, 0.5, 0.1]) @ Q.T
    At = tg.Tensor(A)
    x = tg.Tensor(rng.standard_normal(6), requires_grad=True)
    res = so.hessian_top_eigenvalues(lambda: 0.5 * (x * (At @ x)).sum(), [x], k=3, iters=300, tol=1e-13)
    ev = np.linalg.eigvalsh(A)
    want = ev[np.argsort(-np.abs(ev))][:3]  # largest magnitude first: 5, -3, 2
    np.testing.assert_allclose(res["eigenvalues"], want, rtol=1e-6)
    assert res["hvps"] == sum(res["iters"])


def test_power_iteration_on_tiny_model_hessian(rng):
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    x, y = tg.Tensor(rng.standard_normal((8, 2))), tg.Tensor(rng.standard_normal((8, 1)))
    params = list(model.parameters())
    loss_fn = lambda: F.mse_loss(model(x), y)
    n = sum(p.numel() for p in params)
    # the full Hessian, one column per HVP with a unit vector
    H = np.stack([so.flat(so.hvp(loss_fn, params, so.unflat(np.eye(n)[j], params))) for j in range(n)], axis=1)
    np.testing.assert_allclose(H, H.T, atol=1e-10)
    ev = np.linalg.eigvalsh(H)
    want = ev[np.argsort(-np.abs(ev))][:2]
    res = so.hessian_top_eigenvalues(loss_fn, params, k=2, iters=1000, tol=1e-12)
    np.testing.assert_allclose(res["eigenvalues"], want, rtol=1e-4)


def test_gauss_newton_equals_hessian_for_linear_residual_and_is_psd(rng):
    X, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 1))
    lin = nn.Linear(3, 1).double()
    xt, yt = tg.Tensor(X), tg.Tensor(y)
    ps = list(lin.parameters())
    vs = [rng.standard_normal(p.shape) for p in ps]
    gv = so.gauss_newton_vector_product(lambda: lin(xt) - yt, ps, vs)
    hv = so.hvp(lambda: F.mse_loss(lin(xt), yt), ps, vs)
    for a, b in zip(gv, hv):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # a nonlinear model: the Hessian is indefinite somewhere, G never is (vᵀGv = (2/m)‖Jv‖² ≥ 0)
    mlp = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    mp = list(mlp.parameters())
    for _ in range(5):
        v = [rng.standard_normal(p.shape) for p in mp]
        assert so.flat(v) @ so.flat(so.gauss_newton_vector_product(lambda: mlp(xt) - yt, mp, v)) >= 0


# ---------------------------------------------------------------------------------------------------
# truncated Newton
# ---------------------------------------------------------------------------------------------------
def _least_squares(rng):
    # ill-conditioned design (column scales 1..30) so that one gradient step is poor
    X = rng.standard_normal((40, 5)) * np.array([1.0, 3.0, 10.0, 20.0, 30.0])
    y = X @ rng.standard_normal(5) + 0.1 * rng.standard_normal(40)
    w = tg.Tensor(np.zeros(5), requires_grad=True)
    Xt, yt = tg.Tensor(X), tg.Tensor(y)
    loss_fn = lambda: ((Xt @ w - yt) ** 2).mean()
    wstar = np.linalg.lstsq(X, y, rcond=None)[0]
    lstar = float(np.mean((X @ wstar - y) ** 2))
    return w, loss_fn, lstar, X, Xt, yt


def test_one_truncated_newton_step_nearly_solves_least_squares(rng):
    w, loss_fn, lstar, X, _, _ = _least_squares(rng)
    st = so.truncated_newton_step(loss_fn, [w], cg_iters=5, damping=0.0)
    gap0, gap1 = st["loss_before"] - lstar, st["loss_after"] - lstar
    assert gap1 <= 1e-8 * gap0  # CG in 5 = dim steps is exact on a quadratic, up to rounding
    assert st["grad_evals"] <= 6 and not st["fallback"]
    # one SGD step with the best safe rate 1/λ_max (λ_max of H = 2XᵀX/m) removes well under half the gap
    w2, loss_fn2, _, _, _, _ = _least_squares(np.random.default_rng(1234))
    _, g = so.gradient(loss_fn2, [w2])
    lr = 1.0 / np.linalg.eigvalsh(2 * X.T @ X / 40).max()
    w2.data = w2.data - lr * g[0]
    assert float(loss_fn2().item()) - lstar >= 0.5 * gap0


def test_truncated_newton_with_gauss_newton_on_least_squares(rng):
    # r = Xw − y is linear in w, so the Gauss–Newton matrix of mean(r²) is the Hessian: the step is as good
    w, loss_fn, lstar, _, Xt, yt = _least_squares(rng)
    st = so.truncated_newton_step(loss_fn, [w], cg_iters=5, damping=0.0, residual_fn=lambda: Xt @ w - yt)
    assert st["loss_after"] - lstar <= 1e-8 * (st["loss_before"] - lstar)


def test_truncated_newton_falls_back_to_gradient_at_negative_curvature():
    # L = Σ x⁴ − x² near 0 has H = 12x² − 2 < 0: CG stops at once, the step must still go downhill
    x = tg.Tensor(np.full(3, 0.1), requires_grad=True)
    st = so.truncated_newton_step(lambda: (x**4 - x**2).sum(), [x], cg_iters=5, damping=0.0, lr=0.5)
    assert st["negative_curvature"] and st["fallback"]
    assert st["loss_after"] < st["loss_before"]


def test_hvp_float32_parameters(rng):
    # float32 params: vectors are cast to the parameter dtype, results come back as float64 host arrays
    tg.set_default_dtype("float32")
    w = tg.Tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
    (h,) = so.hvp(lambda: (w * w * w).sum(), [w], [np.ones(4)])
    assert h.dtype == np.float64
    np.testing.assert_allclose(h, 6 * w.numpy(), rtol=1e-5)


def test_truncated_newton_beats_sgd_on_small_rnn_task():
    # the example's task and models at a small budget; seed 0 (also checked for seeds 1, 2 at budget 300)
    main = _example_main()
    res = main(["--budget", "120", "--eigs", "1", "--eig-iters", "5"])
    final = res["final"]
    tn = final["truncated Newton (gn)"]
    assert tn < final["sgd"] and tn < final["adam"]
    assert tn < 0.2 * res["initial_loss"]
    # every method spent the same budget (truncated Newton may leave < 2 equivalents unspent)
    assert res["curves"]["sgd"][-1][0] == 120 and 118 <= res["curves"]["truncated Newton (gn)"][-1][0] <= 120


# ---------------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors(rng):
    w = tg.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"vectors\[0\] has shape \(3, 2\) but params\[0\] has shape \(2, 3\)"):
        so.hvp(lambda: (w * w).sum(), [w], [np.zeros((3, 2))])
    with pytest.raises(ValueError, match="2 vectors for 1 params"):
        so.hvp(lambda: (w * w).sum(), [w], [np.zeros((2, 3))] * 2)
    with pytest.raises(TypeError, match="one array per parameter"):
        so.hvp(lambda: (w * w).sum(), [w], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"must return a scalar loss; got shape \(2, 3\)"):
        so.hvp(lambda: w * w, [w], [np.zeros((2, 3))])
    with pytest.raises(ValueError, match="does not require grad"):
        so.hvp(lambda: (w * w).sum(), [tg.Tensor(np.zeros(2))], [np.zeros(2)])
    with pytest.raises(ValueError, match="params is empty"):
        so.truncated_newton_step(lambda: (w * w).sum(), [])
    with pytest.raises(ValueError, match="for params with 6 entries"):
        so.unflat(np.zeros(5), [w])
    with pytest.raises(ValueError, match="k must be in 1..6"):
        so.hessian_top_eigenvalues(lambda: (w * w).sum(), [w], k=7)
    with pytest.raises(ValueError, match="b must be a flat vector"):
        so.conjugate_gradient(lambda v: v, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"Av returned shape \(2,\)"):
        so.conjugate_gradient(lambda v: v[:2], np.ones(3))


# ---------------------------------------------------------------------------------------------------
# the example
# ---------------------------------------------------------------------------------------------------
def test_example_smoke(tmp_path, capsys):
    main = _example_main()
    res = main(
        [
            "--budget",
            "12",
            "--cg-iters",
            "3",
            "--hidden",
            "3",
            "--length",
            "4",
            "--batch",
            "4",
            "--eigs",
            "2",
            "--eig-iters",
            "3",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert "gradient-evaluation equivalents" in out and "top |λ|" in out
    assert set(res["final"]) == {"sgd", "adam", "truncated Newton (gn)"}
    assert all(np.isfinite(v) for v in res["final"].values()) and len(res["eig_init"]) == 2
    if importlib.util.find_spec("matplotlib") is None:
        assert res["plot"] is None and "matplotlib is not installed" in out
    else:
        assert os.path.isfile(res["plot"])
