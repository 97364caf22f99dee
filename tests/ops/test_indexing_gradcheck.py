"""Float64 gradcheck and gradgradcheck of the index-driven ops: gather, scatter (src and value),
scatter_add, index_select, F.embedding, masked_fill, narrow and diag, over hypothesis-generated shapes,
dims and indices.

All of them are linear in their differentiable inputs, so (as in tests/ops/test_ops_gradcheck.py) the
second-order check runs on ``op(x) ** 2``: it exercises the backward *and* the backward of that backward
on Tensors (create_graph=True).
"""

from __future__ import annotations

import functools

import numpy as np
from gradcheck_helpers import F64, T, float64_default  # noqa: F401  (the fixture applies here)
from gradcheck_helpers import check as _check
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F

check = functools.partial(_check, square_for_second=True)


def values(shape):
    return hnp.arrays(F64, shape, elements=st.floats(-2, 2, allow_nan=False, width=64))


def shapes(min_dims=1, max_dims=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4)


@st.composite
def x_and_dim(draw, min_dims=1):
    x = draw(shapes(min_dims).flatmap(values))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    return x, dim, dim % x.ndim


@st.composite
def gather_case(draw):
    x, dim, d = draw(x_and_dim())
    ishape = tuple(draw(st.integers(1, 5 if i == d else n)) for i, n in enumerate(x.shape))
    index = draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, x.shape[d] - 1)))
    return x, dim, index


@st.composite
def scatter_case(draw):
    """Index entries along dim distinct within each line: which duplicate write wins is unspecified, and
    a losing src entry has derivative 0, so only duplicate-free indices have one true Jacobian."""
    x, dim, d = draw(x_and_dim())
    ishape = tuple(draw(st.integers(1, n)) for n in x.shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    full = list(ishape)
    full[d] = x.shape[d]
    perm = np.argsort(rng.random(full), axis=d)  # a permutation of 0..n-1 along d, per line
    index = np.take(perm, np.arange(ishape[d]), axis=d)
    sshape = tuple(n + draw(st.integers(0, 1)) for n in ishape)  # src may be larger than index
    return x, dim, index, draw(values(sshape))


@given(gather_case())
def test_gather(case):
    x, dim, index = case
    out = T(x).gather(dim, tg.tensor(index))
    if _fits(x, index, dim):
        np.testing.assert_array_equal(out.numpy(), np.take_along_axis(x, index, axis=dim))
    check(lambda x: x.gather(dim, tg.tensor(index)), T(x))


def _fits(x, index, dim):
    """take_along_axis needs the index to broadcast against x off dim; gather also allows smaller."""
    d = dim % x.ndim
    return all(i == n for k, (i, n) in enumerate(zip(index.shape, x.shape)) if k != d)


@given(scatter_case())
def test_scatter_src(case):
    x, dim, index, src = case
    idx = tg.tensor(index)
    check(lambda x, s: x.scatter(dim, idx, s), T(x), T(src))


@given(scatter_case(), st.floats(-3, 3))
def test_scatter_value(case, v):
    x, dim, index, _ = case
    idx = tg.tensor(index)
    out = T(x).scatter(dim, idx, value=v)
    assert np.sum(out.numpy() == v) >= index.size  # every target got the value
    check(lambda x: x.scatter(dim, idx, v), T(x))


@given(gather_case().flatmap(lambda c: st.tuples(st.just(c), values(c[2].shape))))
def test_scatter_add_with_repeats(case):
    (x, dim, index), src = case  # index may repeat targets and be longer than x along dim
    idx = tg.tensor(index)
    check(lambda x, s: x.scatter_add(dim, idx, s), T(x), T(src))


@given(x_and_dim().flatmap(lambda c: st.tuples(st.just(c), st.lists(st.integers(0, 3), min_size=1, max_size=5))))
def test_index_select_with_repeats(case):
    (x, dim, d), picks = case
    picks = [p % x.shape[d] for p in picks] + [0]
    idx = tg.tensor(picks)
    np.testing.assert_array_equal(T(x).index_select(dim, idx).numpy(), np.take(x, picks, axis=dim))
    check(lambda x: x.index_select(dim, idx), T(x))


@given(
    st.integers(1, 5),
    st.integers(1, 3),
    hnp.array_shapes(min_dims=0, max_dims=2, max_side=4),
    st.none() | st.integers(-5, 4),
    st.integers(0, 2**32 - 1),
)
def test_embedding(n, dim, ids_shape, padding_idx, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, dim))
    ids = tg.tensor(rng.integers(0, n, ids_shape))
    pad = None if padding_idx is None or not -n <= padding_idx < n else padding_idx
    wt = T(w)
    out = F.embedding(ids, wt, padding_idx=pad)
    np.testing.assert_array_equal(out.numpy(), w[ids.numpy()])  # the padding row is looked up as it is
    # the gradient: each row counts its look-ups, except padding_idx's (deliberately none, as PyTorch)
    out.sum().backward()
    counts = np.bincount(ids.numpy().ravel(), minlength=n).astype(F64)
    if pad is not None:
        counts[pad] = 0.0
    np.testing.assert_array_equal(wt.grad.numpy(), np.repeat(counts[:, None], dim, axis=1))
    # gradcheck where the true derivative is the op's: no padding, or ids that avoid the padding row
    if pad is not None:
        keep = np.array([i for i in range(n) if i != pad % n] or [0])
        ids = tg.tensor(keep[rng.integers(0, keep.size, ids_shape)])
        if n == 1:
            pad = None
    check(lambda w: F.embedding(ids, w, padding_idx=pad), T(w))


@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3), st.data())
def test_masked_fill_tensor_value(bs, data):
    xs, ms = bs.input_shapes
    x = data.draw(values(xs))
    mask = data.draw(hnp.arrays(np.bool_, ms))
    v = T(data.draw(st.floats(-2, 2)))
    out = T(x).masked_fill(tg.tensor(mask), v)
    np.testing.assert_array_equal(out.numpy(), np.where(mask, v.item(), x))
    check(lambda x, v: x.masked_fill(tg.tensor(mask), v), T(x), v)
    check(lambda x: x.masked_fill(mask, 0.5), T(x))


@given(x_and_dim(), st.data())
def test_narrow(case, data):
    x, dim, d = case
    n = x.shape[d]
    start = data.draw(st.integers(-n, n - 1))
    length = data.draw(st.integers(0, n - start % n))
    check(lambda x: x.narrow(dim, start, length), T(x))


@given(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4).flatmap(values), st.integers(-3, 3))
def test_diag(x, k):
    ref = np.diag(x, k)
    np.testing.assert_array_equal(T(x).diag(k).numpy(), ref)
    check(lambda x: x.diag(k), T(x))
