"""Float64 gradcheck and gradgradcheck of sort and topk values (the gradient goes to the picked
elements), over hypothesis-generated shapes, dims, directions and k.

Inputs have no ties (values at least 0.2 apart, as ``distinct`` in tests/ops/test_ops_gradcheck.py): at a tie
the sorted order, hence the op, is not differentiable, and a finite difference would swap elements.
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

check = functools.partial(_check, square_for_second=True)


def distinct(x):
    x = np.asarray(x, dtype=F64)
    ranks = np.argsort(np.argsort(x.ravel(), kind="stable"), kind="stable").reshape(x.shape)
    return 0.3 * ranks - 0.15 * x.size + 0.05 * np.tanh(x)


@st.composite
def case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    x = distinct(draw(hnp.arrays(F64, shape, elements=st.floats(-2, 2, width=64))))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    return x, dim


@given(case(), st.booleans())
def test_sort_values(c, descending):
    x, dim = c
    values, indices = T(x).sort(dim, descending=descending)
    ref = np.sort(x, axis=dim)
    np.testing.assert_array_equal(values.numpy(), np.flip(ref, axis=dim) if descending else ref)
    np.testing.assert_array_equal(np.take_along_axis(x, indices.numpy(), axis=dim), values.numpy())
    check(lambda x: x.sort(dim, descending=descending).values, T(x))


@given(case(), st.booleans(), st.data())
def test_topk_values(c, largest, data):
    x, dim = c
    k = data.draw(st.integers(0, x.shape[dim]))
    check(lambda x: x.topk(k, dim, largest=largest).values, T(x))


@given(case())
def test_sorted_values_feed_a_nonlinear_loss(c):
    x, dim = c
    w = np.linspace(-1.0, 1.0, x.shape[dim]).reshape([-1 if i == dim % x.ndim else 1 for i in range(x.ndim)])
    assert tg.gradcheck(lambda x: (x.sort(dim).values * w).tanh(), [T(x)]) is True
    assert tg.gradgradcheck(lambda x: (x.sort(dim).values * w).tanh(), [T(x)]) is True
