"""erf, GELU, the masked softmax, LayerNorm and Flatten: closed forms, gradchecks, errors, PyTorch parity."""

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.ops import special

RNG = np.random.default_rng(5)
math_erf = np.vectorize(math.erf, otypes=[np.float64])


def _t(a, grad=False):
    return tg.Tensor(np.asarray(a), requires_grad=grad)


# ---- erf -------------------------------------------------------------------------------------------
def test_erf_matches_math_erf_to_double_precision_on_every_interval():
    x = np.concatenate(
        [
            RNG.uniform(-7, 7, 20000),
            np.linspace(-30, 30, 6001),
            [0.46875, -0.46875, 0.46875 + 1e-12, 4.0, -4.0, 4.0 + 1e-12, 1e-300, -5e-324, 26.0, 27.0],
        ]
    )
    got, want = special.erf_host(x), math_erf(x)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)


def test_erf_special_values_and_float32():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])
    got = special.erf_host(x)
    assert got[0] == 0 and got[1] == 0 and np.signbit(got[1])
    assert got[2] == 1 and got[3] == -1 and np.isnan(got[4])
    x32 = RNG.uniform(-5, 5, 5000).astype(np.float32)
    got32 = special.erf(tg.Tensor(x32)).numpy()
    assert got32.dtype == np.float32
    np.testing.assert_array_equal(got32, math_erf(x32.astype(np.float64)).astype(np.float32))  # rounded once
    assert special.erf_host(np.zeros((0, 3))).shape == (0, 3)


def test_erf_gradient_closed_form_gradcheck_and_second_order():
    x = _t(np.array([-3.0, -0.7, -0.2, 0.0, 0.3, 0.46875, 1.5, 4.2]), grad=True)
    special.erf(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 / np.sqrt(np.pi) * np.exp(-(x.numpy() ** 2)), rtol=1e-15)
    assert tg.gradcheck(special.erf, [x], eps=1e-6, atol=1e-9, rtol=1e-7)
    assert tg.gradgradcheck(special.erf, [x], atol=1e-8, rtol=1e-6)


@pytest.mark.skipif(tg.backend.name != "cupy", reason="needs TINYGRAD_RNN_BACKEND=cupy and a GPU")
def test_erf_on_the_gpu_uses_cupy_and_matches_math_erf():
    # its own generator: a test that runs on one backend only must not shift the later tests' draws from RNG
    x = np.random.default_rng(6).uniform(-6, 6, 10000)
    np.testing.assert_allclose(special.erf(tg.Tensor(x)).numpy(), math_erf(x), rtol=1e-14, atol=1e-16)
    assert special.erf(tg.Tensor(x.astype(np.float32))).dtype == np.float32


def test_erf_refuses_integers():
    with pytest.raises(TypeError, match="erf: expected a floating-point tensor"):
        special.erf(tg.Tensor(np.arange(3)))


# ---- GELU ------------------------------------------------------------------------------------------
def _gelu_ref(x, approximate):
    if approximate == "none":
        return 0.5 * x * (1 + math_erf(x / np.sqrt(2)))
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_values_gradcheck_and_module(approximate):
    x = RNG.standard_normal(50) * 3
    np.testing.assert_allclose(F.gelu(_t(x), approximate).numpy(), _gelu_ref(x, approximate), rtol=1e-14, atol=1e-16)
    xt = _t(x[:12], grad=True)
    assert tg.gradcheck(lambda t: F.gelu(t, approximate), [xt], atol=1e-9, rtol=1e-7)
    m = nn.GELU(approximate)
    assert list(m.state_dict()) == [] and repr(m) == f"GELU(approximate='{approximate}')"
    np.testing.assert_array_equal(m(_t(x)).numpy(), F.gelu(_t(x), approximate).numpy())


def test_gelu_exact_derivative_is_phi_plus_x_density():
    x = _t(np.linspace(-4, 4, 17), grad=True)
    F.gelu(x).sum().backward()
    v = x.numpy()
    want = 0.5 * (1 + math_erf(v / np.sqrt(2))) + v * np.exp(-v * v / 2) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-14, atol=1e-16)


