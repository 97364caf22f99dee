"""Float64 gradcheck and gradgradcheck of cumsum and cumprod along every dim of hypothesis-generated
shapes. cumprod is checked both away from zero (the O(n) division formula) and with exact zeros in
the input (the exact products-without-x_i formula); a product is smooth everywhere, so finite
differences are valid at zero too."""

from __future__ import annotations

import numpy as np
from gradcheck_helpers import F64, T, float64_default  # noqa: F401  (the fixture applies here)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg


@st.composite
def case(draw, lo=-2.0, hi=2.0):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    x = draw(hnp.arrays(F64, shape, elements=st.floats(lo, hi, width=64)))
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


@given(case())
def test_cumsum(c):
    x, dim = c
    np.testing.assert_allclose(T(x).cumsum(dim).numpy(), np.cumsum(x, axis=dim))
    assert tg.gradcheck(lambda x: x.cumsum(dim), [T(x)]) is True
    assert tg.gradgradcheck(lambda x: x.cumsum(dim) ** 2, [T(x)]) is True  # linear: square for order 2


@given(case(0.5, 1.5), st.booleans())
def test_cumprod_away_from_zero(c, flip_sign):
    x, dim = c
    x = -x if flip_sign else x
    np.testing.assert_allclose(T(x).cumprod(dim).numpy(), np.cumprod(x, axis=dim))
    assert tg.gradcheck(lambda x: x.cumprod(dim), [T(x)]) is True
    assert tg.gradgradcheck(lambda x: x.cumprod(dim), [T(x)]) is True


@given(case(0.5, 1.5), st.data())
def test_cumprod_with_exact_zeros(c, data):
    x, dim = c
    x = x.copy()
    zeros = data.draw(hnp.arrays(np.bool_, x.shape))
    zeros.flat[0] = True  # at least one
    x[zeros] = 0.0
    np.testing.assert_allclose(T(x).cumprod(dim).numpy(), np.cumprod(x, axis=dim))
    assert tg.gradcheck(lambda x: x.cumprod(dim), [T(x)]) is True
    assert tg.gradgradcheck(lambda x: x.cumprod(dim), [T(x)]) is True


def test_cumprod_gradient_at_a_single_zero_is_the_product_of_the_others():
    x = T([2.0, 0.0, 3.0, 4.0])
    x.cumprod(0).sum().backward()
    # d/dx1 of (x0 + x0 x1 + x0 x1 x2 + x0 x1 x2 x3) at x1 = 0: x0 + x0 x2 + x0 x2 x3
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2 + 6 + 24, 0.0, 0.0])
