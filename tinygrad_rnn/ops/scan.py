r"""Running sums and products along one dimension, each beside its derivative.

.. math::

    y_j = \sum_{k \le j} x_k, \qquad \frac{\partial L}{\partial x_i} = \sum_{j \ge i} g_j
    \quad\text{(a reverse cumulative sum)}

    y_j = \prod_{k \le j} x_k, \qquad \frac{\partial L}{\partial x_i} = \sum_{j \ge i} g_j
    \prod_{k \le j,\, k \ne i} x_k

``CumSum`` and ``RevCumSum`` are each other's adjoint, so the backward of either is the other and
every order of derivative stays on the tape. For ``cumprod`` the product without ``x_i`` is
``y_j / x_i`` when no ``x`` is zero (O(n)); with a zero somewhere the division is 0/0, so the backward
builds the products without ``x_i`` exactly, as an n×n cumulative product (O(n²) memory along the
dimension, only in that case).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import xp
from ..tape import Function
from ..tensor import Tensor
from . import dual
from . import movement as mv
from .dual import value
from .reduce import normalize_axis


def _out_dtype(x: Any) -> Any:
    # PyTorch: integer and bool inputs accumulate in int64; floats keep their dtype
    return np.int64 if x.dtype.kind in "biu" else x.dtype


def reverse_cumsum_array(g: Any, axis: int) -> Any:
    return xp.flip(xp.cumsum(xp.flip(g, axis=axis), axis=axis), axis=axis)


class CumSum(Function):
    """y = cumsum(x) along ``axis``; the backward is the reverse cumulative sum."""

    def forward(self, x, axis):
        self.axis = normalize_axis("cumsum", axis, x.ndim)
        return xp.cumsum(x, axis=self.axis, dtype=_out_dtype(x))

    def backward(self, g, x):
        return RevCumSum.apply(g, axis=self.axis) if dual.is_tensor(g) else reverse_cumsum_array(g, self.axis)


class RevCumSum(Function):
    """y_j = Σ_{k >= j} x_k along ``axis``: the adjoint of :class:`CumSum` (and its backward is CumSum)."""

    def forward(self, x, axis):
        self.axis = normalize_axis("revcumsum", axis, x.ndim)
        return reverse_cumsum_array(x, self.axis)

    def backward(self, g, x):
        return CumSum.apply(g, axis=self.axis) if dual.is_tensor(g) else xp.cumsum(g, axis=self.axis)


def _rcumsum(g: Any, axis: int) -> Any:
    return RevCumSum.apply(g, axis=axis) if dual.is_tensor(g) else reverse_cumsum_array(g, axis)


def _unsqueeze(t: Any, axis: int) -> Any:
    return t.unsqueeze(axis) if dual.is_tensor(t) else xp.expand_dims(t, axis)


class CumProd(Function):
    """y = cumprod(x) along ``axis``; see the module docstring for the derivative."""

    needs_output = True

    def forward(self, x, axis):
        self.axis = normalize_axis("cumprod", axis, x.ndim)
        return xp.cumprod(x, axis=self.axis, dtype=_out_dtype(x))

    def backward(self, g, x, y):
        a = self.axis
        xv = value(x)
        if not bool((xv == 0).any()):  # one host sync under CuPy, to pick the O(n) formula
            return _rcumsum(g * y, a) / x
        # Move the axis last: A[..., i, k] = x_k except A[..., i, i] = 1, so that
        # C = cumprod(A, -1) holds C[..., i, j] = Π_{k <= j, k != i} x_k (for j >= i).
        n, nd = xv.shape[a], xv.ndim
        order = [d for d in range(nd) if d != a] + [a]
        back = [0] * nd
        for i, d in enumerate(order):
            back[d] = i
        xl, gl = dual.permute(x, order), dual.permute(g, order)
        eye = xp.eye(n, dtype=bool)
        one = xp.ones((), dtype=xv.dtype)
        if dual.is_tensor(xl):
            A = mv.Where.apply(Tensor._make(one, False, None, 0), xl.unsqueeze(-2), cond=eye)
            C = CumProd.apply(A, axis=-1)
        else:
            A = xp.where(eye, one, xl[..., None, :])
            C = xp.cumprod(A, axis=-1)
        upper = ~xp.tri(n, n, -1, dtype=bool)  # upper[i, j]: j >= i
        gi = dual.mask(C * _unsqueeze(gl, -2), upper).sum(axis=-1)
        return dual.permute(gi, back)
