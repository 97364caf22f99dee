"""``tril`` / ``triu``: keep the lower (upper) triangle of the last two dimensions, zero the rest.

The kept entries pass their gradient through, the zeroed ones get none: the derivative is the same
constant mask.
"""

from __future__ import annotations

from typing import Any

from ..backend import xp
from ..tape import Function
from . import dual


def triangle_mask(rows: int, cols: int, diagonal: int, upper: bool) -> Any:
    """Boolean (rows, cols): True where ``j - i <= diagonal`` (lower) or ``j - i >= diagonal`` (upper)."""
    if upper:
        return ~xp.tri(rows, cols, diagonal - 1, dtype=bool)
    return xp.tri(rows, cols, diagonal, dtype=bool)


class Triangle(Function):
    """x where the triangle mask holds, else 0 (over the last two dimensions, batched over the rest)."""

    upper = False  # the op names come from the subclasses: 'tril', 'triu'

    def forward(self, x, diagonal=0):
        if x.ndim < 2:
            raise ValueError(f"{self.op_name()}: the input needs at least 2 dimensions, got shape {x.shape}")
        self.mask = triangle_mask(x.shape[-2], x.shape[-1], diagonal, self.upper)
        return xp.where(self.mask, x, xp.zeros((), dtype=x.dtype))

    def backward(self, g, x):
        return dual.mask(g, self.mask)


class Tril(Triangle):
    upper = False


class Triu(Triangle):
    upper = True
