"""Datasets: ``Dataset``, ``IterableDataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``,
``ChainDataset`` and ``random_split``, with PyTorch's names and behaviour."""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from ...tensor import Tensor
from ._random import check_generator, epoch_rng

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map-style dataset: subclasses define ``__getitem__(index)`` and usually ``__len__``.

    ``a + b`` is a :class:`ConcatDataset`.
    """

    def __getitem__(self, index: Any) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} is a Dataset subclass and must define __getitem__")

    def __add__(self, other: Dataset[Any]) -> ConcatDataset[Any]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A stream-style dataset: subclasses define ``__iter__``; ``__len__`` is optional.

    A :class:`~.dataloader.DataLoader` over one batches the stream in order (no sampler, no shuffle).
    ``a + b`` is a :class:`ChainDataset`.
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} is an IterableDataset subclass and must define __iter__")

    def __add__(self, other: Dataset[Any]) -> ChainDataset:  # type: ignore[override]
        return ChainDataset([self, other])


class TensorDataset(Dataset[tuple]):
    """Samples are ``tuple(t[i] for t in tensors)``: row ``i`` of each tensor.

    NumPy arrays (and anything ``Tensor`` accepts) are turned into Tensors first. All must have the
    same size along the first axis.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: pass at least one tensor")
        ts = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        for i, t in enumerate(ts):
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-d; every tensor needs a first (sample) axis")
        sizes = [t.shape[0] for t in ts]
        if len(set(sizes)) > 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first-axis sizes are {sizes}")
        self.tensors = ts

    def __getitem__(self, index: Any) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(d, idx)[i] == d[idx[i]]``."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list:
        # The DataLoader asks for a whole batch at once when a dataset can serve one (__getitems__).
        inner = getattr(self.dataset, "__getitems__", None)
        mapped = [self.indices[i] for i in indices]
        if callable(inner):
            return inner(mapped)
        return [self.dataset[i] for i in mapped]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[T_co]):
    """Map-style datasets one after another: indices run through the first, then the second, ...

    ``cumulative_sizes[k]`` is the total length of datasets ``0..k``; negative indices count from the end.
    """

    def __init__(self, datasets: Iterable[Dataset[Any]]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for i, d in enumerate(self.datasets):
            if isinstance(d, IterableDataset):
                raise TypeError(
                    f"ConcatDataset does not support IterableDataset (dataset {i} is one); use ChainDataset"
                )
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"ConcatDataset: absolute value of index {idx} should not exceed dataset length {n}")
            idx += n
        if idx >= n:
            raise IndexError(f"ConcatDataset: index {idx} is out of range for length {n}")
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][idx - start]


class ChainDataset(IterableDataset):
    """Iterable datasets streamed one after another (``len`` is the sum, when each has one)."""

    def __init__(self, datasets: Iterable[Dataset[Any]]) -> None:
        self.datasets = datasets

    def _each(self) -> Iterator[IterableDataset]:
        for i, d in enumerate(self.datasets):
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset; dataset {i} is {type(d).__name__}")
            yield d

    def __iter__(self) -> Iterator[Any]:
        for d in self._each():
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self._each():
            total += len(d)  # type: ignore[arg-type]  # a TypeError when a stream has no __len__
        return total


def _split_lengths(n: int, lengths: Sequence[int | float]) -> list[int]:
    """Sizes of the splits; fractions summing to 1 become floor(n * f) plus the remainder handed out
    one at a time from the first split on (PyTorch >= 1.13).

    Fractions whose floating-point sum lands just above 1 are accepted too (PyTorch rejects them):
    the floors still sum to at most n, so the remainder is never negative.
    """
    total = sum(lengths)
    if math.isclose(total, 1):  # ints summing to 1 take this path too, as in PyTorch (same sizes)
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1 (got {frac})")
            sizes.append(math.floor(n * frac))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(
                    f"random_split: length of split at index {i} is 0; this gives an empty dataset", stacklevel=3
                )
        return sizes
    for i, length in enumerate(lengths):
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(
                f"random_split: lengths must be non-negative ints or fractions summing to 1; index {i} is {length!r}"
            )
    if total != n:
        raise ValueError(
            f"random_split: sum of input lengths ({total}) does not equal the length of the input dataset ({n})"
        )
    return [int(v) for v in lengths]


def random_split(dataset: Any, lengths: Sequence[int | float], generator: Any = None) -> list[Subset[Any]]:
    """Split ``dataset`` into non-overlapping :class:`Subset` s of the given sizes, at random.

    ``lengths`` are ints summing to ``len(dataset)``, or fractions summing to 1 (sizes are floored
    and the remainder goes one each to the first splits). ``generator`` (a :class:`~tinygrad_rnn.Generator`)
    fixes the split; without one it follows ``tg.manual_seed``.
    """
    check_generator(generator, "random_split")
    sizes = _split_lengths(len(dataset), lengths)
    order = epoch_rng(generator).permutation(sum(sizes)).tolist()
    return [Subset(dataset, order[end - size : end]) for end, size in zip(itertools.accumulate(sizes), sizes)]
