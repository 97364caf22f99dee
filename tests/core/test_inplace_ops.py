"""In-place ops (``add_``, ``mul_``, ``copy_``, ``t[i] = v``, ...): every method against PyTorch on the whole
tensor and on views of it (values after the op, gradients to the leaves and to the operands; skipped
without torch), hypothesis properties of item assignment (against torch when present, always against a
NumPy model), float64 gradchecks of programs that write in place, and the random fills."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck_helpers import float64_default  # noqa: F401  (the fixture applies here)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg

try:
    import torch
except ImportError:  # the NumPy-model tests still run
    torch = None


class Kit:
    """One library's side of a program: draws the same random leaves and constants in the same order."""

    def __init__(self, lib, seed):
        self.L, self.rng, self.leaves = lib, np.random.default_rng(seed), []

    @property
    def tg(self):
        return self.L is tg

    def const(self, a):
        return tg.tensor(a) if self.tg else torch.tensor(a)

    def leaf(self, shape, lo=None, hi=None):
        a = self.rng.standard_normal(shape) if lo is None else self.rng.uniform(lo, hi, shape)
        t = tg.tensor(a, requires_grad=True) if self.tg else torch.tensor(a, requires_grad=True)
        self.leaves.append(t)
        return t

    def pos(self, shape):
        return self.leaf(shape, 0.5, 2.0)

    def mask(self, shape):
        return self.const(self.rng.random(shape) < 0.5)

    def index(self, shape):
        """Distinct positions along the last dim (k of them): scatter_ is deterministic."""
        k = min(2, shape[-1])
        perm = np.argsort(self.rng.random(shape), axis=-1)[..., :k]
        return self.const(perm.astype(np.int64))


def parity(prog, seed=0, tol=1e-10):
    """``prog(kit)`` returns the tensors to compare; values and the gradients of a random weighted sum of
    them w.r.t. every leaf the program drew must agree between tinygrad_rnn and torch."""
    kt, kp = Kit(tg, seed), Kit(torch, seed)
    outs_t, outs_p = prog(kt), prog(kp)
    outs_t = outs_t if isinstance(outs_t, tuple) else (outs_t,)
    outs_p = outs_p if isinstance(outs_p, tuple) else (outs_p,)
    w = np.random.default_rng(seed + 1)
    loss_t, loss_p = 0, 0
    for ot, op in zip(outs_t, outs_p, strict=True):
        assert ot.shape == tuple(op.shape)
        np.testing.assert_allclose(ot.numpy(), op.detach().numpy(), rtol=tol, atol=tol)
        c = w.standard_normal(ot.shape)
        loss_t, loss_p = loss_t + (ot * tg.tensor(c)).sum(), loss_p + (op * torch.tensor(c)).sum()
    loss_t.backward()
    loss_p.backward()
    assert len(kt.leaves) == len(kp.leaves) > 0
    for i, (lt, lp) in enumerate(zip(kt.leaves, kp.leaves)):
        assert (lt.grad is None) == (lp.grad is None), f"leaf {i}: {lt.grad} vs {lp.grad}"
        if lp.grad is not None:
            np.testing.assert_allclose(lt.grad.numpy(), lp.grad.numpy(), rtol=tol, atol=tol, err_msg=f"leaf {i}")
    return kt


def _iop(name):
    def f(k, t):
        if name == "iadd":
            t += k.leaf(t.shape)
        elif name == "isub":
            t -= k.leaf(t.shape[-1:])
        elif name == "imul":
            t *= k.leaf(t.shape)
        elif name == "itruediv":
            t /= k.pos(t.shape)
        else:
            t **= k.leaf(t.shape, 0.5, 1.5)
        return t

    return f


def _setitem(kind):
    def f(k, t):
        if kind == "first":
            t[0] = k.leaf(t.shape[1:])
        elif kind == "tail_number":
            t[..., 1:] = 3.0
        elif kind == "aug":
            t[0] += k.leaf(t.shape[1:])
        elif kind == "mask":
            t[k.mask(t.shape)] = k.leaf(())
        elif kind == "mask_number":
            t[k.mask(t.shape)] = -1.0
        else:  # an integer array
            n = t.shape[0]
            t[k.const(np.array([0, n - 1] if n > 1 else [0]))] = k.leaf(t.shape[1:])
        return t

    return f


