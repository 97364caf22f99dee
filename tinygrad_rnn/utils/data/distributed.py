"""Splitting the data between the processes of a data-parallel run, with PyTorch's names.

:class:`DistributedSampler` is ``torch.utils.data.distributed.DistributedSampler``: every rank draws
the same permutation for an epoch (seeded by ``seed + epoch``, so no communication is needed to agree
on it), pads it by repeating its start (or drops its tail with ``drop_last``) so every rank gets the
same number of samples, and keeps every ``num_replicas``-th index from ``rank`` on. Equal counts matter
because each step of a data-parallel run all-reduces gradients: a rank with one batch more would wait
forever for the others. The permutation comes from a :class:`~tinygrad_rnn.Generator` (PCG64), as in
``RandomSampler``, so for ``shuffle=True`` the order differs from PyTorch's for the same seed (PyTorch
uses its Mersenne Twister); with ``shuffle=False`` the indices are PyTorch's exactly.

:class:`ShardedStream` is the language-model counterpart, which a sampler cannot express: truncated
BPTT reads a corpus as ``B`` long contiguous streams and carries the hidden state from one window of
a stream to the next, so samples are not independent and must not be shuffled. It splits the ``B``
streams of the global batch between the ranks, so ``K`` ranks with ``batch_size=b`` train on exactly
the windows one process with ``batch_size=K*b`` would.

``num_replicas`` / ``rank`` default to the process group of :mod:`tinygrad_rnn.distributed`, which is
imported only then: giving both never loads it (nor any MPI library).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator, Sized
from typing import Any

import numpy as np

from ...generator import Generator
from ...tensor import Tensor
from ._arrays import _from_host, _host
from ._random import epoch_rng
from .sampler import Sampler, _is_int

__all__ = ["DistributedSampler", "ShardedStream"]


def _replicas_and_rank(num_replicas: int | None, rank: int | None, who: str) -> tuple[int, int]:
    """The given values, the missing ones read from the process group; checked as PyTorch checks them."""
    if num_replicas is None or rank is None:
        try:  # lazily: the group is only needed when the caller did not say who it is
            dist: Any = importlib.import_module("tinygrad_rnn.distributed")
        except ImportError as e:
            raise RuntimeError(
                f"{who}: Requires distributed package to be available (importing tinygrad_rnn.distributed failed: "
                f"{e}); pass num_replicas= and rank= explicitly"
            ) from e
        if not dist.is_initialized():  # PyTorch's error for an uninitialised default group is a ValueError
            raise ValueError(
                f"{who}: Default process group has not been initialized, please make sure to call "
                "tinygrad_rnn.distributed.init_process_group() first, or pass num_replicas= and rank= explicitly"
            )
        num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
        rank = dist.get_rank() if rank is None else rank
    if not _is_int(num_replicas) or num_replicas <= 0:
        raise ValueError(f"num_replicas should be a positive integer value, but got num_replicas={num_replicas}")
    if not _is_int(rank) or rank >= num_replicas or rank < 0:
        raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
    return int(num_replicas), int(rank)


class DistributedSampler(Sampler[int]):
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` visits this epoch.

    ``len(sampler)`` is ``num_samples``: ``ceil(len(dataset) / num_replicas)``, or, with ``drop_last``
    and a length that does not divide, ``ceil((len(dataset) - num_replicas) / num_replicas)``;
    ``total_size = num_samples * num_replicas``. Call :meth:`set_epoch` before each epoch, on every
    rank, or every epoch repeats the same order. Use it as ``DataLoader(ds, batch_size=b,
    sampler=sampler)``; ``b`` is the per-rank batch size.
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        num_replicas, rank = _replicas_and_rank(num_replicas, rank, "DistributedSampler")
        if not _is_int(seed):  # fail here rather than at the first epoch, where PyTorch would
            raise TypeError(f"DistributedSampler: seed must be an int, got {type(seed).__name__}")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        # A length that divides loses nothing even with drop_last; otherwise round down (drop) or up (pad).
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = int(seed)

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            # A fresh generator from seed + epoch, not a shared stream: every rank must draw the same order.
            g = Generator().manual_seed(self.seed + self.epoch)
            indices: list[int] = epoch_rng(g).permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            # Repeat from the start (several times when num_replicas > len(dataset)).
            indices += (indices * math.ceil(pad / len(indices)))[:pad] if pad > 0 else []
        else:
            indices = indices[: self.total_size]
        if len(indices) != self.total_size:
            raise AssertionError(
                f"DistributedSampler: the dataset has {n} samples now but had {self.total_size} "
                f"(padded) when the sampler was built; a dataset must keep its size"
            )
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of epoch ``epoch`` from now on (the same on every rank for the same epoch)."""
        self.epoch = epoch


