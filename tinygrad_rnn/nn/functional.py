"""Stateless functions for models: activations, dropout, linear, and (from :mod:`.losses`) the losses."""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..op_functions import log_softmax, relu, sigmoid, softmax, softplus, tanh, where  # noqa: F401
from ..ops import indexing as _indexing
from ..ops import special as _special
from ..tensor import Tensor
from .losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss  # noqa: F401

_SQRT1_2 = math.sqrt(0.5)  # M_SQRT1_2 rounded to a double, as PyTorch uses it
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x Wᵀ + b with PyTorch's weight layout ``(out, in)``."""
    y = x @ weight.T
    return y if bias is None else y + bias


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:  # noqa: A002
    """PyTorch's ``F.embedding``: rows of ``weight`` ``(num_embeddings, embedding_dim)`` at the integer
    ``input`` (any shape), giving ``(*input.shape, embedding_dim)``. Out-of-range ids are an ``IndexError``.
    The gradient is added into the rows looked up (repeats accumulate), except the row ``padding_idx``
    (negative counts from the end), which is returned as it is but gets no gradient, as in PyTorch."""
    return _indexing.embedding(input, weight, padding_idx)


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
    idx = ids.array if isinstance(ids, Tensor) else xp.asarray(ids)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: ids must be integers, got {idx.dtype}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        raise IndexError(f"one_hot: ids must lie in [0, {num_classes}), got [{int(idx.min())}, {int(idx.max())}]")
    eye = xp.eye(num_classes, dtype=backend.get_default_dtype() if dtype is None else dtype)
    return Tensor(eye[idx])


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    r"""PyTorch's GELU, :math:`x\,\Phi(x)` with :math:`\Phi` the standard normal CDF.

    .. math::

        \text{none:}\quad \tfrac12 x\bigl(1 + \operatorname{erf}(x/\sqrt2)\bigr) \qquad
        \text{tanh:}\quad \tfrac12 x\bigl(1 + \tanh\bigl(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\bigr)\bigr)
    """
    if approximate == "none":
        return x * 0.5 * (1.0 + _special.erf(x * _SQRT1_2))
    if approximate == "tanh":
        return 0.5 * x * (1.0 + ((x + 0.044715 * (x * x * x)) * _SQRT_2_OVER_PI).tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def layer_norm(
    x: Tensor, normalized_shape: Any, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    r"""Normalise over the trailing ``normalized_shape`` axes, then scale and shift elementwise.

    .. math::

        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \odot \gamma + \beta

    with the mean and the biased variance taken over the last ``len(normalized_shape)`` axes.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k :]) != shape:
        raise ValueError(f"layer_norm: expected input of shape (*, {', '.join(map(str, shape))}), got {x.shape}")
    axes = tuple(range(-k, 0))
    xc = x - x.mean(axis=axes, keepdims=True)
    # 1/σ on the reduced shape, then one multiply over the full one (cheaper than dividing every element)
    rstd = 1.0 / ((xc * xc).mean(axis=axes, keepdims=True) + eps).sqrt()
    y = xc * rstd
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias
