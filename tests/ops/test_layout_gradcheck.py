"""Float64 gradcheck and gradgradcheck of the layout and product ops: flip, repeat, repeat_interleave,
tril/triu, clone, contiguous, t, chunk, bmm and baddbmm, over hypothesis-generated shapes and
arguments. The linear ones are checked to second order on ``op(x) ** 2``."""

from __future__ import annotations

import functools

import numpy as np
from gradcheck_helpers import F64, T, float64_default  # noqa: F401  (the fixture applies here)
from gradcheck_helpers import check as _check
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg

check = functools.partial(_check, square_for_second=True)


def arrays(min_dims=0, max_dims=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4).flatmap(
        lambda s: hnp.arrays(F64, s, elements=st.floats(-2, 2, width=64))
    )


@given(arrays(min_dims=1).flatmap(lambda x: st.tuples(st.just(x), hnp.valid_tuple_axes(x.ndim))))
def test_flip(c):
    x, dims = c
    np.testing.assert_array_equal(T(x).flip(dims).numpy(), np.flip(x, axis=dims))
    check(lambda x: x.flip(dims), T(x))


@given(arrays(), st.data())
def test_repeat(x, data):
    extra = data.draw(st.integers(0, 2))
    reps = tuple(data.draw(st.integers(0, 3)) for _ in range(x.ndim + extra))
    np.testing.assert_array_equal(T(x).repeat(*reps).numpy(), np.tile(x, reps))
    check(lambda x: x.repeat(*reps), T(x))


@given(arrays(), st.data())
def test_repeat_interleave(x, data):
    if x.ndim and data.draw(st.booleans()):
        dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
        counts = data.draw(st.lists(st.integers(0, 3), min_size=x.shape[dim], max_size=x.shape[dim]))
        np.testing.assert_array_equal(T(x).repeat_interleave(tg.tensor(counts), dim).numpy(), np.repeat(x, counts, dim))
        check(lambda x: x.repeat_interleave(tg.tensor(counts), dim=dim), T(x))
    else:
        r = data.draw(st.integers(0, 3))
        np.testing.assert_array_equal(T(x).repeat_interleave(r).numpy(), np.repeat(x, r))
        check(lambda x: x.repeat_interleave(r), T(x))


@given(arrays(min_dims=2), st.integers(-4, 4), st.booleans())
def test_tril_triu(x, k, upper):
    op = "triu" if upper else "tril"
    np.testing.assert_array_equal(getattr(T(x), op)(k).numpy(), getattr(np, op)(x, k))
    check(lambda x: getattr(x, op)(k), T(x))


@given(arrays())
def test_clone_contiguous_and_t(x):
    check(lambda x: x.clone(), T(x))
    check(lambda x: x.T.contiguous(), T(x))
    if x.ndim <= 2:
        check(lambda x: x.t(), T(x))


@given(arrays(min_dims=1), st.integers(1, 5), st.data())
def test_chunk(x, chunks, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check(lambda x: x.chunk(chunks, dim), T(x))


@st.composite
def bmm_operands(draw):
    b, n, m, p = (draw(st.integers(1, 3)) for _ in range(4))
    el = st.floats(-2, 2, width=64)
    return draw(hnp.arrays(F64, (b, n, m), elements=el)), draw(hnp.arrays(F64, (b, m, p), elements=el))


@given(bmm_operands())
def test_bmm(ab):
    a, b = ab
    np.testing.assert_allclose(tg.bmm(T(a), T(b)).numpy(), a @ b)
    check(lambda a, b: a.bmm(b), T(a), T(b), square_for_second=False)


@given(bmm_operands(), st.sampled_from([0.0, 1.0, -0.5]), st.sampled_from([1.0, 2.5]), st.booleans())
def test_baddbmm(ab, beta, alpha, broadcast):
    a, b = ab
    shape = (a.shape[1], b.shape[2]) if broadcast else (a.shape[0], a.shape[1], b.shape[2])
    inp = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_allclose(
        tg.baddbmm(T(inp), T(a), T(b), beta=beta, alpha=alpha).numpy(), beta * inp + alpha * (a @ b)
    )
    check(lambda i, a, b: tg.baddbmm(i, a, b, beta=beta, alpha=alpha), T(inp), T(a), T(b), square_for_second=False)
