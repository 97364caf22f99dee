"""Layout, scan and batched-product functions without PyTorch: t, contiguous, clone, narrow, view_as /
reshape_as / expand_as, repeat (np.tile), repeat_interleave (np.repeat), flip, cumsum / cumprod (against
NumPy), tril / triu, diag, chunk (PyTorch's size formula), bmm and baddbmm."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg

X = np.arange(12.0).reshape(3, 4)


def T(a, **kw):
    return tg.tensor(np.asarray(a, dtype=np.float64), **kw)


def test_t():
    assert T(X).t().shape == (4, 3) and tg.t(T(X)).tolist() == X.T.tolist()
    v = T([1.0, 2.0])
    assert v.t() is v and T(3.0).t().shape == ()
    with pytest.raises(ValueError, match=r"t: expects a tensor with <= 2 dimensions, got shape \(1, 1, 1\)"):
        tg.zeros(1, 1, 1).t()


def test_contiguous_and_clone():
    x = T(X, requires_grad=True)
    assert x.contiguous() is x and x.is_contiguous()
    xt = x.T
    assert not xt.is_contiguous()
    c = xt.contiguous()
    assert c is not xt and c.is_contiguous() and c.tolist() == X.T.tolist()
    c.sum().backward()
    assert x.grad.tolist() == np.ones((3, 4)).tolist()
    y = x.clone()
    assert y is not x and not np.shares_memory(y.numpy(), x.numpy()) and y.grad_fn is not None
    assert tg.clone(tg.tensor([1, 2])).tolist() == [1, 2]


def test_narrow():
    x = T(X)
    assert x.narrow(1, 1, 2).tolist() == X[:, 1:3].tolist()
    assert x.narrow(0, -2, 2).tolist() == X[1:].tolist() and x.narrow(1, 4, 0).shape == (3, 0)
    with pytest.raises(IndexError, match=r"narrow: start 5 is out of range for dimension 1 of size 4"):
        x.narrow(1, 5, 0)
    with pytest.raises(ValueError, match=r"narrow: start \(3\) \+ length \(2\) exceeds"):
        x.narrow(1, 3, 2)
    with pytest.raises(ValueError, match="length must be non-negative"):
        x.narrow(1, 0, -1)


def test_as_shapes_of_another():
    x, other = T(np.arange(6.0)), tg.zeros(2, 3)
    assert x.view_as(other).shape == (2, 3) and x.reshape_as(other).shape == (2, 3)
    assert T([1.0, 2.0, 3.0]).expand_as(other).tolist() == [[1, 2, 3], [1, 2, 3]]


@given(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), st.data())
def test_repeat_is_np_tile(shape, data):
    x = np.arange(float(np.prod(shape))).reshape(shape)
    reps = tuple(data.draw(st.integers(0, 3)) for _ in range(len(shape) + data.draw(st.integers(0, 2))))
    np.testing.assert_array_equal(T(x).repeat(*reps).numpy(), np.tile(x, reps))
    np.testing.assert_array_equal(T(x).repeat(reps).numpy(), np.tile(x, reps))


def test_repeat_errors_and_gradient():
    with pytest.raises(ValueError, match=r"repeat: got 1 sizes \(2,\) for a tensor with 2 dimensions"):
        T(X).repeat(2)
    with pytest.raises(ValueError, match="non-negative"):
        T(X).repeat(-1, 1)
    x = T([1.0, 2.0], requires_grad=True)
    x.repeat(3, 2).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]


def test_repeat_interleave():
    x = tg.tensor([[1, 2], [3, 4]])
    assert x.repeat_interleave(2).tolist() == [1, 1, 2, 2, 3, 3, 4, 4]
    assert x.repeat_interleave(tg.tensor([1, 2]), dim=0).tolist() == [[1, 2], [3, 4], [3, 4]]
    assert tg.repeat_interleave(tg.tensor([2, 0, 1])).tolist() == [0, 0, 2]
    with pytest.raises(ValueError, match="non-negative"):
        x.repeat_interleave(tg.tensor([1, -2]), dim=0)
    with pytest.raises(ValueError, match="one count or one per slice"):
        x.repeat_interleave(tg.tensor([1, 2, 3]), dim=0)
    with pytest.raises(ValueError, match="output_size=3"):
        x.repeat_interleave(2, dim=0, output_size=3)


def test_flip():
    assert T(X).flip(0).tolist() == X[::-1].tolist() and T(X).flip(0, 1).tolist() == X[::-1, ::-1].tolist()
    assert tg.flip(T(X), (1,)).tolist() == X[:, ::-1].tolist() and T(X).flip([]).tolist() == X.tolist()
    assert T(X).flip(dims=[1]).tolist() == X[:, ::-1].tolist()
    with pytest.raises(ValueError, match="flip: repeated axis"):
        T(X).flip(0, 0)


@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.data())
def test_cumsum_and_cumprod_match_numpy(shape, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    np.testing.assert_allclose(T(x).cumsum(dim).numpy(), np.cumsum(x, axis=dim))
    np.testing.assert_allclose(tg.cumsum(T(x), dim=dim).numpy(), np.cumsum(x, axis=dim))
    np.testing.assert_allclose(T(x).cumprod(axis=dim).numpy(), np.cumprod(x, axis=dim))


def test_cumsum_dtypes_and_gradient():
    assert tg.tensor(np.array([1, 2], np.int32)).cumsum(0).dtype == np.int64  # PyTorch: ints accumulate in int64
    assert tg.tensor(np.array([True, True])).cumsum(0).tolist() == [1, 2]
    assert tg.tensor([1.0, 2.0]).cumsum(0, dtype=tg.float64).dtype == np.float64
    assert tg.tensor(np.array([1, 2, 3], np.int32)).cumprod(0).tolist() == [1, 2, 6]
    assert T(3.0).cumsum(0).item() == 3.0 and T(3.0).cumsum(0).shape == ()
    x = T([1.0, 2.0, 3.0], requires_grad=True)
    (x.cumsum(0) * T([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [111.0, 110.0, 100.0]  # the reverse running sum
    with pytest.raises(TypeError, match="cumsum: missing the dim argument"):
        x.cumsum()


def test_tril_triu_and_diag():
    assert T(X).tril().tolist() == np.tril(X).tolist() and T(X).triu(1).tolist() == np.triu(X, 1).tolist()
    b = np.arange(24.0).reshape(2, 3, 4)
    assert tg.tril(T(b), -1).tolist() == np.tril(b, -1).tolist() and tg.triu(T(b)).tolist() == np.triu(b).tolist()
    with pytest.raises(ValueError, match="tril: the input needs at least 2 dimensions"):
        T([1.0]).tril()
    assert T([1.0, 2.0]).diag(-1).tolist() == [[0, 0, 0], [1, 0, 0], [0, 2, 0]]
    assert tg.diag(T(X), 1).tolist() == [1.0, 6.0, 11.0]
    with pytest.raises(ValueError, match="diag: the input must be 1-D or 2-D"):
        tg.zeros(1, 1, 1).diag()


@given(st.integers(0, 12), st.integers(1, 6))
def test_chunk_sizes_follow_pytorchs_formula(n, chunks):
    sizes = [p.shape[0] for p in tg.zeros(n).chunk(chunks)]
    if n == 0:
        assert sizes == [0] * chunks
    else:
        step = -(-n // chunks)  # ceil(n / chunks)
        assert sizes == [min(step, n - i) for i in range(0, n, step)]
        assert len(sizes) <= chunks and sum(sizes) == n


def test_chunk_examples():
    assert [p.shape for p in tg.zeros(6, 2).chunk(4)] == [(2, 2)] * 3  # fewer pieces than asked
    assert [p.shape for p in tg.chunk(tg.zeros(2, 5), 3, dim=1)] == [(2, 2), (2, 2), (2, 1)]
    with pytest.raises(ValueError, match="chunk: chunks must be positive"):
        tg.zeros(3).chunk(0)


def test_bmm_and_baddbmm():
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5)), rng.standard_normal((3, 5))
    np.testing.assert_allclose(T(a).bmm(T(b)).numpy(), a @ b)
    np.testing.assert_allclose(T(c).baddbmm(T(a), T(b), beta=0.5, alpha=2).numpy(), 0.5 * c + 2 * (a @ b))
    nan = T(np.full((3, 5), np.nan), requires_grad=True)
    out = tg.baddbmm(nan, T(a), T(b), beta=0)
    np.testing.assert_allclose(out.numpy(), a @ b)  # beta=0 ignores input, NaN included
    out.sum().backward()
    assert nan.grad.tolist() == np.zeros((3, 5)).tolist()
    with pytest.raises(ValueError, match="bmm: both operands must be 3-D"):
        tg.bmm(T(a[0]), T(b[0]))
    with pytest.raises(ValueError, match="bmm: shapes .* do not fit"):
        tg.bmm(T(a), T(a))
    with pytest.raises(ValueError, match="baddbmm: input of shape"):
        tg.baddbmm(tg.zeros(4, 2, 3, 5, dtype="float64"), T(a), T(b))
    with pytest.raises(TypeError, match="never upcasts"):
        tg.bmm(T(a), tg.tensor(b, dtype="float32"))
