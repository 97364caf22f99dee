"""Higher-order derivatives: repeated ``tg.grad(..., create_graph=True)``, Hessian-vector products,
gradient penalties and ``backward(create_graph=True)``, all in float64 against closed forms or finite
differences."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck_helpers import F64, T, float64_default  # noqa: F401  (the fixture applies here)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg


def nth_derivatives(f, x, n):
    """[f'(x), f''(x), ..., f^(n)(x)] for an elementwise f, by repeated grad with create_graph."""
    out, y = [], f(x)
    for _ in range(n):
        (y,) = tg.grad(y.sum(), x, create_graph=True)
        out.append(y)
    return out


def central_diff(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)


# ---------------------------------------------------------------------------------------------------
# (a) nth derivatives against closed forms
# ---------------------------------------------------------------------------------------------------
def tanh_derivs(x):
    t = np.tanh(x)
    s = 1 - t * t  # sech^2
    return [s, -2 * t * s, (6 * t * t - 2) * s, (16 * t - 24 * t**3) * s]


POINTS = np.array([-2.5, -1.3, -0.4, 0.0, 0.3, 0.9, 1.7, 3.0])


def test_tanh_closed_forms_are_right():
    # each closed form is the finite difference of the previous one (and the first of tanh itself)
    fs = [np.tanh] + [lambda x, k=k: tanh_derivs(x)[k] for k in range(4)]
    for k in range(4):
        np.testing.assert_allclose(tanh_derivs(POINTS)[k], central_diff(fs[k], POINTS), rtol=1e-7, atol=1e-8)


def test_tanh_nth_derivatives():
    x = T(POINTS)
    ds = nth_derivatives(lambda x: x.tanh(), x, 4)
    for k, (d, want) in enumerate(zip(ds, tanh_derivs(POINTS))):
        assert d.requires_grad and d.grad_fn is not None, f"order {k + 1} lost its graph"
        np.testing.assert_allclose(d.numpy(), want, rtol=1e-10, atol=1e-12, err_msg=f"order {k + 1}")


@pytest.mark.parametrize("p", [-1.3, -0.2, 0.0, 0.6, 2.2])
def test_tanh_nth_derivatives_scalar_points(p):
    x = T(p)  # a 0-d tensor: no sum() needed, the output itself is the scalar
    y = x.tanh()
    want = tanh_derivs(np.array(p))
    for k in range(4):
        (y,) = tg.grad(y, x, create_graph=True)
        assert y.shape == ()
        assert y.item() == pytest.approx(float(want[k]), rel=1e-10, abs=1e-12)


def test_sigmoid_exp_log_nth_derivatives():
    xs = np.array([-2.0, -0.5, 0.3, 1.4])
    s = 1 / (1 + np.exp(-xs))
    sig = [s * (1 - s), s * (1 - s) * (1 - 2 * s), s * (1 - s) * (1 - 6 * s + 6 * s * s)]
    for d, want in zip(nth_derivatives(lambda x: x.sigmoid(), T(xs), 3), sig):
        np.testing.assert_allclose(d.numpy(), want, rtol=1e-10, atol=1e-12)
    for d in nth_derivatives(lambda x: x.exp(), T(xs), 4):
        np.testing.assert_allclose(d.numpy(), np.exp(xs), rtol=1e-12)
    pos = np.array([0.3, 1.0, 2.5])
    logd = [1 / pos, -1 / pos**2, 2 / pos**3, -6 / pos**4]
    for d, want in zip(nth_derivatives(lambda x: x.log(), T(pos), 4), logd):
        np.testing.assert_allclose(d.numpy(), want, rtol=1e-10)


def test_polynomial_nth_derivatives_including_zero():
    xs = np.array([-1.5, 0.0, 0.7, 2.0])
    ds = nth_derivatives(lambda x: x**3, T(xs), 4)
    for d, want in zip(ds, [3 * xs**2, 6 * xs, np.full(4, 6.0), np.zeros(4)]):
        np.testing.assert_allclose(d.numpy(), want, rtol=1e-12, atol=1e-12)
    ds = nth_derivatives(lambda x: x * x * x - 2 * x * x, T(xs), 3)
    for d, want in zip(ds, [3 * xs**2 - 4 * xs, 6 * xs - 4, np.full(4, 6.0)]):
        np.testing.assert_allclose(d.numpy(), want, rtol=1e-12, atol=1e-12)


@given(hnp.arrays(F64, st.integers(1, 5), elements=st.floats(-3, 3)))
def test_tanh_nth_derivatives_hypothesis(xs):
    for d, want in zip(nth_derivatives(lambda x: x.tanh(), T(xs), 4), tanh_derivs(xs)):
        np.testing.assert_allclose(d.numpy(), want, rtol=1e-9, atol=1e-12)


def test_mixed_partials_are_symmetric():
    # f(x, y) = sin-free polynomial/tanh mix; d2f/dxdy == d2f/dydx == closed form
    xv, yv = 0.7, -0.4
    x, y = T(xv), T(yv)
    f = (x * y).tanh() + x * x * y
    gx, gy = tg.grad(f, [x, y], create_graph=True)
    (gxy,) = tg.grad(gx, y, retain_graph=True)
    (gyx,) = tg.grad(gy, x)
    t = np.tanh(xv * yv)
    want = (1 - t * t) + xv * yv * (-2 * t * (1 - t * t)) + 2 * xv
    assert gxy.item() == pytest.approx(want, rel=1e-10)
    assert gyx.item() == pytest.approx(want, rel=1e-10)


# ---------------------------------------------------------------------------------------------------
# (b) Hessian-vector product of a small MLP
# ---------------------------------------------------------------------------------------------------
def _mlp_data(rng):
    X = rng.standard_normal((6, 3))
    Y = rng.standard_normal((6, 2))
    params = [
        rng.standard_normal((3, 5)) * 0.7,
        rng.standard_normal(5) * 0.1,
        rng.standard_normal((5, 2)) * 0.7,
        rng.standard_normal(2) * 0.1,
    ]
    return X, Y, params


def _mlp_loss(X, Y, W1, b1, W2, b2):
    h = (X @ W1 + b1).tanh()
    err = h @ W2 + b2 - Y
    return (err * err).mean()


def _loss_grads(X, Y, ps):
    ts = [T(p) for p in ps]
    return [g.numpy() for g in tg.grad(_mlp_loss(T(X, False), T(Y, False), *ts), ts)]


def _hvp(X, Y, ps, vs):
    ts = [T(p) for p in ps]
    loss = _mlp_loss(T(X, False), T(Y, False), *ts)
    gs = tg.grad(loss, ts, create_graph=True)
    assert all(g.requires_grad for g in gs)
    gv = sum((g * T(v, False)).sum() for g, v in zip(gs, vs))
    return [h.numpy() for h in tg.grad(gv, ts)]


def test_mlp_hessian_vector_product_matches_finite_differences(rng):
    X, Y, ps = _mlp_data(rng)
    vs = [rng.standard_normal(p.shape) for p in ps]
    hv = _hvp(X, Y, ps, vs)
    eps = 1e-5
    plus = _loss_grads(X, Y, [p + eps * v for p, v in zip(ps, vs)])
    minus = _loss_grads(X, Y, [p - eps * v for p, v in zip(ps, vs)])
    for h, gp, gm in zip(hv, plus, minus):
        np.testing.assert_allclose(h, (gp - gm) / (2 * eps), rtol=1e-6, atol=1e-8)
    assert max(np.abs(h).max() for h in hv) > 1e-3  # not trivially zero


def test_mlp_hessian_is_symmetric(rng):
    X, Y, ps = _mlp_data(rng)
    v1 = [rng.standard_normal(p.shape) for p in ps]
    v2 = [rng.standard_normal(p.shape) for p in ps]
    h1, h2 = _hvp(X, Y, ps, v1), _hvp(X, Y, ps, v2)
    a = sum(float((x * y).sum()) for x, y in zip(h1, v2))  # v2' H v1
    b = sum(float((x * y).sum()) for x, y in zip(h2, v1))  # v1' H v2
    assert a == pytest.approx(b, rel=1e-10, abs=1e-12)


def test_mlp_full_hessian_of_first_layer_bias(rng):
    # the whole Hessian block of b1 from HVPs with unit vectors, against finite differences of the gradient
    X, Y, ps = _mlp_data(rng)
    n = ps[1].size
    H = np.zeros((n, n))
    for j in range(n):
        vs = [np.zeros_like(p) for p in ps]
        vs[1][j] = 1.0
        H[:, j] = _hvp(X, Y, ps, vs)[1]
    eps = 1e-5
    Hn = np.zeros((n, n))
    for j in range(n):
        pp = [p.copy() for p in ps]
        pm = [p.copy() for p in ps]
        pp[1][j] += eps
        pm[1][j] -= eps
        Hn[:, j] = (_loss_grads(X, Y, pp)[1] - _loss_grads(X, Y, pm)[1]) / (2 * eps)
    np.testing.assert_allclose(H, Hn, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------------
# (c) gradient of a gradient norm
# ---------------------------------------------------------------------------------------------------
def _penalty(X, Y, ps, create_graph):
    ts = [T(p) for p in ps]
    loss = _mlp_loss(T(X, False), T(Y, False), *ts)
    gs = tg.grad(loss, ts, create_graph=create_graph)
    pen = sum((g * g).sum() for g in gs)
    return pen, ts, loss


def test_gradient_penalty_matches_finite_differences(rng):
    X, Y, ps = _mlp_data(rng)
    pen, ts, _ = _penalty(X, Y, ps, create_graph=True)
    assert pen.requires_grad
    dpen = [g.numpy() for g in tg.grad(pen, ts)]
    eps = 1e-6
    for k, p in enumerate(ps):
        num = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            pp = [q.copy() for q in ps]
            pm = [q.copy() for q in ps]
            pp[k][i] += eps
            pm[k][i] -= eps
            num[i] = (_penalty(X, Y, pp, False)[0].item() - _penalty(X, Y, pm, False)[0].item()) / (2 * eps)
        np.testing.assert_allclose(dpen[k], num, rtol=1e-5, atol=1e-8, err_msg=f"param {k}")


def test_gradient_penalty_is_twice_hessian_times_gradient(rng):
    # d/dθ |∇L|² = 2 H ∇L: the same number through an HVP
    X, Y, ps = _mlp_data(rng)
    pen, ts, _ = _penalty(X, Y, ps, create_graph=True)
    dpen = [g.numpy() for g in tg.grad(pen, ts)]
    g = _loss_grads(X, Y, ps)
    hg = _hvp(X, Y, ps, g)
    for a, b in zip(dpen, hg):
        np.testing.assert_allclose(a, 2 * b, rtol=1e-9, atol=1e-12)


def test_gradient_penalty_via_backward_accumulates_with_loss(rng):
    X, Y, ps = _mlp_data(rng)
    pen, ts, loss = _penalty(X, Y, ps, create_graph=True)
    assert all(t.grad is None for t in ts)  # tg.grad never writes .grad
    (loss + 0.5 * pen).backward()
    want_loss = _loss_grads(X, Y, ps)
    pen2, ts2, _ = _penalty(X, Y, ps, create_graph=True)
    want_pen = [g.numpy() for g in tg.grad(pen2, ts2)]
    for t, a, b in zip(ts, want_loss, want_pen):
        np.testing.assert_allclose(t.grad.numpy(), a + 0.5 * b, rtol=1e-10, atol=1e-12)


def test_input_gradient_penalty_wgan_style(rng):
    # critic D(x) = sum(tanh(x @ W) @ u); penalty = mean_i (|∇_x D(x_i)| - 1)^2; differentiate wrt W
    xv = rng.standard_normal((4, 3))
    Wv = rng.standard_normal((3, 5)) * 0.8
    uv = rng.standard_normal(5)

    def penalty(Wa, create_graph):
        x, W = T(xv), T(Wa)
        d = ((x @ W).tanh() @ T(uv, False)).sum()
        (gx,) = tg.grad(d, x, create_graph=create_graph)
        norms = (gx * gx).sum(axis=1).sqrt()
        return ((norms - 1) ** 2).mean(), W

    pen, W = penalty(Wv, True)
    (dW,) = tg.grad(pen, W)
    eps = 1e-6
    num = np.zeros_like(Wv)
    for i in np.ndindex(Wv.shape):
        wp, wm = Wv.copy(), Wv.copy()
        wp[i] += eps
        wm[i] -= eps
        num[i] = (penalty(wp, False)[0].item() - penalty(wm, False)[0].item()) / (2 * eps)
    np.testing.assert_allclose(dW.numpy(), num, rtol=1e-5, atol=1e-8)
    # the closed form of the input gradient itself: ∇_x D = ((1 - tanh²(xW)) * u) @ Wᵀ
    x = T(xv)
    (gx,) = tg.grad(((x @ T(Wv, False)).tanh() @ T(uv, False)).sum(), x)
    np.testing.assert_allclose(gx.numpy(), ((1 - np.tanh(xv @ Wv) ** 2) * uv) @ Wv.T, rtol=1e-12)


# ---------------------------------------------------------------------------------------------------
# (d) second order through the structural ops
# ---------------------------------------------------------------------------------------------------
def _arr(rng, *shape):
    return T(rng.standard_normal(shape))


def test_gradgradcheck_sigmoid_softmax_log_softmax(rng):
    x = _arr(rng, 3, 4)
    assert tg.gradgradcheck(lambda x: x.sigmoid(), [x])
    assert tg.gradgradcheck(lambda x: x.softmax(-1), [x])
    assert tg.gradgradcheck(lambda x: x.softmax(0), [x])
    assert tg.gradgradcheck(lambda x: x.log_softmax(-1), [x])
    assert tg.gradgradcheck(lambda x: x.log_softmax(-2), [x])
    # a cross-entropy-like scalar: its second derivative is the softmax Jacobian
    tgt = np.eye(4)[[0, 2, 1]]
    assert tg.gradgradcheck(lambda x: -(x.log_softmax(-1) * T(tgt, False)).sum(), [x])


def test_softmax_cross_entropy_hessian_closed_form(rng):
    z = rng.standard_normal(5)
    x = T(z)
    loss = -(x.log_softmax(-1) * T(np.eye(5)[3], False)).sum()
    (g,) = tg.grad(loss, x, create_graph=True)
    p = np.exp(z - z.max())
    p /= p.sum()
    np.testing.assert_allclose(g.numpy(), p - np.eye(5)[3], rtol=1e-12, atol=1e-14)
    H = np.stack([tg.grad(g[i], x, retain_graph=True)[0].numpy() for i in range(5)])
    np.testing.assert_allclose(H, np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-14)


def test_gradgradcheck_matmul_variants(rng):
    a, b = _arr(rng, 2, 3), _arr(rng, 3, 4)
    assert tg.gradgradcheck(lambda a, b: a @ b, [a, b])
    assert tg.gradgradcheck(lambda a, b: (a @ b).tanh(), [a, b])
    A, B = _arr(rng, 2, 1, 2, 3), _arr(rng, 3, 3, 2)
    assert tg.gradgradcheck(lambda A, B: (A @ B) ** 2, [A, B])
    v, w = _arr(rng, 3), _arr(rng, 3)
    assert tg.gradgradcheck(lambda a, v: (a @ v).sigmoid(), [a, v])
    assert tg.gradgradcheck(lambda v, b: (v @ b).exp(), [v, b])
    assert tg.gradgradcheck(lambda v, w: (v @ w).tanh(), [v, w])


def test_gradgradcheck_getitem(rng):
    x = _arr(rng, 4, 3)
    assert tg.gradgradcheck(lambda x: x[1:, ::-1].tanh(), [x])
    assert tg.gradgradcheck(lambda x: x[[0, 0, 3, 0]].sigmoid(), [x])  # repeated rows
    assert tg.gradgradcheck(lambda x: x[np.array([[0, 1], [1, 1]]), np.array([2, 2])] ** 2, [x])
    mask = np.array([[True, False, True], [False, False, False], [True, True, True], [False, True, False]])
    assert tg.gradgradcheck(lambda x: x[mask].exp(), [x])
    assert tg.gradgradcheck(lambda x: (x[0] * x[[1, 1, 2]]).sum(axis=0), [x])


def test_getitem_repeated_index_second_derivative_values():
    # f = sum(x[idx]^3) with idx repeating 0 three times: f'' at x0 is 3 * 6 x0
    x = T([0.5, -1.0, 2.0])
    f = (x[[0, 0, 2, 0]] ** 3).sum()
    (g,) = tg.grad(f, x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [3 * 3 * 0.25, 0.0, 3 * 4.0])
    (h,) = tg.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [3 * 6 * 0.5, 0.0, 6 * 2.0])


def test_gradgradcheck_unbind_stack(rng):
    x = _arr(rng, 3, 2)
    assert tg.gradgradcheck(lambda x: tg.stack([p.tanh() for p in x.unbind(0)][::-1], axis=1), [x])
    assert tg.gradgradcheck(lambda x: tuple(p * p for p in tg.unbind(x, 1)), [x])
    assert tg.gradgradcheck(lambda x: x.unbind(0)[1] ** 3, [x])  # unused slices get zero gradients
    a, b = _arr(rng, 2, 2), _arr(rng, 2, 2)
    assert tg.gradgradcheck(lambda a, b: tg.stack([a * b, a.exp(), b], axis=-1), [a, b])
    one = _arr(rng, 1, 3)
    assert tg.gradgradcheck(lambda x: x.unbind(0)[0] ** 2, [one])  # a single slice
    assert tg.gradgradcheck(lambda x: tg.stack([x]).tanh(), [one])


def test_gradgradcheck_concat_split(rng):
    x = _arr(rng, 5, 2)
    assert tg.gradgradcheck(lambda x: tuple(p.sigmoid() for p in x.split(2, axis=0)), [x])
    assert tg.gradgradcheck(lambda x: x.split([1, 4], axis=0)[1] ** 2, [x])
    assert tg.gradgradcheck(lambda x: tg.concat(x.split([3, 2])[::-1], axis=0).tanh() * x, [x])
    a, b = _arr(rng, 2, 3), _arr(rng, 2, 1)
    assert tg.gradgradcheck(lambda a, b: tg.concat([a * a, b.exp(), a], axis=1), [a, b])
    assert tg.gradgradcheck(lambda a, b: tg.concat([a, b], axis=-1).softmax(-1), [a, b])
    assert tg.gradgradcheck(lambda x: x.split(5)[0] ** 2, [x])  # a single piece
    assert tg.gradgradcheck(lambda a: tg.concat([a]).tanh(), [a])


def test_third_order_through_softmax_and_sigmoid(rng):
    # gradcheck of a second-derivative function checks the third derivative
    x = _arr(rng, 2, 3)
    v = T(rng.standard_normal((2, 3)), False)
    w = T(rng.standard_normal((2, 3)), False)

    def second(f):
        @tg.enable_grad()  # gradcheck evaluates its numeric side under no_grad
        def hvp(x):
            (g,) = tg.grad(f(x), x, grad_outputs=v, create_graph=True)
            (h,) = tg.grad(g, x, grad_outputs=w, create_graph=True)
            return h

        return hvp

    for f in (
        lambda x: x.softmax(-1),
        lambda x: x.sigmoid(),
        lambda x: x.log_softmax(0),
        lambda x: (x @ x.T).tanh()[:, [0, 0, 1]],
    ):
        assert tg.gradcheck(second(f), [x])


# ---------------------------------------------------------------------------------------------------
# (e) backward(create_graph=True)
# ---------------------------------------------------------------------------------------------------
def test_backward_create_graph_leaves_differentiable_grad():
    xv = np.array([-1.0, 0.5, 2.0])
    x = T(xv)
    (x**3).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), 3 * xv**2)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    (h,) = tg.grad(x.grad.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * xv)
    np.testing.assert_allclose(x.grad.numpy(), 3 * xv**2)  # tg.grad did not touch .grad


