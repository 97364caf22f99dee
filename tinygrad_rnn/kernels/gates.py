"""The gate layout the kernels share with the tape glue: which gate columns are sigmoids.

σ(a) = (1 + tanh(a/2)) / 2, so one tanh covers every gate and nothing overflows: the glue multiplies the
sigmoid gates' weights and biases by ½ (``scale``) before the loops run, and a loop turns
``tanh(scaled pre-activation)`` into the gate with ``* scale + shift``.
"""

from __future__ import annotations

from typing import Any

from ..backend import xp


def gate_scale(G: int, sigmoid_cols: tuple, dtype: Any) -> tuple:
    """(scale, shift) with tanh(scale · a) · scale + shift = σ(a) on ``sigmoid_cols`` and tanh(a) elsewhere."""
    scale = xp.ones(G, dtype=dtype)
    for cols in sigmoid_cols:
        scale[cols] = 0.5
    return scale, xp.where(scale == 0.5, 0.5, 0.0).astype(dtype)


def lstm_scale(H: int, dtype: Any) -> tuple:
    """i, f and o are sigmoids, g is a tanh (PyTorch's gate order i, f, g, o)."""
    return gate_scale(4 * H, (slice(0, 2 * H), slice(3 * H, 4 * H)), dtype)


def gru_scale(H: int, dtype: Any) -> tuple:
    """r and z are sigmoids; n is a tanh (gate order r, z, n)."""
    return gate_scale(3 * H, (slice(0, 2 * H),), dtype)
