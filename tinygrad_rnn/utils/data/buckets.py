"""``BucketBatchSampler``: batches of sequences of similar length, so padding wastes few time steps.

Not in PyTorch; it is what RNN training scripts write by hand. Each pass:

1. the indices are shuffled (``shuffle=True``) or taken in order;
2. they are cut into pools of ``batch_size * bucket_size_multiplier`` indices (one pool of everything
   with ``bucket_size_multiplier=None``);
3. each pool is sorted by length, longest first (ties keep their pool order), and cut into batches;
4. the batch order is shuffled (``shuffle=True``).

So batches differ from pass to pass, yet each holds sequences of nearly equal length; within a batch
lengths never increase, the order ``pack_padded_sequence(enforce_sorted=True)`` asks for. Every index
appears exactly once per pass, in ``ceil(N / batch_size)`` batches of which only one may be short; with
``drop_last`` that one is dropped, leaving ``floor(N / batch_size)``. A larger multiplier pads less and
shuffles less. Use it as ``DataLoader(ds, batch_sampler=BucketBatchSampler(lengths, 32),
collate_fn=pad_collate)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ._arrays import _host
from ._random import check_generator, epoch_rng
from .sampler import Sampler, _is_int


class BucketBatchSampler(Sampler[list[int]]):
    """Lists of indices into a dataset whose ``i``-th sequence has length ``lengths[i]``.

    ``lengths``: one non-negative int per sample (a list, array or Tensor). ``generator`` (a
    :class:`~tinygrad_rnn.Generator`) makes the passes repeatable; without one they follow ``tg.manual_seed``.
    """

    def __init__(
        self,
        lengths: Any,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        bucket_size_multiplier: int | None = 100,
        generator: Any = None,
    ) -> None:
        if not _is_int(batch_size) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} should be a boolean value, but got {name}={flag}")
        if bucket_size_multiplier is not None and (not _is_int(bucket_size_multiplier) or bucket_size_multiplier <= 0):
            raise ValueError(
                "bucket_size_multiplier should be a positive integer value or None, "
                f"but got bucket_size_multiplier={bucket_size_multiplier}"
            )
        check_generator(generator, "BucketBatchSampler")
        lens = _host(lengths)
        if lens.ndim != 1:
            raise ValueError(f"BucketBatchSampler: lengths must be 1-d (one per sample), got shape {lens.shape}")
        if lens.size == 0:
            lens = lens.astype(np.int64)
        if lens.dtype.kind not in "iu":
            raise TypeError(f"BucketBatchSampler: lengths must be integers, got dtype {lens.dtype}")
        if lens.size and lens.min() < 0:
            raise ValueError(f"BucketBatchSampler: lengths must be non-negative, got min {lens.min()}")
        self.lengths = lens.astype(np.int64)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.bucket_size_multiplier = bucket_size_multiplier
        self.generator = generator

    def _pool_size(self) -> int:
        n = len(self.lengths)
        if self.bucket_size_multiplier is None:
            return max(n, 1)
        return self.batch_size * int(self.bucket_size_multiplier)  # a multiple of batch_size: one short batch at most

    def __iter__(self) -> Iterator[list[int]]:
        n, bs = len(self.lengths), self.batch_size
        rng = epoch_rng(self.generator) if self.shuffle else None
        order = rng.permutation(n) if rng is not None else np.arange(n)
        pool = self._pool_size()
        batches: list[np.ndarray] = []
        for start in range(0, n, pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches.extend(chunk[j : j + bs] for j in range(0, len(chunk), bs))
        if self.drop_last and batches and len(batches[-1]) < bs:
            batches.pop()  # only the last pool's last batch can be short
        if rng is not None:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        for b in batches:
            yield b.tolist()

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
