r"""Layer normalisation (PyTorch's ``nn.LayerNorm``).

.. math::

    y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \odot \gamma + \beta

The mean and the biased variance run over the trailing ``normalized_shape`` axes of each sample;
γ (``weight``, ones at init) and β (``bias``, zeros) have shape ``normalized_shape``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import backend
from ..tensor import Tensor
from . import functional as F
from .cells import check_dtype
from .module import Module, Parameter


class LayerNorm(Module):
    """``LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)``.

    ``normalized_shape`` is an int (the last axis) or a tuple (the last ``len`` axes). Without
    ``elementwise_affine`` there is neither ``weight`` nor ``bias``; ``bias=False`` drops only β.
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or any(not isinstance(n, (int, np.integer)) or n < 1 for n in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive ints, got {normalized_shape!r}")
        if not eps >= 0:
            raise ValueError(f"LayerNorm: eps must be non-negative, got {eps}")
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        d = backend.get_default_dtype()
        if elementwise_affine:
            self.weight = Parameter(backend.to_backend(np.ones(self.normalized_shape, d)))
            if bias:
                self.bias = Parameter(backend.to_backend(np.zeros(self.normalized_shape, d)))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        k = len(self.normalized_shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k :]) != self.normalized_shape:
            want = ", ".join(map(str, self.normalized_shape))
            raise ValueError(f"LayerNorm: expected input of shape (*, {want}), got shape {x.shape}")
        if self.weight is not None:
            check_dtype("LayerNorm", "input", x, self.weight.dtype)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