def test_backward_of_grad_accumulates_into_grad():
    xv = np.array([-1.0, 0.5, 2.0])
    x = T(xv)
    (x**3).sum().backward(create_graph=True)
    g1 = x.grad
    g1.sum().backward()
    # the second backward adds d(sum 3x^2)/dx = 6x onto the 3x^2 already there
    np.testing.assert_allclose(x.grad.numpy(), 3 * xv**2 + 6 * xv)
    np.testing.assert_allclose(g1.numpy(), 3 * xv**2)  # the first gradient tensor itself is unchanged


def test_backward_create_graph_twice_accumulates_with_graph():
    xv = np.array([0.3, -1.2])
    x = T(xv)
    for _ in range(2):
        (x**3).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), 6 * xv**2)
    (h,) = tg.grad(x.grad.sum(), x)
    np.testing.assert_allclose(h.numpy(), 12 * xv)


def test_backward_create_graph_through_network_then_penalty_backward(rng):
    Wv = rng.standard_normal((3, 2))
    xv = rng.standard_normal((4, 3))
    W = T(Wv)
    loss = (T(xv, False) @ W).tanh().sum()
    loss.backward(create_graph=True)
    gW = W.grad
    t = np.tanh(xv @ Wv)
    np.testing.assert_allclose(gW.numpy(), xv.T @ (1 - t * t), rtol=1e-12)
    W.grad = None
    (gW * gW).sum().backward()
    # d/dW |xᵀ(1 - tanh²(xW))|² = xᵀ[(-2 t (1 - t²)) * (x gW)] * 2
    want = 2 * xv.T @ ((xv @ gW.numpy()) * (-2 * t * (1 - t * t)))
    np.testing.assert_allclose(W.grad.numpy(), want, rtol=1e-10)


def test_backward_without_create_graph_gives_constant_grad():
    x = T([1.0, 2.0])
    (x**3).sum().backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None
    with pytest.raises(RuntimeError):
        x.grad.sum().backward()