# name -> (program on the site tensor t, whether t must hold positive values)
OPS = {
    "add_": (lambda k, t: t.add_(k.leaf(t.shape)), False),
    "add_alpha": (lambda k, t: t.add_(k.leaf(t.shape[-1:]), alpha=2.5), False),
    "add_number": (lambda k, t: t.add_(1.25), False),
    "sub_": (lambda k, t: t.sub_(k.leaf(t.shape)), False),
    "sub_alpha": (lambda k, t: t.sub_(k.leaf(t.shape), alpha=-0.5), False),
    "mul_": (lambda k, t: t.mul_(k.leaf(t.shape)), False),
    "mul_broadcast": (lambda k, t: t.mul_(k.leaf(t.shape[-1:])), False),
    "mul_0d": (lambda k, t: t.mul_(k.leaf(())), False),
    "mul_number": (lambda k, t: t.mul_(-3.0), False),
    "div_": (lambda k, t: t.div_(k.pos(t.shape)), False),
    "div_number": (lambda k, t: t.div_(4.0), False),
    "pow_number": (lambda k, t: t.pow_(2.5), True),
    "pow_tensor": (lambda k, t: t.pow_(k.leaf(t.shape)), True),
    **{n: (_iop(n), n == "ipow") for n in ("iadd", "isub", "imul", "itruediv", "ipow")},
    "addcmul_": (lambda k, t: t.addcmul_(k.leaf(t.shape), k.leaf(t.shape[-1:]), value=0.5), False),
    "addcdiv_": (lambda k, t: t.addcdiv_(k.leaf(t.shape), k.pos(t.shape), value=2.0), False),
    "lerp_number": (lambda k, t: t.lerp_(k.leaf(t.shape), 0.3), False),
    "lerp_tensor": (lambda k, t: t.lerp_(k.leaf(t.shape), k.leaf(t.shape, 0.0, 1.0)), False),
    "neg_": (lambda k, t: t.neg_(), False),
    "abs_": (lambda k, t: t.abs_(), False),
    "exp_": (lambda k, t: t.exp_(), False),
    "log_": (lambda k, t: t.log_(), True),
    "sqrt_": (lambda k, t: t.sqrt_(), True),
    "tanh_": (lambda k, t: t.tanh_(), False),
    "sigmoid_": (lambda k, t: t.sigmoid_(), False),
    "relu_": (lambda k, t: t.relu_(), False),
    "clamp_": (lambda k, t: t.clamp_(-0.5, 0.5), False),
    "clamp_min": (lambda k, t: t.clamp_(min=0.1), False),
    "clip_max": (lambda k, t: t.clip_(max=0.2), False),
    "copy_": (lambda k, t: t.copy_(k.leaf(t.shape)), False),
    "copy_broadcast": (lambda k, t: t.copy_(k.leaf(t.shape[-1:])), False),
    "fill_number": (lambda k, t: t.fill_(2.0), False),
    "fill_0d": (lambda k, t: t.fill_(k.leaf(())), False),
    "zero_": (lambda k, t: t.zero_(), False),
    "masked_fill_": (lambda k, t: t.masked_fill_(k.mask(t.shape), 0.7), False),
    "masked_fill_0d": (lambda k, t: t.masked_fill_(k.mask(t.shape), k.leaf(())), False),
    "scatter_": (lambda k, t: (lambda i: t.scatter_(-1, i, k.leaf(i.shape)))(k.index(t.shape)), False),
    "scatter_value": (lambda k, t: t.scatter_(-1, k.index(t.shape), value=0.5), False),
    "scatter_add_": (lambda k, t: (lambda i: t.scatter_add_(-1, i, k.leaf(i.shape)))(k.index(t.shape)), False),
    **{f"setitem_{s}": (_setitem(s), False) for s in ("first", "tail_number", "aug", "mask", "mask_number", "arr")},
}

