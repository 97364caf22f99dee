"""PyTorch's ``dim=``/``keepdim=`` next to NumPy's ``axis=``/``keepdims=`` everywhere an axis is taken.

Both spellings give the same result; passing both is a ``TypeError`` that names the op. Values are
checked against NumPy always and against PyTorch when it is installed (``torch`` tests skip without it).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn

R = np.random.default_rng(7)
X = R.normal(size=(2, 3, 4))


def T(a, **kw):
    return tg.tensor(np.asarray(a), **kw)


# ---- the two spellings agree -----------------------------------------------------------------------


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin"])
@pytest.mark.parametrize("d", [0, 1, -1, (0, 2), None])
@pytest.mark.parametrize("keep", [False, True])
def test_reductions_dim_equals_axis(op, d, keep):
    x = T(X)
    a = getattr(x, op)(dim=d, keepdim=keep)
    b = getattr(x, op)(axis=d, keepdims=keep)
    c = getattr(x, op)(d, keep)  # positional: dim, then keepdim
    ref = getattr(np, {"amax": "max", "amin": "min"}.get(op, op))(X, axis=d, keepdims=keep)
    for r in (a, b, c):
        assert r.shape == ref.shape
        np.testing.assert_allclose(r.numpy(), ref, rtol=1e-12)


@pytest.mark.parametrize("d", [0, 1, -1])
def test_softmax_family_dim_equals_axis(d):
    x = T(X)
    for name in ("softmax", "log_softmax"):
        ref = getattr(x, name)(axis=d).numpy()
        for r in (
            getattr(x, name)(d),
            getattr(x, name)(dim=d),
            getattr(tg, name)(x, dim=d),
            getattr(tg, name)(x, axis=d),
            getattr(F, name)(x, dim=d),
            getattr(F, name)(x, d),
        ):
            np.testing.assert_allclose(r.numpy(), ref, rtol=1e-12)
    assert np.allclose(x.softmax().numpy(), x.softmax(-1).numpy())  # no dim: the last one


def test_softmax_dtype_argument_casts_first():
    x = T(X.astype(np.float32))
    assert x.softmax(1, dtype=tg.float64).dtype == np.float64
    assert tg.log_softmax(x, dim=1, dtype=tg.float64).dtype == np.float64
    assert x.sum(dtype=tg.float64).dtype == np.float64 and x.mean(0, dtype=tg.float64).dtype == np.float64


def test_joins_and_splits_take_dim():
    a, b = T(X), T(X + 1)
    assert tg.cat([a, b], dim=1).shape == (2, 6, 4) == tg.concat([a, b], axis=1).shape
    assert tg.cat([a, b], 2).shape == (2, 3, 8)
    assert tg.stack([a, b], dim=2).shape == (2, 3, 2, 4) == tg.stack([a, b], axis=2).shape
    np.testing.assert_array_equal(tg.stack([a, b], dim=-1).numpy(), np.stack([X, X + 1], axis=-1))
    parts = a.split(2, dim=2)
    assert [p.shape for p in parts] == [(2, 3, 2), (2, 3, 2)]
    assert [p.shape for p in tg.split(a, [1, 2], dim=1)] == [(2, 1, 4), (2, 2, 4)]
    assert [p.shape for p in a.split([1, 2], axis=1)] == [(2, 1, 4), (2, 2, 4)]
    assert [p.shape for p in a.unbind(dim=1)] == [(2, 4)] * 3 == [p.shape for p in tg.unbind(a, dim=1)]
    assert [p.shape for p in a.unbind(axis=2)] == [(2, 3)] * 4


def test_unsqueeze_squeeze_flatten_take_dim():
    x = T(X)
    assert x.unsqueeze(dim=1).shape == (2, 1, 3, 4) == x.unsqueeze(axis=1).shape == tg.unsqueeze(x, 1).shape
    assert x.unsqueeze(-1).shape == (2, 3, 4, 1) and x.unsqueeze(-4).shape == (1, 2, 3, 4)
    with pytest.raises(ValueError, match="unsqueeze: axis 4 is out of range"):
        x.unsqueeze(4)
    y = T(np.zeros((2, 1, 3, 1)))
    assert y.squeeze().shape == (2, 3) and y.squeeze(dim=1).shape == (2, 3, 1)
    assert y.squeeze((1, 3)).shape == (2, 3) and tg.squeeze(y, -1).shape == (2, 1, 3)
    assert y.squeeze(0).shape == (2, 1, 3, 1)  # PyTorch: a dim that is not 1 is left alone
    with pytest.raises(ValueError, match="squeeze: axis 0 has length 2"):
        y.squeeze(axis=0)  # NumPy's spelling keeps NumPy's error
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12) and x.flatten(0, 1).shape == (6, 4)
    assert x.flatten(start_dim=-2).shape == (2, 12) and tg.flatten(x, 1, 2).shape == (2, 12)
    assert tg.tensor(3.0).flatten().shape == (1,)
    with pytest.raises(ValueError, match="flatten: start_dim 2 comes after end_dim 1"):
        x.flatten(2, 1)


def test_function_forms_of_reductions():
    x = T(X)
    np.testing.assert_allclose(tg.sum(x, dim=1).numpy(), X.sum(1))
    np.testing.assert_allclose(tg.mean(x, (0, 2), keepdim=True).numpy(), X.mean((0, 2), keepdims=True))
    np.testing.assert_allclose(tg.amax(x, dim=(1, 2)).numpy(), X.max((1, 2)))
    np.testing.assert_allclose(tg.amin(x, 0).numpy(), X.min(0))
    assert tg.argmax(x, dim=1).shape == (2, 4) and tg.argmin(x).shape == ()
    assert tg.numel(x) == 24 and tg.is_floating_point(x) and not tg.is_floating_point(T([1, 2]))


def test_empty_dim_tuple_means_all_for_dim_but_none_for_axis():
    x = T(X)
    assert x.sum(dim=()).shape == () and x.mean(dim=()).shape == ()  # PyTorch
    assert x.amax().shape == () and x.amax(()).shape == ()
    assert x.sum(axis=()).shape == (2, 3, 4)  # NumPy: reduce nothing


# ---- both spellings at once -------------------------------------------------------------------------

BOTH = [
    ("sum", lambda x: x.sum(dim=0, axis=0), "dim= and axis="),
    ("sum", lambda x: x.sum(0, axis=1), "dim= and axis="),
    ("sum", lambda x: x.sum(keepdim=True, keepdims=True), "keepdim= and keepdims="),
    ("sum", lambda x: x.sum(0, False, keepdims=False), "keepdim= and keepdims="),
    ("mean", lambda x: x.mean(dim=None, axis=0), "dim= and axis="),
    ("max", lambda x: x.max(dim=1, axis=1), "dim= and axis="),
    ("max", lambda x: x.max(1, keepdim=True, keepdims=True), "keepdim= and keepdims="),
    ("min", lambda x: x.min(dim=1, axis=1), "dim= and axis="),
    ("amax", lambda x: x.amax(dim=1, axis=1), "dim= and axis="),
    ("amin", lambda x: x.amin(keepdim=False, keepdims=True), "keepdim= and keepdims="),
    ("argmax", lambda x: x.argmax(dim=1, axis=1), "dim= and axis="),
    ("argmin", lambda x: x.argmin(1, keepdim=True, keepdims=True), "keepdim= and keepdims="),
    ("softmax", lambda x: x.softmax(dim=1, axis=1), "dim= and axis="),
    ("softmax", lambda x: tg.softmax(x, 1, axis=1), "dim= and axis="),
    ("log_softmax", lambda x: F.log_softmax(x, dim=1, axis=0), "dim= and axis="),
    ("concat", lambda x: tg.cat([x, x], dim=0, axis=0), "dim= and axis="),
    ("stack", lambda x: tg.stack([x, x], dim=0, axis=0), "dim= and axis="),
    ("split", lambda x: x.split(1, dim=0, axis=0), "dim= and axis="),
    ("split", lambda x: tg.split(x, 1, 0, axis=0), "dim= and axis="),
    ("unbind", lambda x: x.unbind(dim=0, axis=0), "dim= and axis="),
    ("unbind", lambda x: tg.unbind(x, 0, axis=0), "dim= and axis="),
    ("squeeze", lambda x: x.squeeze(dim=0, axis=0), "dim= and axis="),
    ("unsqueeze", lambda x: x.unsqueeze(0, axis=0), "dim= and axis="),
]


@pytest.mark.parametrize("name, fn, what", BOTH, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BOTH)])
def test_both_spellings_is_a_type_error_naming_the_op(name, fn, what):
    with pytest.raises(TypeError, match=rf"^{name}: got both {what}"):
        fn(T(X))


def test_softmax_modules_take_dim():
    x = T(X)
    np.testing.assert_allclose(nn.Softmax(dim=1)(x).numpy(), x.softmax(1).numpy())
    np.testing.assert_allclose(nn.LogSoftmax(dim=-1)(x).numpy(), x.log_softmax(-1).numpy())
    np.testing.assert_allclose(nn.Softmax(1)(x).numpy(), x.softmax(1).numpy())
    np.testing.assert_allclose(nn.Softmax()(x).numpy(), x.softmax(-1).numpy())
    m = nn.Softmax(axis=0)  # the old keyword still works, and reads back under both names
    assert m.dim == 0 and m.axis == 0 and repr(m) == "Softmax(dim=0)"
    with pytest.raises(TypeError, match="Softmax: got both dim= and axis="):
        nn.Softmax(dim=0, axis=0)


def test_out_of_range_dim_names_the_op():
    x = T(X)
    with pytest.raises(ValueError, match="sum: axis 3 is out of range"):
        x.sum(dim=3)
    with pytest.raises(ValueError, match="concat: axis -4 is out of range"):
        tg.cat([x, x], dim=-4)


def test_gradients_flow_through_dim_spelling():
    x = tg.tensor(X, requires_grad=True)
    (x.sum(dim=1, keepdim=True) * x.mean(dim=(0, 2), keepdim=True)).sum().backward()
    g1 = x.grad.numpy()
    y = tg.tensor(X, requires_grad=True)
    (y.sum(axis=1, keepdims=True) * y.mean(axis=(0, 2), keepdims=True)).sum().backward()
    np.testing.assert_allclose(g1, y.grad.numpy())


# ---- hypothesis: random shapes, dims, keepdim against NumPy (and PyTorch) --------------------------


@st.composite
def array_and_dim(draw, allow_none=True):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    a = draw(hnp.arrays(np.float64, shape, elements=st.floats(-5, 5, allow_nan=False)))
    choices = st.integers(-len(shape), len(shape) - 1)
    d = draw(st.none() | choices) if allow_none else draw(choices)
    return a, d, draw(st.booleans())


@given(array_and_dim())
def test_hypothesis_sum_mean_amax_amin(case):
    a, d, keep = case
    x = T(a)
    for op, ref in (("sum", np.sum), ("mean", np.mean), ("amax", np.max), ("amin", np.min)):
        got = getattr(x, op)(dim=d, keepdim=keep)
        want = ref(a, axis=d, keepdims=keep)
        assert got.shape == np.shape(want)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@given(array_and_dim(allow_none=False))
def test_hypothesis_max_min_dim_and_argmax(case):
    a, d, keep = case
    x = T(a)
    for op, ref, arg in (("max", np.max, np.argmax), ("min", np.min, np.argmin)):
        values, indices = getattr(x, op)(d, keepdim=keep)
        np.testing.assert_array_equal(values.numpy(), ref(a, axis=d, keepdims=keep))
        np.testing.assert_array_equal(indices.numpy(), arg(a, axis=d, keepdims=keep))
        assert indices.dtype == np.int64
    np.testing.assert_array_equal(x.argmax(dim=d, keepdim=keep).numpy(), np.argmax(a, axis=d, keepdims=keep))
    np.testing.assert_array_equal(x.argmin(d, keep).numpy(), np.argmin(a, axis=d, keepdims=keep))


@given(array_and_dim(allow_none=False))
def test_hypothesis_softmax_log_softmax(case):
    a, d, _ = case
    x = T(a)
    e = np.exp(a - a.max(axis=d, keepdims=True))
    sm = e / e.sum(axis=d, keepdims=True)
    np.testing.assert_allclose(x.softmax(dim=d).numpy(), sm, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(tg.log_softmax(x, dim=d).numpy(), np.log(sm), rtol=1e-10, atol=1e-10)


@given(array_and_dim())
def test_hypothesis_against_torch(case):
    torch = pytest.importorskip("torch")
    a, d, keep = case
    x, t = T(a), torch.tensor(a)
    kw = {} if d is None else {"dim": d, "keepdim": keep}
    for op in ("sum", "mean", "amax", "amin"):
        got, want = getattr(x, op)(**kw), getattr(t, op)(**kw)
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(x.argmax(**kw).numpy(), t.argmax(**kw).numpy())
    np.testing.assert_array_equal(x.argmin(**kw).numpy(), t.argmin(**kw).numpy())
    if d is not None:
        for op in ("max", "min"):
            got, want = getattr(x, op)(d, keep), getattr(t, op)(d, keep)
            np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
            np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
        np.testing.assert_allclose(x.softmax(d).numpy(), t.softmax(d).numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(x.log_softmax(dim=d).numpy(), t.log_softmax(dim=d).numpy(), rtol=1e-10, atol=1e-10)
    else:
        np.testing.assert_array_equal(x.max().numpy(), t.max().numpy())
        np.testing.assert_array_equal(x.min().numpy(), t.min().numpy())


def test_shape_functions_against_torch():
    torch = pytest.importorskip("torch")
    a = R.normal(size=(2, 1, 3, 1))
    x, t = T(a), torch.tensor(a)
    for args in [(), (1,), (0,), ((1, 3),), (-1,)]:
        assert x.squeeze(*args).shape == tuple(t.squeeze(*args).shape)
    for args in [(), (1,), (0, 2), (-2,), (1, -1)]:
        assert x.flatten(*args).shape == tuple(t.flatten(*args).shape)
    for d in range(-5, 5):
        assert x.unsqueeze(d).shape == tuple(t.unsqueeze(d).shape)
    for d in range(-4, 4):
        assert [p.shape for p in x.split(1, dim=d)] == [tuple(p.shape) for p in t.split(1, dim=d)]
        assert [p.shape for p in x.unbind(d)] == [tuple(p.shape) for p in t.unbind(d)]
        assert tg.cat([x, x], dim=d).shape == tuple(torch.cat([t, t], dim=d).shape)
    for d in range(-5, 5):
        assert tg.stack([x, x], dim=d).shape == tuple(torch.stack([t, t], dim=d).shape)
