"""gather / scatter / scatter_add / index_select / masked_fill / F.embedding without PyTorch: known small
examples, the gather∘scatter identities, gradients, and the argument checks (index ranges name the op,
the dim and the bad range: CuPy would not check them)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F

X = np.arange(12.0).reshape(3, 4)


def T(a, **kw):
    return tg.tensor(np.asarray(a, dtype=np.float64), **kw)


def test_gather_known_example():
    idx = tg.tensor([[0, 0], [3, 1], [2, 2]])
    assert T(X).gather(1, idx).tolist() == [[0.0, 0.0], [7.0, 5.0], [10.0, 10.0]]
    assert tg.gather(T(X), 0, tg.tensor([[2, 0, 1, 0]])).tolist() == [[8.0, 1.0, 6.0, 3.0]]
    assert T(X).gather(-1, tg.tensor([[1], [0], [3]])).shape == (3, 1)
    assert T(X).gather(1, tg.tensor(np.array([[1]], dtype=np.int32))).tolist() == [[1.0]]  # int32 index
    assert T(X).gather(1, [[3]]).tolist() == [[3.0]]  # a nested list index


def test_gather_gradient_accumulates_repeats():
    x = T(X, requires_grad=True)
    x.gather(1, tg.tensor([[0, 0, 0], [1, 2, 1], [3, 3, 3]])).sum().backward()
    assert x.grad.tolist() == [[3, 0, 0, 0], [0, 2, 1, 0], [0, 0, 0, 3]]


def test_scatter_known_examples():
    idx = tg.tensor([[0], [1]])
    src = T(np.arange(1.0, 10.0).reshape(3, 3))  # larger than index: only src[:2, :1] is used
    assert tg.zeros(2, 3).scatter(1, idx, src.float()).tolist() == [[1, 0, 0], [0, 4, 0]]
    assert tg.zeros(2, 3).scatter(1, idx, 5.0).tolist() == [[5, 0, 0], [0, 5, 0]]
    assert tg.zeros(2, 3).scatter(1, idx, value=-1.0).tolist() == [[-1, 0, 0], [0, -1, 0]]
    assert tg.scatter(tg.zeros(2, 3), 0, tg.tensor([[1, 0, 1]]), tg.ones(1, 3)).tolist() == [[0, 1, 0], [1, 0, 1]]


def test_scatter_add_accumulates_and_is_out_of_place():
    x = tg.zeros(2, 3)
    out = x.scatter_add(1, tg.tensor([[0, 0], [2, 2]]), tg.ones(2, 2))
    assert out.tolist() == [[2, 0, 0], [0, 0, 2]] and x.tolist() == [[0] * 3] * 2


def test_scatter_gradients():
    x = tg.ones(2, 3, dtype="float64", requires_grad=True)
    s = T([[10.0, 20.0], [30.0, 40.0]], requires_grad=True)
    idx = tg.tensor([[2, 0], [1, 2]])
    (x.scatter(1, idx, s) * T([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    assert x.grad.tolist() == [[0, 2, 0], [4, 0, 0]]  # zero where written
    assert s.grad.tolist() == [[3, 1], [5, 6]]  # gather of the output gradient
    x.grad = s.grad = None
    (x.scatter_add(1, idx, s) * 2).sum().backward()
    assert x.grad.tolist() == [[2] * 3] * 2 and s.grad.tolist() == [[2, 2], [2, 2]]


@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.data())
def test_gather_after_scatter_reads_back_src(shape, data):
    """With distinct targets per line, gather(scatter(x, d, i, s), d, i) == s, and scatter of gather(x, d, i)
    at i leaves x unchanged; scatter_add into zeros then summed over dim equals src summed."""
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    d = dim % nd
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape)
    k = data.draw(st.integers(1, shape[d]))
    index = np.take(np.argsort(rng.random(shape), axis=d), np.arange(k), axis=d)
    src = rng.standard_normal(index.shape)
    i = tg.tensor(index)
    np.testing.assert_array_equal(T(x).scatter(dim, i, T(src)).gather(dim, i).numpy(), src)
    np.testing.assert_array_equal(T(x).scatter(dim, i, T(x).gather(dim, i)).numpy(), x)
    np.testing.assert_allclose(
        tg.zeros(shape, dtype="float64").scatter_add(dim, i, T(src)).sum(dim).numpy(), src.sum(d)
    )


def test_index_select():
    assert T(X).index_select(1, tg.tensor([3, 0, 3])).tolist() == [[3, 0, 3], [7, 4, 7], [11, 8, 11]]
    assert tg.index_select(T(X), 0, tg.tensor(2)).shape == (1, 4)  # a 0-d index keeps the dim
    x = T(X, requires_grad=True)
    x.index_select(0, tg.tensor([2, 2])).sum().backward()
    assert x.grad.tolist() == [[0] * 4, [0] * 4, [2] * 4]


def test_masked_fill():
    x = T([1.0, 2.0, 3.0], requires_grad=True)
    m = tg.tensor(np.array([True, False, True]))
    y = x.masked_fill(m, -1.0)
    assert y.tolist() == [-1.0, 2.0, -1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]  # no gradient where filled
    v = T(2.0, requires_grad=True)
    x.grad = None
    tg.masked_fill(x, m, v).sum().backward()
    assert v.grad.item() == 2.0 and x.grad.tolist() == [0.0, 1.0, 0.0]
    # a mask broadcasts (a column mask over a matrix; a larger mask broadcasts x, as in PyTorch)
    assert tg.zeros(2, 2).masked_fill(np.array([[True], [False]]), 1.0).tolist() == [[1, 1], [0, 0]]
    assert tg.zeros(3).masked_fill(np.ones((2, 3), bool), 1.0).shape == (2, 3)
    assert tg.tensor([1, 2]).masked_fill(np.array([True, False]), 1.7).tolist() == [1, 2]  # cast to int64


def test_embedding():
    w = T(np.arange(8.0).reshape(4, 2), requires_grad=True)
    ids = tg.tensor([[0, 3], [3, 1]])
    out = F.embedding(ids, w, padding_idx=-1)  # row 3
    assert out.shape == (2, 2, 2) and out[0, 1].tolist() == [6.0, 7.0]  # the padding row is looked up
    out.sum().backward()
    assert w.grad.tolist() == [[1, 1], [1, 1], [0, 0], [0, 0]]


@pytest.mark.parametrize(
    "call, err, msg",
    [
        (
            lambda: T(X).gather(1, tg.tensor([[4]])),
            IndexError,
            r"gather: index 4 is out of range for dimension 1 of size 4",
        ),
        (lambda: T(X).gather(1, tg.tensor([[-1]])), IndexError, r"gather: index -1 is out of range .* span \[-1, -1\]"),
        (lambda: T(X).gather(1, tg.tensor([0])), ValueError, "gather: index .* as many dimensions"),
        (lambda: T(X).gather(1, tg.tensor([[0]] * 4)), ValueError, "larger than the input .* at dimension 0"),
        (lambda: T(X).gather(1, T([[0.0]])), TypeError, "gather: index must hold integers"),
        (lambda: T(X).gather(2, tg.tensor([[0]])), ValueError, "gather: axis 2 is out of range"),
        (
            lambda: T(X).scatter(0, tg.tensor([[3]]), 1.0),
            IndexError,
            "scatter: index 3 is out of range for dimension 0 of size 3",
        ),
        (lambda: T(X).scatter(1, tg.tensor([[0, 1]]), T([[1.0]])), ValueError, "larger than src"),
        (lambda: T(X).scatter(1, tg.tensor([[0]]), tg.ones(1, 1)), TypeError, "scatter: src has dtype float32"),
        (lambda: T(X).scatter(1, tg.tensor([[0]])), TypeError, "scatter: pass exactly one of src"),
        (lambda: T(X).scatter_add(1, tg.tensor([[0]]), 1.0), TypeError, "scatter_add: src must be a tensor"),
        (lambda: T(X).scatter_add(1, tg.tensor([[9]]), T([[1.0]])), IndexError, "scatter_add: index 9"),
        (
            lambda: T(X).index_select(1, tg.tensor([4])),
            IndexError,
            "index_select: index 4 is out of range for dimension 1",
        ),
        (lambda: T(X).index_select(1, tg.tensor([[0]])), IndexError, "index_select: index must be 1-D"),
        (lambda: T(X).masked_fill(tg.tensor([1, 0, 0, 0]), 1.0), TypeError, "masked_fill: mask must be boolean"),
        (lambda: T(X).masked_fill(np.ones(4, bool), T([1.0, 2.0])), ValueError, "value must be a number or a 0-d"),
        (lambda: T(X).masked_fill(np.ones(3, bool), 1.0), ValueError, "masked_fill: mask of shape"),
        (
            lambda: F.embedding(tg.tensor([4]), T(X)),
            IndexError,
            r"embedding: index 4 is out of range .* valid is \[0, 2\]",
        ),
        (lambda: F.embedding(tg.tensor([0]), T(X), padding_idx=3), ValueError, "padding_idx 3 is out of range"),
        (lambda: F.embedding(T([0.0]), T(X)), TypeError, "embedding: index must hold integers"),
        (lambda: F.embedding(tg.tensor([0]), T([1.0])), ValueError, "weight must be 2-D"),
    ],
)
def test_argument_errors(call, err, msg):
    with pytest.raises(err, match=msg):
        call()


def test_empty_index_is_fine_and_range_check_is_one_helper():
    assert T(X).gather(1, tg.tensor(np.zeros((3, 0), np.int64))).shape == (3, 0)
    assert T(X).index_select(0, tg.tensor(np.zeros(0, np.int64))).shape == (0, 4)
    from tinygrad_rnn.ops.indexing import _check_index_range

    with pytest.raises(IndexError, match="op: index 0 is out of range for dimension 2 of size 0"):
        _check_index_range("op", tg.tensor([0]).data, 0, 2)
