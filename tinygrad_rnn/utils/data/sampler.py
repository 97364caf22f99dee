"""Samplers: the order in which a ``DataLoader`` visits a map-style dataset.

``SequentialSampler``, ``RandomSampler``, ``SubsetRandomSampler``, ``WeightedRandomSampler`` yield
indices; ``BatchSampler`` groups another sampler's indices into lists. The random ones draw from
``generator`` (a :class:`~tinygrad_rnn.Generator` or ``numpy.random.Generator``) or, without one,
from a stream seeded by the global seed (``tg.manual_seed``) at the start of each pass, so iterating
twice gives two orders and reseeding repeats them. Orders differ from PyTorch's for the same seed (a
different random-number generator), but are reproducible.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any, Generic, TypeVar

import numpy as np

from ._arrays import _from_host, _host
from ._random import check_generator, epoch_rng

T_co = TypeVar("T_co", covariant=True)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


class Sampler(Generic[T_co]):
    """Base class: subclasses define ``__iter__`` (and ``__len__`` when the count is known).

    The optional ``data_source`` argument is accepted for compatibility and not used.
    """

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} is a Sampler subclass and must define __iter__")


class SequentialSampler(Sampler[int]):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """Indices of ``data_source`` in random order.

    Without replacement each pass is a permutation (``num_samples`` larger than the dataset chains
    several permutations, and a smaller one takes a prefix); with ``replacement=True`` it draws
    ``num_samples`` (default ``len(data_source)``) indices independently.
    """

    def __init__(
        self, data_source: Sized, replacement: bool = False, num_samples: int | None = None, generator: Any = None
    ) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        if not _is_int(self.num_samples) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")
        check_generator(generator, "RandomSampler")

    @property
    def num_samples(self) -> int:
        # Read on each use: the dataset may grow or shrink between epochs.
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n, k = len(self.data_source), self.num_samples
        if n == 0:
            raise ValueError("RandomSampler: cannot draw indices from an empty data_source")
        rng = epoch_rng(self.generator)
        if self.replacement:
            yield from rng.integers(0, n, size=k).tolist()
            return
        for _ in range(k // n):
            yield from rng.permutation(n).tolist()
        if k % n:
            yield from rng.permutation(n)[: k % n].tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given ``indices`` in a random order, each once per pass."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices = indices
        self.generator = generator
        check_generator(generator, "SubsetRandomSampler")

    def __iter__(self) -> Iterator[int]:
        rng = epoch_rng(self.generator)
        for i in rng.permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices in ``[0, len(weights))``, index ``i`` with probability proportional to
    ``weights[i]`` (weights need not sum to 1); ``replacement=False`` never repeats an index.

    Unlike PyTorch, bad weights (negative, not finite, all zero, too few non-zero for a draw without
    replacement) are a ``ValueError`` here at construction rather than a ``RuntimeError`` at the
    first epoch.
    """

    def __init__(self, weights: Any, num_samples: int, replacement: bool = True, generator: Any = None) -> None:
        if not _is_int(num_samples) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        check_generator(generator, "WeightedRandomSampler")
        try:
            w = _host(weights).astype(np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"WeightedRandomSampler: weights must be a 1-d sequence of numbers ({e})") from None
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("WeightedRandomSampler: weights must be finite and non-negative")
        positive = int(np.count_nonzero(w))
        if positive == 0:
            raise ValueError("WeightedRandomSampler: the weights sum to 0; at least one must be positive")
        if not replacement and num_samples > positive:
            raise ValueError(
                f"WeightedRandomSampler: cannot draw num_samples={num_samples} without replacement "
                f"from {positive} indices of non-zero weight"
            )
        self.weights = _from_host(w)
        self._p = w / w.sum()
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        rng = epoch_rng(self.generator)
        yield from rng.choice(len(self._p), size=self.num_samples, replace=self.replacement, p=self._p).tolist()

    def __len__(self) -> int:
        return self.num_samples


class _InfiniteConstantSampler(Sampler[None]):
    """``None`` forever: the DataLoader's sampler for an IterableDataset, where a batch sampler over it
    only sets how many stream items make a batch."""

    def __iter__(self) -> Iterator[None]:
        return itertools.repeat(None)


class BatchSampler(Sampler[list[int]]):
    """Lists of ``batch_size`` consecutive indices from ``sampler``; the last may be shorter unless
    ``drop_last``. ``len`` is ``ceil(len(sampler) / batch_size)`` (``floor`` with ``drop_last``)."""

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not _is_int(batch_size) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        it = iter(self.sampler)
        while batch := list(itertools.islice(it, self.batch_size)):
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