# where the op is applied: y itself or a view of it (PyTorch refuses in-place ops on the outputs of
# chunk/unbind, so its side of those programs takes the same region by slicing)
SITES = {
    "whole": lambda k, y: y,
    "row": lambda k, y: y[1],
    "column": lambda k, y: y[:, 2],
    "transposed": lambda k, y: y.t()[1:3],
    "view": lambda k, y: y.view(2, 6)[1],
    "unsqueeze": lambda k, y: y.unsqueeze(0),
    "narrow": lambda k, y: y.narrow(1, 1, 2),
    "chained": lambda k, y: y[1:][1][1:],
    "chunk": lambda k, y: y.chunk(2, 1)[1] if k.tg else y[:, 2:],
    "unbind": lambda k, y: y.unbind(0)[2] if k.tg else y[2],
}


@pytest.mark.parametrize("site", sorted(SITES))
@pytest.mark.parametrize("op", sorted(OPS))
def test_inplace_method_matches_torch(th, op, site):
    """y = x * 1.5 (a non-leaf), the op on the site, then y and the (now stale) site both used."""
    fn, positive = OPS[op]

    def prog(k):
        x = k.pos((3, 4)) if positive else k.leaf((3, 4))
        y = x * 1.5
        s = SITES[site](k, y)
        r = fn(k, s)
        if k.tg:
            assert r is s, "an in-place op returns its tensor"
            assert y._version > 0 and s._version == y._version
        return y, s * 1

    parity(prog, seed=sum(map(ord, op + site)))


def test_inplace_returns_self_and_writes_memory():
    x = tg.tensor(np.arange(6.0))
    arr = x.array
    for call in (lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.clamp_(0, 5), lambda t: t.fill_(3)):
        assert call(x) is x and x.array is arr
    x += 1
    assert x.array is arr and x.tolist() == [4.0] * 6 and x._version == 5


# ---- item assignment: hypothesis -----------------------------------------------------------------------


@st.composite
def basic_index(draw, shape):
    """A basic index (ints, slices with positive steps, None, Ellipsis) that selects something."""
    parts, dims = [], list(shape)
    if draw(st.booleans()) and dims:
        dims.pop()  # leave a trailing dimension to Ellipsis
        ell = True
    else:
        ell = False
    for n in dims:
        kind = draw(st.sampled_from(["int", "slice", "full", "none"]))
        if kind == "none":
            parts.append(None)
            kind = "full"
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            a = draw(st.integers(0, n - 1))
            b = draw(st.integers(a + 1, n))
            parts.append(slice(a, b, draw(st.integers(1, 2))))
        else:
            parts.append(slice(None))
    if ell:
        parts.append(Ellipsis)
    return tuple(parts)


def _value_shape(draw, region):
    """A shape that broadcasts to ``region``: a suffix of it with some sides set to 1."""
    k = draw(st.integers(0, len(region)))
    tail = region[len(region) - k :]
    return tuple(1 if draw(st.booleans()) else n for n in tail)


