"""Activation modules beyond the basic ones in :mod:`.layers`: GELU."""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module


class GELU(Module):
    """:func:`tinygrad_rnn.nn.functional.gelu` as a layer: ``approximate='none'`` (exact, via erf) or ``'tanh'``."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"
