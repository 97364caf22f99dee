"""sort / argsort / topk without PyTorch: known examples, the stable tie rule in both directions, NaN
placement, and properties (sorted, a permutation, topk == sort[:k]) over random inputs with ties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg


def test_sort_returns_the_values_indices_namedtuple():
    r = tg.tensor([3.0, 1.0, 2.0]).sort()
    assert type(r) is tg.return_types.sort and type(r)._fields == ("values", "indices")
    assert r.values.tolist() == [1.0, 2.0, 3.0] and r.indices.tolist() == [1, 2, 0]
    assert r.indices.dtype == np.int64 and not r.indices.requires_grad
    assert repr(r).startswith("sort(values=Tensor(")
    t = tg.tensor([3.0, 1.0, 2.0]).topk(2)
    assert type(t) is tg.return_types.topk and t.values.tolist() == [3.0, 2.0] and t.indices.tolist() == [0, 2]


def test_ties_keep_their_order_in_both_directions():
    x = tg.tensor([1, 1, 0, 1, 0])
    assert x.sort().indices.tolist() == [2, 4, 0, 1, 3]
    assert x.sort(descending=True).indices.tolist() == [0, 1, 3, 2, 4]  # not [3, 1, 0, ...]
    assert x.argsort(descending=True, stable=True).tolist() == [0, 1, 3, 2, 4]
    assert x.topk(2).indices.tolist() == [0, 1]  # the earliest of the tied maxima
    assert x.topk(2, largest=False).indices.tolist() == [2, 4]


def test_nan_sorts_as_the_largest_value():
    x = tg.tensor([1.0, float("nan"), 0.0])
    assert x.sort().indices.tolist() == [2, 0, 1]
    assert x.sort(descending=True).indices.tolist() == [1, 0, 2]
    assert np.isnan(x.topk(1).values.item())


def test_bool_and_unsigned_sort_descending():
    b = tg.tensor(np.array([True, False, True]))
    assert b.sort(descending=True).values.tolist() == [True, True, False]
    u = tg.tensor(np.array([3, 0, 255], dtype=np.uint8))
    assert u.sort(descending=True).values.tolist() == [255, 3, 0] and u.sort().values.dtype == np.uint8


def test_dims_keywords_and_function_forms():
    x = tg.tensor(np.array([[3.0, 1.0], [0.0, 2.0]]))
    assert x.sort(0).values.tolist() == [[0.0, 1.0], [3.0, 2.0]]
    assert x.sort(dim=0).indices.tolist() == tg.sort(x, axis=0).indices.tolist() == [[1, 0], [0, 1]]
    assert tg.argsort(x, 1).tolist() == [[1, 0], [0, 1]]
    assert tg.topk(x, 1, dim=0).values.tolist() == [[3.0, 2.0]]
    with pytest.raises(TypeError, match="sort: got both dim= and axis="):
        x.sort(dim=0, axis=0)
    with pytest.raises(ValueError, match="sort: axis 2 is out of range"):
        x.sort(2)


def test_zero_d_and_empty():
    s = tg.tensor(3.0).sort()
    assert s.values.item() == 3.0 and s.indices.item() == 0 and s.indices.shape == ()
    assert tg.tensor(3.0).topk(1).values.item() == 3.0
    e = tg.zeros(2, 0).sort(1)
    assert e.values.shape == (2, 0) and e.indices.shape == (2, 0)
    assert tg.zeros(3).topk(0).values.shape == (0,)


def test_topk_k_out_of_range():
    for k in (-1, 4):
        with pytest.raises(ValueError, match=rf"topk: k={k} is out of range for dimension -1 of size 3"):
            tg.zeros(3).topk(k)
    with pytest.raises(TypeError, match="topk: k must be an int"):
        tg.zeros(3).topk(1.5)


def test_sort_gradient_goes_to_the_picked_elements():
    x = tg.tensor([3.0, 1.0, 2.0], requires_grad=True)
    v = x.sort(descending=True).values
    (v * tg.tensor([10.0, 20.0, 30.0])).sum().backward()
    assert x.grad.tolist() == [10.0, 30.0, 20.0]
    y = tg.tensor([[5.0, 1.0, 4.0]], requires_grad=True)
    y.topk(2).values.sum().backward()
    assert y.grad.tolist() == [[1.0, 0.0, 1.0]]


@st.composite
def tied(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    x = draw(hnp.arrays(np.int64, shape, elements=st.integers(-2, 2)))  # small range: many ties
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


@given(tied(), st.booleans())
def test_sort_properties(c, descending):
    x, dim = c
    values, indices = tg.tensor(x).sort(dim, descending=descending)
    v, i = values.numpy(), indices.numpy()
    d = np.diff(v, axis=dim)
    assert (d <= 0).all() if descending else (d >= 0).all()  # sorted
    np.testing.assert_array_equal(
        np.sort(i, axis=dim),
        np.broadcast_to(
            np.arange(x.shape[dim]).reshape([-1 if k == dim % x.ndim else 1 for k in range(x.ndim)]), x.shape
        ),
    )  # permutation
    np.testing.assert_array_equal(np.take_along_axis(x, i, axis=dim), v)
    # stable: among equal values the indices increase
    same = np.diff(v, axis=dim) == 0
    assert (np.diff(i, axis=dim)[same] > 0).all()
    # ascending matches NumPy's stable argsort exactly
    if not descending:
        np.testing.assert_array_equal(i, np.argsort(x, axis=dim, kind="stable"))


@given(tied(), st.booleans(), st.data())
def test_topk_is_the_head_of_sort(c, largest, data):
    x, dim = c
    k = data.draw(st.integers(0, x.shape[dim]))
    t = tg.tensor(x).topk(k, dim, largest=largest)
    s = tg.tensor(x).sort(dim, descending=largest)
    head = (slice(None),) * (dim % x.ndim) + (slice(0, k),)
    np.testing.assert_array_equal(t.values.numpy(), s.values.numpy()[head])
    np.testing.assert_array_equal(t.indices.numpy(), s.indices.numpy()[head])
