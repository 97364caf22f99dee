"""Float64 central-difference checks of every op's first and second derivatives.

Each op is checked with ``tg.gradcheck`` (Jacobian from backward vs. central differences) and
``tg.gradgradcheck`` (the same for the create_graph backward, i.e. second order) over
hypothesis-generated shapes. Linear ops (movement, indexing, joins) have a constant first derivative,
so their second-order check runs on ``op(x) ** 2``: its first derivative is ``op^T(2 op(x) v)``, which
exercises the op's backward *and* the backward of that backward on Tensors.

Inputs are kept away from non-differentiable points: kinks of relu/abs/clip are pushed out of a margin,
ties of max/maximum/minimum are made impossible by construction, log/sqrt/pow get positive inputs and
denominators are kept away from zero.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from gradcheck_helpers import F64, T, check, float64_default  # noqa: F401  (the fixture applies here)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg
from tinygrad_rnn.tape import Function

MAX_SIDE = 4
MAX_DIMS = 3


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------


def shapes(min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def values(shape, lo=-2.0, hi=2.0):
    return hnp.arrays(F64, shape, elements=st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64))


def away_from(x, points=(0.0,), margin=0.1):
    """Push every value closer than ``margin`` to a kink in ``points`` out to distance ``margin``."""
    x = np.array(x, dtype=F64, copy=True)
    for p in points:
        d = x - p
        near = np.abs(d) < margin
        x[near] = p + np.where(d[near] >= 0, margin, -margin)
    return x


def distinct(x):
    """Same order as ``x`` but every pair of values at least 0.2 apart: no ties anywhere."""
    x = np.asarray(x, dtype=F64)
    ranks = np.argsort(np.argsort(x.ravel(), kind="stable"), kind="stable").reshape(x.shape)
    return 0.3 * ranks - 0.15 * x.size + 0.05 * np.tanh(x)


def off_grid(a, b):
    """Snap a to k/2 + 1/4 and b to k/2 (plus a tiny wiggle), so |a - b| >= 0.2 everywhere after broadcast."""
    a = np.round(np.asarray(a) * 2) / 2 + 0.25 + 0.02 * np.tanh(a)
    b = np.round(np.asarray(b) * 2) / 2 + 0.02 * np.tanh(b)
    return a, b


@st.composite
def two_broadcast(draw, lo=-2.0, hi=2.0):
    s = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=MAX_DIMS, max_side=MAX_SIDE))
    a = draw(values(s.input_shapes[0], lo, hi))
    b = draw(values(s.input_shapes[1], lo, hi))
    return a, b, s.result_shape


@st.composite
def array(draw, min_dims=0, lo=-2.0, hi=2.0, max_dims=MAX_DIMS):
    shape = draw(shapes(min_dims=min_dims, max_dims=max_dims))
    return draw(values(shape, lo, hi))


@st.composite
def array_and_axis(draw, allow_none=True, allow_tuple=True, min_dims=0):
    x = draw(array(min_dims=min_dims))
    nd = x.ndim
    options = []
    if allow_none:
        options.append(st.none())
    if nd:
        options.append(st.integers(-nd, nd - 1))
        if allow_tuple:
            options.append(hnp.valid_tuple_axes(nd, min_size=1))
    axis = draw(st.one_of(*options))
    return x, axis


# ---------------------------------------------------------------------------------------------------
# the checker itself
# ---------------------------------------------------------------------------------------------------
class _WrongSquare(Function):
    """x*x whose backward forgets the factor 2."""

    def forward(self, x):
        return x * x

    def backward(self, g, x):
        return g * x


class _FrozenSquare(Function):
    """x*x with a correct first derivative that treats x as a constant: wrong second derivative."""

    def forward(self, x):
        return x * x

    def backward(self, g, x):
        return g * 2 * tg.ops.dual.value(x)


def test_gradcheck_detects_wrong_backward():
    x = T([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda x: _WrongSquare.apply(x), [x])
    msg = str(info.value)
    assert "analytic" in msg and "numeric" in msg
    assert tg.gradcheck(lambda x: _WrongSquare.apply(x), [x], raise_exception=False) is False
    # the correct op passes on the same input, so the failure is about the derivative
    assert tg.gradcheck(lambda x: x * x, [x]) is True


def test_gradcheck_names_worst_entry_values():
    x = T([3.0])
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda x: _WrongSquare.apply(x), [x])
    msg = str(info.value)
    # analytic derivative is x = 3, numeric is 2x = 6
    assert "analytic=3" in msg and "numeric=6" in msg


def test_gradgradcheck_detects_wrong_second_derivative():
    x = T([0.5, -1.0, 2.0])
    assert tg.gradcheck(lambda x: _FrozenSquare.apply(x), [x]) is True  # first order is right
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradgradcheck(lambda x: _FrozenSquare.apply(x), [x])
    assert "analytic" in str(info.value) and "numeric" in str(info.value)
    assert tg.gradgradcheck(lambda x: _FrozenSquare.apply(x), [x], raise_exception=False) is False


class _MisshapedGrad(Function):
    """Identity whose backward returns the right numbers in the wrong shape (same size)."""

    def forward(self, x):
        return x.copy()

    def backward(self, g, x):
        return g.reshape(g.shape[::-1])


def test_gradcheck_detects_wrong_gradient_shape():
    x = T(np.arange(6.0).reshape(2, 3))
    with pytest.raises(tg.GradcheckError, match="shape"):
        tg.gradcheck(lambda x: _MisshapedGrad.apply(x), [x])
    assert tg.gradcheck(lambda x: _MisshapedGrad.apply(x), [x], raise_exception=False) is False


def test_gradcheck_promotes_float32_with_warning():
    x32 = tg.Tensor(np.array([0.3, -1.2, 0.8], dtype=np.float32), requires_grad=True)
    seen = []

    def fn(x):
        seen.append(x.dtype)
        return (x * x).tanh()

    with pytest.warns(UserWarning, match="promoting"):
        assert tg.gradcheck(fn, [x32]) is True
    assert seen and all(d == np.float64 for d in seen)
    assert x32.dtype == np.float32  # the caller's tensor is untouched

    with pytest.warns(UserWarning, match="float32"):
        assert tg.gradgradcheck(fn, [x32]) is True


def test_gradcheck_float64_input_no_warning():
    x = T([0.3, -1.2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tg.gradcheck(lambda x: x.exp(), [x]) is True


def test_gradcheck_requires_some_input_with_grad():
    with pytest.raises(ValueError):
        tg.gradcheck(lambda x: x * 2, [T([1.0], requires_grad=False)])


# ---------------------------------------------------------------------------------------------------
# arithmetic with broadcasting
# ---------------------------------------------------------------------------------------------------
@given(two_broadcast())
def test_add(data):
    a, b, _ = data
    check(lambda a, b: a + b, T(a), T(b))


@given(two_broadcast())
def test_sub(data):
    a, b, _ = data
    check(lambda a, b: a - b, T(a), T(b))


@given(two_broadcast())
def test_mul(data):
    a, b, _ = data
    check(lambda a, b: a * b, T(a), T(b))


@given(two_broadcast())
def test_div(data):
    a, b, _ = data
    b = away_from(b, (0.0,), 0.5)
    check(lambda a, b: a / b, T(a), T(b))


BROADCAST_PAIRS = [
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((2, 1, 3), (4, 1)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((1, 3), (2, 1)),
    ((2, 3, 1), (2, 1, 4)),
]
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "maximum": lambda a, b: a.maximum(b) * a,
    "minimum": lambda a, b: tg.minimum(a, b) * b,
}


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_broadcasting_fixed_shapes(op, shapes, rng):
    a = rng.uniform(0.5, 1.5, shapes[0])  # positive base for pow
    b = rng.uniform(0.5, 1.5, shapes[1]) * rng.choice([-1.0, 1.0], shapes[1])  # |b| >= 0.5 for div
    if op in ("maximum", "minimum"):
        a, b = off_grid(a, b)
    out = BINARY[op](T(a), T(b))
    assert out.shape == np.broadcast_shapes(shapes[0], shapes[1])
    check(BINARY[op], T(a), T(b))


@given(array(), st.floats(-2, 2).filter(lambda s: abs(s) > 0.3))
def test_ops_with_python_scalars(x, s):
    xp = away_from(x, (0.0,), 0.5)
    check(lambda x: x + s, T(x))
    check(lambda x: s - x, T(x))
    check(lambda x: x * s, T(x))
    check(lambda x: s / x, T(xp))
    check(lambda x: x / s, T(x))


@given(two_broadcast())
def test_ops_with_numpy_arrays_on_either_side(data):
    a, b, _ = data
    c = away_from(b, (0.0,), 0.5)
    check(lambda a: b * a + c / a.exp() - (b - a), T(a))
    check(lambda a: c / (a * a + 1), T(a))


@given(array(lo=0.3, hi=2.0), st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, 1.5, -0.5, 2.5]))
def test_pow_tensor_scalar_positive_base(x, p):
    check(lambda x: x**p, T(x))


@given(array(), st.sampled_from([1, 2, 3, 4, -1]))
def test_pow_tensor_integer_scalar_signed_base(x, p):
    x = away_from(x, (0.0,), 0.3)
    check(lambda x: x**p, T(x))


@given(two_broadcast())
def test_pow_tensor_tensor(data):
    a, b, _ = data
    a = 0.3 + np.abs(a)  # positive base
    check(lambda a, b: a**b, T(a), T(b))


@given(array(), st.sampled_from([2.0, 0.5, 3.7]))
def test_pow_scalar_tensor(x, base):
    check(lambda x: base**x, T(x))


# ---------------------------------------------------------------------------------------------------
# matmul
# ---------------------------------------------------------------------------------------------------
@st.composite
def matmul_operands(draw, kind):
    n, k, m = (draw(st.integers(1, MAX_SIDE)) for _ in range(3))
    if kind in ("batched", "mv_batched", "vm_batched"):
        bs = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3))
        ba, bb = bs.input_shapes
    else:
        ba = bb = ()
    sa, sb = {
        "2d": ((n, k), (k, m)),
        "batched": (ba + (n, k), bb + (k, m)),
        "mv": ((n, k), (k,)),
        "mv_batched": (ba + (n, k), (k,)),
        "vm": ((k,), (k, m)),
        "vm_batched": ((k,), bb + (k, m)),
        "vv": ((k,), (k,)),
    }[kind]
    return draw(values(sa)), draw(values(sb))


@pytest.mark.parametrize("kind", ["2d", "batched", "mv", "mv_batched", "vm", "vm_batched", "vv"])
@given(data=st.data())
def test_matmul(kind, data):
    a, b = data.draw(matmul_operands(kind))
    expected = np.matmul(a, b)
    out = T(a) @ T(b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected)
    check(lambda a, b: a @ b, T(a), T(b))
    check(lambda a, b: tg.matmul(a, b), T(a), T(b), second=False)


@pytest.mark.parametrize(
    "shapes",
    [
        ((2, 3), (3, 4)),
        ((2, 1, 2, 3), (3, 3, 2)),
        ((1, 2, 3), (4, 3, 2)),
        ((2, 2, 3), (3,)),
        ((3,), (2, 3, 4)),
        ((3,), (3,)),
        ((2, 3), (3,)),
        ((3,), (3, 2)),
    ],
    ids=str,
)
def test_matmul_fixed_shapes(shapes, rng):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    out = T(a) @ T(b)
    assert out.shape == np.matmul(a, b).shape
    np.testing.assert_allclose(out.numpy(), np.matmul(a, b), rtol=1e-12)
    check(lambda a, b: a @ b, T(a), T(b))
    check(lambda a, b: (a @ b).tanh(), T(a), T(b))


@given(matmul_operands("batched"))
def test_matmul_one_side_constant(ab):
    a, b = ab
    check(lambda a: a @ T(b, requires_grad=False), T(a))
    check(lambda b: T(a, requires_grad=False) @ b, T(b))


# ---------------------------------------------------------------------------------------------------
# unary
# ---------------------------------------------------------------------------------------------------
@given(array())
def test_neg(x):
    check(lambda x: -x, T(x), square_for_second=True)
    check(lambda x: x.neg(), T(x))


@given(array())
def test_abs(x):
    x = away_from(x, (0.0,))
    check(lambda x: abs(x), T(x), square_for_second=True)
    check(lambda x: x.abs() * x, T(x))


@given(array())
def test_exp(x):
    check(lambda x: x.exp(), T(x))
    check(lambda x: tg.exp(x), T(x), second=False)


@given(array(lo=-4.0, hi=4.0))
def test_sin_cos(x):
    check(lambda x: x.sin(), T(x))
    check(lambda x: tg.cos(x), T(x))
    np.testing.assert_allclose(tg.sin(T(x)).numpy(), np.sin(x), rtol=1e-12)


@given(array(lo=0.2, hi=4.0))
def test_log(x):
    check(lambda x: x.log(), T(x))
    check(lambda x: tg.log(x), T(x), second=False)


@given(array(lo=-0.8, hi=4.0))
def test_log1p(x):
    check(lambda x: x.log1p(), T(x))
    check(lambda x: tg.log1p(x), T(x), second=False)
    np.testing.assert_allclose(T(np.array([1e-20])).log1p().numpy(), [1e-20], rtol=1e-15)


@given(array(lo=0.2, hi=4.0))
def test_sqrt(x):
    check(lambda x: x.sqrt(), T(x))
    check(lambda x: tg.sqrt(x), T(x), second=False)


@given(array(lo=-3.0, hi=3.0))
def test_tanh(x):
    check(lambda x: x.tanh(), T(x))
    check(lambda x: tg.tanh(x), T(x), second=False)


@given(array(lo=-6.0, hi=6.0))
def test_sigmoid(x):
    check(lambda x: x.sigmoid(), T(x))
    check(lambda x: tg.sigmoid(x), T(x), second=False)


@given(array())
def test_relu(x):
    x = away_from(x, (0.0,))
    check(lambda x: x.relu(), T(x), square_for_second=True)
    check(lambda x: tg.relu(x) * x.exp(), T(x))


@given(two_broadcast())
def test_maximum(data):
    a, b = off_grid(*data[:2])
    check(lambda a, b: a.maximum(b), T(a), T(b), square_for_second=True)
    check(lambda a, b: tg.maximum(b, a) * a, T(a), T(b))


@given(two_broadcast())
def test_minimum(data):
    a, b = off_grid(*data[:2])
    check(lambda a, b: a.minimum(b), T(a), T(b), square_for_second=True)
    check(lambda a, b: tg.minimum(a, b) * b, T(a), T(b))


@given(array(), st.sampled_from([0.0, 0.7]))
def test_maximum_minimum_with_scalar(x, s):
    x = away_from(x, (s,))
    check(lambda x: x.maximum(s) * x, T(x))
    check(lambda x: x.minimum(s) * x, T(x))


@given(array(lo=-1.5, hi=1.5), st.sampled_from([(-0.5, 0.5), (-0.5, None), (None, 0.5)]))
def test_clip(x, bounds):
    lo, hi = bounds
    x = away_from(x, (-0.5, 0.5))
    check(lambda x: x.clip(lo, hi), T(x), square_for_second=True)
    check(lambda x: tg.clip(x, lo, hi) * x, T(x))
    check(lambda x: x.clamp(min=lo, max=hi), T(x), second=False)


@st.composite
def where_operands(draw):
    s = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=MAX_DIMS, max_side=MAX_SIDE))
    cond = draw(hnp.arrays(np.bool_, s.input_shapes[0]))
    return cond, draw(values(s.input_shapes[1])), draw(values(s.input_shapes[2]))


@given(where_operands())
def test_where(ops):
    cond, a, b = ops
    check(lambda a, b: tg.where(cond, a, b), T(a), T(b), square_for_second=True)
    check(lambda a, b: tg.where(tg.Tensor(cond), a.tanh(), b * b), T(a), T(b))
    check(lambda a: tg.where(cond, a, 0.5), T(a), square_for_second=True)
    check(lambda b: tg.where(cond, 0.5, b), T(b), square_for_second=True)


# ---------------------------------------------------------------------------------------------------
# softmax family and reductions
# ---------------------------------------------------------------------------------------------------
@given(array_and_axis(allow_none=False, allow_tuple=False, min_dims=1))
def test_softmax(xa):
    x, axis = xa
    check(lambda x: x.softmax(axis), T(x))
    check(lambda x: tg.softmax(x, axis=axis), T(x), second=False)


@given(array_and_axis(allow_none=False, allow_tuple=False, min_dims=1))
def test_log_softmax(xa):
    x, axis = xa
    check(lambda x: x.log_softmax(axis), T(x))
    check(lambda x: tg.log_softmax(x, axis=axis), T(x), second=False)


def test_softmax_default_axis_is_last():
    x = T(np.arange(6.0).reshape(2, 3) / 3)
    np.testing.assert_allclose(x.softmax().numpy(), x.softmax(1).numpy())
    check(lambda x: x.softmax() * x, x)
    check(lambda x: x.log_softmax() * x, x)


@given(array_and_axis(), st.booleans())
def test_sum(xa, keepdims):
    x, axis = xa
    out = T(x).sum(axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.numpy(), np.sum(x, axis=axis, keepdims=keepdims))
    check(lambda x: x.sum(axis=axis, keepdims=keepdims), T(x), square_for_second=True)


@given(array_and_axis(), st.booleans())
def test_mean(xa, keepdims):
    x, axis = xa
    out = T(x).mean(axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.numpy(), np.mean(x, axis=axis, keepdims=keepdims))
    check(lambda x: x.mean(axis=axis, keepdims=keepdims), T(x), square_for_second=True)


@given(array_and_axis(), st.booleans())
def test_max(xa, keepdims):
    x, axis = xa
    x = distinct(x)
    out = T(x).max(axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.numpy(), np.max(x, axis=axis, keepdims=keepdims))
    check(lambda x: x.max(axis=axis, keepdims=keepdims), T(x), square_for_second=True)


@given(array_and_axis(), st.booleans())
def test_min(xa, keepdims):
    x, axis = xa
    x = distinct(x)
    out = T(x).min(axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.numpy(), np.min(x, axis=axis, keepdims=keepdims))
    check(lambda x: x.min(axis=axis, keepdims=keepdims), T(x), square_for_second=True)


REDUCTIONS = {
    "sum": lambda x, axis, k: x.sum(axis=axis, keepdims=k),
    "mean": lambda x, axis, k: x.mean(axis=axis, keepdims=k),
    "max": lambda x, axis, k: x.max(axis=axis, keepdims=k),
    "min": lambda x, axis, k: x.min(axis=axis, keepdims=k),
}
NP_REDUCTIONS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, -3, (0, 2), (-1, 0), (0, 1, 2)], ids=str)
@pytest.mark.parametrize("op", list(REDUCTIONS))
def test_reductions_fixed_axes(op, axis, keepdims, rng):
    x = distinct(rng.standard_normal((2, 3, 4)))
    out = REDUCTIONS[op](T(x), axis, keepdims)
    np.testing.assert_allclose(out.numpy(), NP_REDUCTIONS[op](x, axis=axis, keepdims=keepdims), rtol=1e-12)
    check(lambda t: REDUCTIONS[op](t, axis, keepdims), T(x), square_for_second=True)


def test_max_tie_splits_gradient_evenly():
    x = T([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


# ---------------------------------------------------------------------------------------------------
# movement
# ---------------------------------------------------------------------------------------------------
@st.composite
def array_and_newshape(draw):
    x = draw(array())
    n = x.size
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    d = draw(st.sampled_from(divisors))
    new = draw(
        st.sampled_from(
            [(n,), (-1,), (d, n // d), (n // d, -1), (1, d, n // d), tuple(reversed(x.shape)), (d, 1, n // d, 1)]
        )
    )
    return x, new


@given(array_and_newshape())
def test_reshape(xs):
    x, new = xs
    out = T(x).reshape(new)
    assert out.shape == x.reshape(new).shape
    check(lambda x: x.reshape(new), T(x), square_for_second=True)
    check(lambda x: x.reshape(*new).tanh(), T(x), second=False)
    check(lambda x: x.flatten(), T(x), second=False)


@given(array(min_dims=1).flatmap(lambda x: st.tuples(st.just(x), st.permutations(range(x.ndim)))))
def test_permute_and_transpose(xp):
    x, perm = xp
    perm = tuple(perm)
    np.testing.assert_array_equal(T(x).permute(*perm).numpy(), np.transpose(x, perm))
    check(lambda x: x.permute(*perm), T(x), square_for_second=True)
    xt = T(np.transpose(x, perm), requires_grad=False)
    check(lambda t: t.permute(perm) * xt, T(x), second=False)
    check(lambda x: x.transpose(*perm) if len(perm) != 2 else x.transpose(), T(x), square_for_second=True)
    check(lambda x: x.T, T(x), square_for_second=True)
    np.testing.assert_array_equal(T(x).T.numpy(), x.T)


@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))))
def test_permute_all_orders_distinct_sizes(perm, rng):
    # distinct sizes make every wrong inverse permutation visible (shape or element order)
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(T(x).permute(perm).numpy(), np.transpose(x, perm))
    check(lambda t: t.permute(*perm), T(x), square_for_second=True)
    t = T(x)
    t.permute(*perm).backward(np.transpose(x, perm))
    np.testing.assert_array_equal(t.grad.numpy(), x)  # the adjoint of a permutation is its inverse


@given(
    array(min_dims=1).flatmap(
        lambda x: st.tuples(st.just(x), st.integers(-x.ndim, x.ndim - 1), st.integers(-x.ndim, x.ndim - 1))
    )
)
def test_swapaxes(xab):
    x, a, b = xab
    np.testing.assert_array_equal(T(x).swapaxes(a, b).numpy(), np.swapaxes(x, a, b))
    np.testing.assert_array_equal(T(x).transpose(a, b).numpy(), np.swapaxes(x, a, b))
    check(lambda x: x.swapaxes(a, b), T(x), square_for_second=True)
    check(lambda x: x.transpose(a, b), T(x), square_for_second=True)


@st.composite
def array_and_target(draw):
    s = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=MAX_DIMS, max_side=MAX_SIDE))
    x = draw(values(s.input_shapes[0]))
    return x, s.result_shape


@given(array_and_target())
def test_broadcast_to_and_expand(xt):
    x, target = xt
    np.testing.assert_array_equal(T(x).broadcast_to(target).numpy(), np.broadcast_to(x, target))
    check(lambda x: x.broadcast_to(target), T(x), square_for_second=True)
    check(lambda x: x.expand(*target), T(x), square_for_second=True)
    lead = len(target) - x.ndim
    keep = tuple(n if i < lead else -1 for i, n in enumerate(target))  # -1 keeps a dimension's size
    xb = T(np.broadcast_to(x, target), requires_grad=False)
    check(lambda t: t.expand(keep) * xb, T(x))


# ---------------------------------------------------------------------------------------------------
# indexing
# ---------------------------------------------------------------------------------------------------
@given(array(min_dims=1).flatmap(lambda x: st.tuples(st.just(x), hnp.basic_indices(x.shape, allow_newaxis=True))))
def test_getitem_basic(xi):
    x, idx = xi
    np.testing.assert_array_equal(T(x)[idx].numpy(), x[idx])
    check(lambda x: x[idx], T(x), square_for_second=True)


@st.composite
def repeated_integer_index(draw):
    x = draw(array(min_dims=1))
    idx = draw(
        hnp.integer_array_indices(
            x.shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=4)
        )
    )
    idx = tuple(np.array(i, copy=True) for i in idx)
    for i in idx:  # the last selected element repeats the first: a guaranteed repeated index
        i.flat[-1] = i.flat[0]
    return x, idx


@given(repeated_integer_index())
def test_getitem_integer_arrays_with_repeats(xi):
    x, idx = xi
    flat = np.ravel_multi_index(tuple(i % n for i, n in zip(idx, x.shape)), x.shape).ravel()
    assert len(set(flat.tolist())) < flat.size  # there really is a repeat
    np.testing.assert_array_equal(T(x)[idx].numpy(), x[idx])
    check(lambda x: x[idx], T(x), square_for_second=True)
    # repeated picks accumulate: d/dx sum(x[idx]) counts how often each element is picked
    t = T(x)
    t[idx].sum().backward()
    counts = np.zeros(x.size)
    np.add.at(counts, flat, 1)
    np.testing.assert_array_equal(t.grad.numpy(), counts.reshape(x.shape))


@given(
    array(min_dims=1).flatmap(
        lambda x: st.tuples(st.just(x), st.lists(st.integers(-x.shape[0], x.shape[0] - 1), min_size=1, max_size=5))
    )
)
def test_getitem_list_on_first_axis_with_slice(xl):
    x, lst = xl
    lst = lst + [lst[0]]  # a repeat
    idx = (lst, slice(None, None, -1)) if x.ndim > 1 else (lst,)
    np.testing.assert_array_equal(T(x)[idx].numpy(), x[idx])
    check(lambda x: x[idx], T(x), square_for_second=True)
    check(lambda x: x[lst].tanh(), T(x))


def test_getitem_repeated_index_gradient_values():
    x = T([1.0, 2.0, 3.0])
    y = x[[0, 0, 2, 0]]
    (y * T([1.0, 2.0, 3.0, 4.0], requires_grad=False)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 0.0, 3.0])


@given(array(min_dims=1).flatmap(lambda x: st.tuples(st.just(x), hnp.arrays(np.bool_, x.shape))))
def test_getitem_boolean_mask(xm):
    x, mask = xm
    np.testing.assert_array_equal(T(x)[mask].numpy(), x[mask])
    check(lambda x: x[mask], T(x), square_for_second=True)
    check(lambda x: x[tg.Tensor(mask)].exp(), T(x))


@given(array(min_dims=2).flatmap(lambda x: st.tuples(st.just(x), hnp.arrays(np.bool_, (x.shape[0],)))))
def test_getitem_boolean_mask_first_axis_plus_slice(xm):
    x, mask = xm
    idx = (mask, slice(1, None))
    np.testing.assert_array_equal(T(x)[idx].numpy(), x[idx])
    check(lambda x: x[idx], T(x), square_for_second=True)


# ---------------------------------------------------------------------------------------------------
# joins and splits
# ---------------------------------------------------------------------------------------------------
@st.composite
def concat_operands(draw):
    base = list(draw(shapes(min_dims=1)))
    nd = len(base)
    axis = draw(st.integers(-nd, nd - 1))
    k = draw(st.integers(1, 3))
    xs = []
    for _ in range(k):
        s = list(base)
        s[axis] = draw(st.integers(1, 3))
        xs.append(draw(values(tuple(s))))
    return xs, axis


@given(concat_operands())
def test_concat(xa):
    xs, axis = xa
    np.testing.assert_array_equal(tg.concat([T(x) for x in xs], axis=axis).numpy(), np.concatenate(xs, axis=axis))
    check(lambda *ts: tg.concat(list(ts), axis=axis), *[T(x) for x in xs], square_for_second=True)
    check(lambda *ts: tg.cat(ts, axis).tanh(), *[T(x) for x in xs], second=False)


def test_concat_with_constant_piece():
    a, c = T([[1.0, 2.0]]), T([[3.0, 4.0]], requires_grad=False)
    check(lambda a: tg.concat([c, a, c], axis=0) ** 2, a)


@st.composite
def stack_operands(draw):
    shape = draw(shapes(min_dims=0))
    k = draw(st.integers(1, 3))
    axis = draw(st.integers(-(len(shape) + 1), len(shape)))
    return [draw(values(shape)) for _ in range(k)], axis


@given(stack_operands())
def test_stack(xa):
    xs, axis = xa
    np.testing.assert_array_equal(tg.stack([T(x) for x in xs], axis=axis).numpy(), np.stack(xs, axis=axis))
    check(lambda *ts: tg.stack(list(ts), axis=axis), *[T(x) for x in xs], square_for_second=True)


@st.composite
def split_operands(draw):
    x = draw(array(min_dims=1))
    nd = x.ndim
    axis = draw(st.integers(-nd, nd - 1))
    n = x.shape[axis]
    if draw(st.booleans()):
        spec = draw(st.integers(1, n + 1))
        expected = [min(spec, n - i) for i in range(0, n, spec)]
    else:
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        bounds = [0] + cuts + [n]
        spec = [b - a for a, b in zip(bounds, bounds[1:])]
        expected = spec
    return x, spec, axis, expected


@given(split_operands())
def test_split(xs):
    x, spec, axis, sizes = xs
    pieces = tg.split(T(x), spec, axis=axis)
    assert [p.shape[axis] for p in pieces] == sizes
    for p, e in zip(pieces, np.split(x, np.cumsum(sizes)[:-1], axis=axis)):
        np.testing.assert_array_equal(p.numpy(), e)
    check(lambda x: tg.split(x, spec, axis=axis), T(x), square_for_second=True)
    # use only some pieces: the missing gradients are filled with zeros (first and second order)
    check(lambda x: x.split(spec, axis)[-1] * 2.0, T(x), square_for_second=True)
    check(lambda x: x.split(spec, axis)[0].tanh(), T(x))


@given(array(min_dims=1).flatmap(lambda x: st.tuples(st.just(x), st.integers(-x.ndim, x.ndim - 1))))
def test_unbind(xa):
    x, axis = xa
    parts = T(x).unbind(axis)
    assert len(parts) == x.shape[axis]
    for i, p in enumerate(parts):
        np.testing.assert_array_equal(p.numpy(), np.take(x, i, axis=axis))
    check(lambda x: tg.unbind(x, axis), T(x), square_for_second=True)
    check(lambda x: x.unbind(axis)[0].sigmoid(), T(x))
    check(lambda x: tg.stack(x.unbind(axis)[::-1], axis=axis) * x, T(x))


@st.composite
def pad_operands(draw):
    x = draw(array(min_dims=1))
    pw = tuple(draw(st.tuples(st.integers(0, 2), st.integers(0, 2))) for _ in range(x.ndim))
    return x, pw, draw(st.sampled_from([0.0, 1.5]))


@given(pad_operands())
def test_pad(xp):
    x, pw, value = xp
    np.testing.assert_array_equal(tg.pad(T(x), pw, value).numpy(), np.pad(x, pw, constant_values=value))
    check(lambda x: tg.pad(x, pw, value=value), T(x), square_for_second=True)


# ---------------------------------------------------------------------------------------------------
# the seeds' graphs, against closed-form derivatives
# ---------------------------------------------------------------------------------------------------
def test_seed_product_graph(rng):
    xv, yv, gv = rng.standard_normal((3, 4, 5))
    x, y = T(xv), T(yv)
    z = x * y
    z.backward(gv)
    np.testing.assert_allclose(z.numpy(), xv * yv)
    np.testing.assert_allclose(x.grad.numpy(), gv * yv, rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), gv * xv, rtol=1e-12)
    check(lambda x, y: x * y, T(xv[:2, :3]), T(yv[:2, :3]))


def test_seed_sigmoid_layer(rng):
    xv = rng.standard_normal((5, 3))
    wv = rng.standard_normal((3, 4))
    bv = rng.standard_normal(4)
    gv = rng.standard_normal((5, 4))
    x, W, b = T(xv), T(wv), T(bv)
    y = (x @ W + b).sigmoid()
    s = 1 / (1 + np.exp(-(xv @ wv + bv)))
    np.testing.assert_allclose(y.numpy(), s, rtol=1e-12)
    y.backward(gv)
    dpre = gv * s * (1 - s)
    np.testing.assert_allclose(W.grad.numpy(), xv.T @ dpre, rtol=1e-10)
    np.testing.assert_allclose(b.grad.numpy(), dpre.sum(0), rtol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), dpre @ wv.T, rtol=1e-10)
    check(lambda x, W, b: (x @ W + b).sigmoid(), T(xv[:2]), T(wv), T(bv))


def test_seed_relu_layer(rng):
    Xv = rng.standard_normal((6, 3))
    Wv = rng.standard_normal((3, 4))
    bv = rng.standard_normal(4)
    pre = Xv @ Wv + bv
    bv = bv + np.where(np.abs(pre) < 0.1, 0.25, 0.0).max(0)  # nudge away from the kink
    pre = Xv @ Wv + bv
    assert np.abs(pre).min() > 1e-3
    gv = rng.standard_normal((6, 4))
    X, W, b = T(Xv), T(Wv), T(bv)
    H = (X @ W + b).relu()
    np.testing.assert_allclose(H.numpy(), np.maximum(pre, 0), rtol=1e-12)
    H.backward(gv)
    dpre = gv * (pre > 0)
    assert 0 < (pre > 0).sum() < pre.size  # both sides of the kink are exercised
    np.testing.assert_allclose(W.grad.numpy(), Xv.T @ dpre, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), dpre.sum(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(X.grad.numpy(), dpre @ Wv.T, rtol=1e-10, atol=1e-12)
    if np.abs(pre[:2]).min() > 0.05:
        check(lambda X, W, b: (X @ W + b).relu(), T(Xv[:2]), T(Wv), T(bv))


def test_seed_relu_layer_scalar_loss():
    Xv = np.array([[1.0, -2.0], [0.5, 0.25], [-1.0, 3.0]])
    Wv = np.array([[0.5, -1.0, 2.0], [1.0, 0.3, -0.2]])
    bv = np.array([0.1, -0.3, 0.05])
    pre = Xv @ Wv + bv
    X, W, b = T(Xv), T(Wv), T(bv)
    (X @ W + b).relu().sum().backward()
    mask = (pre > 0).astype(F64)
    np.testing.assert_allclose(W.grad.numpy(), Xv.T @ mask)
    np.testing.assert_allclose(b.grad.numpy(), mask.sum(0))
    np.testing.assert_allclose(X.grad.numpy(), mask @ Wv.T)


@pytest.mark.parametrize("p", [0, 1, 2, 3])
def test_pow_integer_scalar_through_zero(p):
    # x**p with a non-negative integer p is smooth at 0: every derivative is finite there
    x = T([-1.0, 0.0, 0.5])
    check(lambda x: x**p, x)
    check(lambda x: x**p * x, x)
    (g,) = tg.grad((x**p).sum(), x)
    expected = p * np.array([-1.0, 0.0, 0.5]) ** (p - 1) if p else np.zeros(3)
    np.testing.assert_allclose(g.numpy(), expected)