class ShardedStream:
    """This rank's ``(input, target)`` windows of a token stream, for stateful truncated BPTT.

    As ``batchify`` in PyTorch's word_language_model example, the 1-D ``tokens`` (array, list or Tensor)
    is cut into ``B = num_replicas * batch_size`` contiguous streams of ``L // B`` tokens (the tail that
    does not fill a stream is dropped); rank ``r`` takes streams ``r*batch_size .. (r+1)*batch_size - 1``,
    which are one contiguous slice ``tokens[r*b*n : (r+1)*b*n]`` of the corpus. Iterating yields, as
    ``get_batch`` does, Tensors ``input = data[i : i+k]`` and ``target = data[i+1 : i+1+k]`` of shape
    ``(k, batch_size)`` (time-major; the target is not flattened: ``target.reshape(-1)`` for a loss),
    for ``i = 0, bptt, 2*bptt, ...``; ``k = bptt`` except for a possibly shorter last window.

    Every rank has the same stream length, so the same ``len()`` (the number of windows) and the same
    window lengths: the ranks stay in step for the gradient all-reduce. Column ``j`` of consecutive
    windows continues the same stream, so the hidden state can be carried (detached) between them, and
    joining the ranks' windows along dimension 1 in rank order gives one process's windows with
    ``batch_size = num_replicas * batch_size``. Iterate again for another epoch (the same windows).
    """

    def __init__(
        self, tokens: Any, batch_size: int, bptt: int, num_replicas: int | None = None, rank: int | None = None
    ) -> None:
        for name, v in (("batch_size", batch_size), ("bptt", bptt)):
            if not _is_int(v) or v <= 0:
                raise ValueError(f"ShardedStream: {name} should be a positive integer value, but got {name}={v}")
        num_replicas, rank = _replicas_and_rank(num_replicas, rank, "ShardedStream")
        arr = _host(tokens)
        if arr.ndim != 1:
            raise ValueError(f"ShardedStream: tokens must be 1-d (one token stream), got shape {tuple(arr.shape)}")
        streams = num_replicas * batch_size
        n = arr.shape[0] // streams
        if n < 2:  # a window needs an input token and the next one as its target
            raise ValueError(
                f"ShardedStream: {arr.shape[0]} tokens make {streams} streams (num_replicas={num_replicas} x "
                f"batch_size={batch_size}) of {n} token(s); each needs at least 2 for one (input, target) window"
            )
        self.num_replicas, self.rank = num_replicas, rank
        self.batch_size, self.bptt = int(batch_size), int(bptt)
        self.stream_length = n
        part = arr[rank * batch_size * n : (rank + 1) * batch_size * n]
        self._data = np.ascontiguousarray(part.reshape(batch_size, n).T)  # (n, batch_size): only this rank's share

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for i in range(0, self.stream_length - 1, self.bptt):
            k = min(self.bptt, self.stream_length - 1 - i)
            # Tensors own their memory: writing to a window cannot change the corpus for the next epoch.
            yield _from_host(self._data[i : i + k]), _from_host(self._data[i + 1 : i + 1 + k])

    def __len__(self) -> int:
        return -(-(self.stream_length - 1) // self.bptt)
