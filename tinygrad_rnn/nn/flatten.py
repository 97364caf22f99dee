"""``Flatten`` and ``Unflatten``: reshapes of a range of axes, as layers (PyTorch's names and defaults)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..tensor import Tensor
from .module import Module


def _axis(owner: str, what: str, d: int, ndim: int) -> int:
    n = max(ndim, 1)  # a 0-d tensor flattens like a 1-element vector, as in PyTorch
    if not -n <= d < n:
        raise IndexError(f"{owner}: {what} {d} is out of range for a tensor with {ndim} dimension(s)")
    return d % n


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` (inclusive) into one: ``(N, C, H, W) -> (N, C*H*W)`` by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        s = _axis("Flatten", "start_dim", self.start_dim, x.ndim)
        e = _axis("Flatten", "end_dim", self.end_dim, x.ndim)
        if s > e:
            raise ValueError(
                f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} for shape {x.shape}"
            )
        shape = x.shape if x.ndim else (1,)
        return x.reshape(shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size`` (one entry may be -1): the inverse of :class:`Flatten`."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        sizes = tuple(int(n) for n in unflattened_size)
        if not sizes or sum(n == -1 for n in sizes) > 1 or any(n < -1 for n in sizes):
            raise ValueError(f"Unflatten: unflattened_size must be sizes with at most one -1, got {unflattened_size!r}")
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 0:
            raise ValueError("Unflatten: cannot unflatten a 0-d tensor")
        d = _axis("Unflatten", "dim", self.dim, x.ndim)
        n, sizes = x.shape[d], self.unflattened_size
        known = math.prod(s for s in sizes if s != -1)
        if (-1 not in sizes and known != n) or (-1 in sizes and (known == 0 or n % known)):
            raise ValueError(f"Unflatten: cannot split axis {self.dim} of length {n} into {sizes} (shape {x.shape})")
        return x.reshape(x.shape[:d] + sizes + x.shape[d + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