def test_gelu_bad_approximate():
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(_t([1.0]), "erf")
    with pytest.raises(ValueError, match="GELU: approximate must be"):
        nn.GELU("sigmoid")


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-6)])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_pytorch(approximate, dtype, tol):
    torch = pytest.importorskip("torch")
    x = (RNG.standard_normal(200) * 4).astype(dtype)
    ours = _t(x, grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, ty = F.gelu(ours, approximate), torch.nn.functional.gelu(theirs, approximate=approximate)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    w = RNG.standard_normal(200).astype(dtype)
    (y * _t(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=tol, atol=tol)


# ---- masked softmax ----------------------------------------------------------------------------------
def test_masked_softmax_blocks_exactly_and_zeroes_fully_blocked_rows():
    x = RNG.standard_normal((2, 3, 4))
    blocked = np.zeros((2, 3, 4), bool)
    blocked[0, 0, 1:] = True  # one key left
    blocked[1, 2] = True  # nothing left
    y = special.masked_softmax(_t(x), blocked).numpy()
    assert (y[blocked] == 0).all()
    np.testing.assert_allclose(y[0, 0], [1, 0, 0, 0])
    np.testing.assert_array_equal(y[1, 2], 0)
    live = ~blocked.all(-1)
    np.testing.assert_allclose(y.sum(-1)[live], 1, rtol=1e-15)
    e = np.where(blocked, 0, np.exp(x - x.max(-1, keepdims=True)))
    np.testing.assert_allclose(y[live], e[live] / e[live].sum(-1, keepdims=True), rtol=1e-14)
    # -inf scores count as blocked; a row of -inf is zero too (softmax would give 0/0 = NaN)
    z = special.masked_softmax(_t(np.array([[-np.inf, 0.0], [-np.inf, -np.inf]])), np.zeros((1, 2), bool)).numpy()
    np.testing.assert_array_equal(z, [[0, 1], [0, 0]])
    np.testing.assert_array_equal(special.masked_softmax(_t(x)).numpy(), tg.Tensor(x).softmax(-1).numpy())


def test_masked_softmax_gradients():
    x = _t(RNG.standard_normal((2, 3, 4)), grad=True)
    blocked = np.zeros((2, 1, 4), bool)
    blocked[0, 0, 2:] = True
    blocked[1, 0, :] = True  # item 1: every row fully blocked
    assert tg.gradcheck(lambda t: special.masked_softmax(t, blocked), [x], atol=1e-9, rtol=1e-7)
    assert tg.gradgradcheck(lambda t: special.masked_softmax(t, blocked), [x], atol=1e-8, rtol=1e-6)
    (special.masked_softmax(x, blocked) * _t(RNG.standard_normal((2, 3, 4)))).sum().backward()
    g = x.grad.numpy()
    assert (g[0][:, 2:] == 0).all() and (g[1] == 0).all() and np.isfinite(g).all()


def test_masked_softmax_errors():
    with pytest.raises(TypeError, match="blocked must be boolean"):
        special.masked_softmax(_t(np.zeros((2, 3))), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"blocked of shape \(2, 4\) does not broadcast"):
        special.masked_softmax(_t(np.zeros((2, 3))), np.zeros((2, 4), bool))


# ---- LayerNorm ---------------------------------------------------------------------------------------
def _ln_ref(x, shape, w, b, eps):
    axes = tuple(range(-len(shape), 0))
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


@pytest.mark.parametrize(
    "shape, kw, keys",
    [
        (5, {}, ["weight", "bias"]),
        ((3, 5), {}, ["weight", "bias"]),
        (5, {"bias": False}, ["weight"]),
        (5, {"elementwise_affine": False}, []),
    ],
)
def test_layernorm_parameters_values_and_gradcheck(shape, kw, keys):
    tg.set_default_dtype("float64")
    ln = nn.LayerNorm(shape, eps=1e-3, **kw)
    assert list(ln.state_dict()) == keys
    norm = (shape,) if isinstance(shape, int) else shape
    assert ln.normalized_shape == norm
    for p in ln.parameters():
        assert p.shape == norm
        p.data = p.data + RNG.standard_normal(norm)  # non-trivial γ, β
    x = _t(RNG.standard_normal((2, 3, 5)) * 3 + 1, grad=True)
    w = None if ln.weight is None else ln.weight.numpy()
    b = None if ln.bias is None else ln.bias.numpy()
    np.testing.assert_allclose(ln(x).numpy(), _ln_ref(x.numpy(), norm, w, b, 1e-3), rtol=1e-12, atol=1e-13)
    assert tg.gradcheck(lambda x, *p: ln(x), [x, *ln.parameters()], atol=1e-8, rtol=1e-6)


def test_layernorm_errors_name_the_module():
    ln = nn.LayerNorm(4)
    with pytest.raises(ValueError, match=r"LayerNorm: expected input of shape \(\*, 4\), got shape \(2, 3\)"):
        ln(tg.randn(2, 3))
    with pytest.raises(ValueError, match=r"LayerNorm: expected input of shape \(\*, 2, 4\)"):
        nn.LayerNorm((2, 4))(tg.randn(3, 4))
    with pytest.raises(TypeError, match="LayerNorm: input dtype float64 != parameter dtype float32"):
        ln(tg.Tensor(np.zeros((2, 4))))
    with pytest.raises(ValueError, match="normalized_shape must be positive ints"):
        nn.LayerNorm(0)
    with pytest.raises(ValueError, match="eps must be non-negative"):
        nn.LayerNorm(3, eps=-1.0)
    with pytest.raises(ValueError, match=r"layer_norm: expected input of shape \(\*, 3\)"):
        F.layer_norm(tg.randn(2, 4), 3)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("shape, kw", [(6, {}), ((2, 6), {}), (6, {"bias": False}), (6, {"elementwise_affine": False})])
def test_layernorm_matches_pytorch(shape, kw, dtype, tol):
    torch = pytest.importorskip("torch")
    tg.set_default_dtype(dtype)
    theirs = torch.nn.LayerNorm(shape, eps=1e-4, **kw).to(getattr(torch, dtype))
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(0), dtype=p.dtype))
    ours = nn.LayerNorm(shape, eps=1e-4, **kw)
    assert [(k, p.shape) for k, p in ours.named_parameters()] == [
        (k, tuple(p.shape)) for k, p in theirs.named_parameters()
    ]
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = (RNG.standard_normal((3, 2, 6)) * 2 + 0.5).astype(dtype)
    tx, ox = torch.tensor(x, requires_grad=True), _t(x, grad=True)
    y, ty = ours(ox), theirs(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    w = RNG.standard_normal(y.shape).astype(dtype)
    (y * _t(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    tp = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[k].grad.numpy(), rtol=tol, atol=tol, err_msg=k)


# ---- Flatten / Unflatten --------------------------------------------------------------------------------
def test_flatten_and_unflatten():
    x = tg.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, -1)(x).shape == (120,)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)
    assert nn.Flatten(0)(tg.Tensor(3.0)).shape == (1,)
    y = nn.Unflatten(1, (3, 4))(nn.Flatten(1, 2)(x))
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    assert nn.Unflatten(-1, (-1, 5))(tg.randn(2, 10)).shape == (2, 2, 5)
    xg = tg.randn(2, 3, 4, requires_grad=True)
    nn.Flatten()(xg).sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), np.ones((2, 3, 4)))
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    with pytest.raises(IndexError, match="Flatten: start_dim 4 is out of range"):
        nn.Flatten(4)(x)
    with pytest.raises(ValueError, match="Flatten: start_dim 2 comes after end_dim 1"):
        nn.Flatten(2, 1)(x)
    with pytest.raises(ValueError, match=r"Unflatten: cannot split axis 1 of length 3 into \(2, 2\)"):
        nn.Unflatten(1, (2, 2))(x)
    with pytest.raises(ValueError, match="at most one -1"):
        nn.Unflatten(1, (-1, -1))


def test_flatten_matches_pytorch_shapes():
    torch = pytest.importorskip("torch")
    for s, e in [(1, -1), (0, 2), (-3, -2), (2, 2)]:
        assert nn.Flatten(s, e)(tg.zeros(2, 3, 4, 5)).shape == tuple(
            torch.nn.Flatten(s, e)(torch.zeros(2, 3, 4, 5)).shape
        )
