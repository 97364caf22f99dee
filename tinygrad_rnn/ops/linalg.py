"""Matrix product with NumPy's ``matmul`` semantics (vectors, matrices, broadcast batches)."""

from __future__ import annotations

from ..backend import xp
from ..tape import Function
from .dual import unbroadcast


class MatMul(Function):
    """C = A @ B; dA = dC @ Bᵀ, dB = Aᵀ @ dC (vectors are treated as 1-row / 1-column matrices)."""

    multiplies_inputs = True  # a gradient path through it goes by the other input's weight

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}")
        k_a, k_b = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
        if k_a != k_b:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: {k_a} (last dim of the "
                f"first) != {k_b} ({'second-to-last' if b.ndim > 1 else 'only'} dim of the second)"
            )
        self.shapes = (a.shape, b.shape)
        return xp.matmul(a, b)

    def backward(self, g, a, b):
        a_shape, b_shape = self.shapes
        if len(b_shape) == 1:
            b, g = b.reshape((b_shape[0], 1)), g.reshape(g.shape + (1,))
        if len(a_shape) == 1:
            a, g = a.reshape((1, a_shape[0])), g.reshape(g.shape[:-1] + (1, g.shape[-1]))
        ga = unbroadcast(g @ b.swapaxes(-1, -2), a.shape).reshape(a_shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(a.swapaxes(-1, -2) @ g, b.shape).reshape(b_shape) if self.needs_input_grad[1] else None
        return ga, gb
