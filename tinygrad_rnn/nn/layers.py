"""Feed-forward building blocks: Linear, Embedding, Dropout, Sequential and activation modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import backend, checks
from ..ops.movement import GetItem
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module


class Linear(Module):
    """y = x Wᵀ + b.

    ============ =====================
    x            ``(*, in_features)``
    weight       ``(out_features, in_features)``, U(-1/√in, 1/√in)
    bias         ``(out_features,)``, same
    y            ``(*, out_features)``
    ============ =====================
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        k = init.fan_in_bound(in_features)
        self.weight = init.uniform((out_features, in_features), k)
        self.register_parameter("bias", init.uniform((out_features,), k) if bias else None)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: expected input (*, {self.in_features}), got shape {x.shape}")
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: row ``ids[...]`` of ``weight`` ``(num_embeddings, embedding_dim)``, N(0, 1) init.

    The backward scatter-adds into the rows that were looked up (repeated ids accumulate). The row
    ``padding_idx`` is excluded from gradients.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None and not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(f"Embedding: padding_idx {padding_idx} out of range for {num_embeddings} rows")
        self.padding_idx = None if padding_idx is None else padding_idx % num_embeddings
        self.weight = init.normal((num_embeddings, embedding_dim))
        if self.padding_idx is not None:
            w = self.weight.array.copy()
            w[self.padding_idx] = 0
            self.weight.array = w

    def forward(self, ids: Any) -> Tensor:
        idx = ids.array if isinstance(ids, Tensor) else ids
        if not backend.is_array(idx):
            idx = np.asarray(idx)
        if idx.dtype.kind not in "iu":  # checked before any copy to the device
            raise TypeError(f"Embedding: ids must be integers, got dtype {idx.dtype}")
        idx = backend.to_backend(idx)
        checks.index_range("Embedding", idx, self.num_embeddings, "0 (the rows of weight)")
        out = GetItem.apply(self.weight, index=idx)  # checked just above: not again as a getitem
        if self.padding_idx is not None:
            keep = (idx != self.padding_idx)[..., None]
            out = F.where(keep, out, 0.0)
        return out

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}" + (
            f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        )


class Dropout(Module):
    """Zero each element with probability p during training and scale the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Sequential(Module):
    """Modules applied one after another; indexable and iterable."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i: int | slice) -> Module:
        if isinstance(i, slice):  # PyTorch: a slice is again a Sequential (sharing the modules)
            return Sequential(*list(self._modules.values())[i])
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Softplus(Module):
    """:func:`tinygrad_rnn.nn.functional.softplus` as a layer (PyTorch's ``beta`` and ``threshold``)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Softmax(Module):
    """``nn.Softmax(dim=1)``; ``dim=None`` (the default) is the last dimension. ``axis=`` is an alias."""

    def __init__(self, dim: int | None = None, *, axis: int | None = None) -> None:
        super().__init__()
        if dim is not None and axis is not None:
            raise TypeError(f"{type(self).__name__}: got both dim= and axis= (the same argument); pass one")
        self.dim = axis if dim is None else dim

    @property
    def axis(self) -> int | None:  # the NumPy name, kept for code written against it
        return self.dim

    def forward(self, x: Tensor) -> Tensor:
        return x.softmax(-1 if self.dim is None else self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """``nn.LogSoftmax(dim=-1)``; see :class:`Softmax`."""

    def forward(self, x: Tensor) -> Tensor:
        return x.log_softmax(-1 if self.dim is None else self.dim)