def _unbroadcast(g, shape):
    g = g.reshape((-1,) + g.shape[g.ndim - len(shape) :]).sum(0)
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.data())
def test_setitem_basic_index_property(shape, data):
    """y = 2x; y[idx] <op>= v (assign, add or multiply, v broadcast), then y.exp(): values and gradients
    against a NumPy model of the same program, and against torch when it is installed."""
    idx = data.draw(basic_index(shape))
    region = np.empty(shape)[idx].shape
    vshape = _value_shape(data.draw, region)
    mode = data.draw(st.sampled_from(["set", "add", "mul"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x, v, c = rng.standard_normal(shape), rng.standard_normal(vshape), rng.standard_normal(shape)

    # the NumPy model: values, and d(sum(c * exp(y)))/dx, /dv
    y = 2 * x
    old = y[idx].copy()
    y[idx] = {"set": v, "add": old + v, "mul": old * v}[mode]
    gy = c * np.exp(y)
    gx = 2 * gy
    g_region = gy[idx]
    if mode == "set":
        gx[idx] = 0.0
        gv = g_region
    elif mode == "add":
        gv = g_region
    else:
        gx[idx] *= v
        gv = g_region * old
    gv = _unbroadcast(gv * np.ones(region), vshape)
    libs = [tg] + ([torch] if torch is not None else [])
    for L in libs:
        xt = L.tensor(x, requires_grad=True)
        vt = L.tensor(v, requires_grad=True)
        yt = xt * 2
        if mode == "set":
            yt[idx] = vt
        elif mode == "add":
            yt[idx] += vt
        else:
            yt[idx] *= vt
        out = yt.exp()
        (out * L.tensor(c)).sum().backward()
        np.testing.assert_allclose(yt.detach().numpy(), y, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(xt.grad.numpy(), gx, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(vt.grad.numpy(), gv, rtol=1e-10, atol=1e-12)


@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.data())
def test_setitem_mask_and_integer_array_property(shape, data):
    """Advanced assignment (a boolean mask, or distinct integer rows) of a broadcast value."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x, c = rng.standard_normal(shape), rng.standard_normal(shape)
    if data.draw(st.booleans()):
        index = rng.random(shape) < 0.5
        v = rng.standard_normal(())
    else:
        rows = data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=shape[0], unique=True))
        index = np.array(rows)
        v = rng.standard_normal(shape[1:])
    y = 3 * x
    y[index] = v
    gx = 3 * c
    gx[index] = 0.0
    written = np.zeros(shape, bool)
    written[index] = True
    gv = (np.where(written, c, 0).reshape((-1,) + v.shape)).sum(0)
    for L in [tg] + ([torch] if torch is not None else []):
        xt, vt = L.tensor(x, requires_grad=True), L.tensor(v, requires_grad=True)
        yt = xt * 3
        yt[L.tensor(index)] = vt
        (yt * L.tensor(c)).sum().backward()
        np.testing.assert_allclose(yt.detach().numpy(), y, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(xt.grad.numpy(), gx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(vt.grad.numpy(), gv, rtol=1e-10, atol=1e-12)


# ---- float64 gradcheck of programs that write in place --------------------------------------------------


def _views_program(x, w):
    y = x * 1.0
    y[0] = (x[0] * w).tanh()
    y[:, 1] *= w[:2] + 2.0
    y.t()[2].lerp_(w[:2], 0.3)
    y.view(-1)[1:4].addcmul_(w, w, value=0.5)
    y.unsqueeze(0)[0, 1].sigmoid_()
    y.mul_(x)
    return y


def _values_program(x, w):
    y = x.exp()
    y = y * 1.0  # exp's output must stay as it was: write into a copy
    y[1].copy_(w)
    y[0, :2].fill_(w[2])
    y.masked_fill_(tg.tensor(np.array([[False, False, True], [True, False, False]])), w[0] * w[1])
    y.scatter_add_(1, tg.tensor(np.array([[2], [0]])), w[:2].reshape(2, 1))
    y[tg.tensor(np.array([0, 1])), tg.tensor(np.array([1, 2]))] = w[1:] ** 2
    return y * y


def _seq2seq_program(x, h0, W):
    T, H = x.shape
    enc = tg.zeros(T, H)
    h = h0
    for i in range(T):
        h = (h @ W + x[i]).tanh()
        enc[i] = h
    att = (enc @ h).softmax(0)
    return (att.reshape(T, 1) * enc).sum(0)


def _arith_program(x, w):
    y = x + 0.0
    y.add_(w, alpha=2.0).sub_(w[0]).div_(w.abs() + 1.0)
    y.pow_(2).sqrt_()  # |y|: smooth away from 0
    y.addcdiv_(x, w * w + 1.0, value=-0.5).exp_().log_().neg_()
    y[0][1] += w[2]
    y[:, ::2] /= 2.0
    return y


@pytest.mark.parametrize(
    "fn,shapes",
    [
        (_views_program, [(2, 3), (3,)]),
        (_values_program, [(2, 3), (3,)]),
        (_seq2seq_program, [(4, 3), (3,), (3, 3)]),
        (_arith_program, [(2, 3), (3,)]),
    ],
    ids=["views", "values", "seq2seq", "arith"],
)
def test_gradcheck_programs_that_write_in_place(fn, shapes):
    rng = np.random.default_rng(3)
    inputs = [tg.tensor(rng.uniform(0.3, 1.2, s), requires_grad=True) for s in shapes]
    assert tg.gradcheck(fn, inputs) is True
    # the program did write in place, and the leaves were left alone
    for t in inputs:
        assert t._version == 0 and t.is_leaf


def test_gradgradcheck_through_setitem_and_view_writes():
    rng = np.random.default_rng(4)
    x, w = (tg.tensor(rng.uniform(0.3, 1.2, s), requires_grad=True) for s in [(2, 3), (3,)])

    def f(x, w):
        y = x * x
        y[1] = x[1] * w
        y[:, 0] += w[1:]
        return y

    assert tg.gradgradcheck(f, [x, w]) is True


# ---- random fills -------------------------------------------------------------------------------------

FILLS = {
    "uniform_": lambda t, **g: t.uniform_(-1.0, 3.0, **g),
    "normal_": lambda t, **g: t.normal_(2.0, 0.5, **g),
    "bernoulli_": lambda t, **g: t.bernoulli_(0.3, **g),
}


@pytest.mark.parametrize("name", sorted(FILLS))
def test_random_fill_reproducible(name):
    fill = FILLS[name]
    tg.manual_seed(11)
    a = fill(tg.zeros(50)).numpy().copy()
    tg.manual_seed(11)
    b = fill(tg.zeros(50)).numpy().copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(fill(tg.zeros(50)).numpy(), a)  # the global generator moved on
    g1, g2 = tg.Generator().manual_seed(5), tg.Generator().manual_seed(5)
    c = fill(tg.zeros(50), generator=g1).numpy().copy()
    tg.manual_seed(99)  # the global seed does not affect an explicit generator
    np.testing.assert_array_equal(fill(tg.zeros(50), generator=g2).numpy(), c)
    assert not np.array_equal(fill(tg.zeros(50), generator=g1).numpy(), c)


def test_random_fill_statistics():
    n = 200_000
    u = tg.zeros(n).uniform_(-1.0, 3.0).numpy()
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.02 and abs(u.var() - 16 / 12) < 0.02
    z = tg.zeros(n, dtype="float32").normal_(2.0, 0.5)
    assert z.dtype == np.float32
    assert abs(z.numpy().mean() - 2.0) < 0.01 and abs(z.numpy().std() - 0.5) < 0.01
    b = tg.zeros(n).bernoulli_(0.3).numpy()
    assert set(np.unique(b)) == {0.0, 1.0} and abs(b.mean() - 0.3) < 0.01
    bi = tg.zeros(n, dtype="int64").bernoulli_(0.8)  # any dtype: 0/1
    assert bi.dtype == np.int64 and abs(bi.numpy().mean() - 0.8) < 0.01
    p = tg.tensor(np.array([0.0, 1.0, 0.5]))
    bp = tg.zeros(4000, 3).bernoulli_(p).numpy()
    assert bp[:, 0].sum() == 0 and bp[:, 1].sum() == 4000 and abs(bp[:, 2].mean() - 0.5) < 0.04
    with pytest.raises(TypeError, match="uniform_: needs a floating-point tensor"):
        tg.zeros(3, dtype="int64").uniform_()
    with pytest.raises(TypeError, match="normal_: needs a floating-point tensor"):
        tg.zeros(3, dtype="int32").normal_()


@pytest.mark.parametrize("L", [tg] + ([torch] if torch is not None else []), ids=lambda L: L.__name__)
@pytest.mark.parametrize("name", sorted(FILLS))
@pytest.mark.parametrize("where", ["whole", "row"])
def test_random_fill_on_tracked_tensor_zeroes_old_gradient(L, name, where):
    """Filled values are constants: the overwritten values get a zero gradient (x.grad is zeros, not None,
    as in torch), and the rest of y passes its gradient through."""
    fill = FILLS[name]
    rng = np.random.default_rng(2)
    a, c = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    x = L.tensor(a, requires_grad=True)
    y = x * 2
    fill(y if where == "whole" else y[1])
    (y * L.tensor(c)).sum().backward()
    filled = y.detach().numpy() if where == "whole" else y.detach().numpy()[1]
    if name == "bernoulli_":
        assert set(np.unique(filled)) <= {0.0, 1.0}
    else:
        assert not np.any(np.isclose(filled, 2 * (a if where == "whole" else a[1])))
    expect = 2 * c
    expect[(slice(None) if where == "whole" else 1)] = 0.0
    np.testing.assert_allclose(x.grad.numpy(), expect, rtol=1e-12)
