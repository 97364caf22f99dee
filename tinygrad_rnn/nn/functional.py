"""Stateless functions for models: activations, dropout, linear, and (from :mod:`.losses`) the losses."""

from __future__ import annotations

from typing import Any

from .. import backend
from ..functions import log_softmax, relu, sigmoid, softmax, softplus, tanh, where  # noqa: F401
from ..tensor import Tensor
from .losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss  # noqa: F401


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x Wᵀ + b with PyTorch's weight layout ``(out, in)``."""
    y = x @ weight.T
    return y if bias is None else y + bias


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero with probability p, scale survivors by 1/(1-p); identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = backend.device_rng().random(x.shape) >= p
    scale = backend.xp.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    return x * (keep * scale).astype(x.dtype)


def one_hot(ids: Any, num_classes: int, dtype: Any = None) -> Tensor:
    """``(*,)`` integer ids -> ``(*, num_classes)`` rows of the identity (no gradient)."""
    xp = backend.xp
    idx = ids.data if isinstance(ids, Tensor) else xp.asarray(ids)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: ids must be integers, got {idx.dtype}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        raise IndexError(f"one_hot: ids must lie in [0, {num_classes}), got [{int(idx.min())}, {int(idx.max())}]")
    eye = xp.eye(num_classes, dtype=backend.get_default_dtype() if dtype is None else dtype)
    return Tensor(eye[idx])
