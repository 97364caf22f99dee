"""``DataLoader``: batches from a dataset, with PyTorch's arguments, checks and lengths.

Loading runs in the calling process. What differs from PyTorch:

- ``num_workers`` must be 0: worker processes are not supported, and a positive value is a
  ``NotImplementedError`` saying so (rather than silently running in-process, which would hide that
  ``worker_init_fn`` and per-worker sharding of an ``IterableDataset`` never run).
- ``pin_memory`` and ``pin_memory_device`` are accepted and ignored: batches are built where the
  backend keeps its arrays (host memory for NumPy, the GPU for CuPy).
- ``timeout``, ``worker_init_fn``, ``in_order`` are accepted and, without workers, have no effect;
  ``prefetch_factor``, ``persistent_workers`` and ``multiprocessing_context`` are errors without
  workers, as in PyTorch.
- Shuffled orders differ from PyTorch's for the same seed (see :mod:`.sampler`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, _InfiniteConstantSampler

# Fixed once the loader is built, because the batch sampler was derived from them (as in PyTorch).
_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


def get_worker_info() -> None:
    """Always ``None``: loading runs in the main process (PyTorch returns ``None`` there too)."""
    return None


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Map-style datasets are read in ``sampler`` order (sequential, or a fresh random order each pass
    with ``shuffle=True``), ``batch_size`` indices at a time, and each list of samples is merged by
    ``collate_fn`` (default :func:`~.collate.default_collate`). ``batch_sampler`` replaces
    ``batch_size``/``shuffle``/``sampler``/``drop_last`` with ready-made lists of indices;
    ``batch_size=None`` turns batching off (each sample goes through
    :func:`~.collate.default_convert`). An :class:`~.dataset.IterableDataset` is batched in stream order.

    ``len(loader)`` is the number of batches: ``ceil(N / batch_size)``, or ``floor`` with ``drop_last``.
    """

    __initialized = False

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers > 0:
            raise NotImplementedError(
                f"DataLoader: num_workers={num_workers} asks for worker processes, which tinygrad_rnn does not "
                "support; pass num_workers=0 (the default) to load batches in this process"
            )
        if prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing; "
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
            )
        if persistent_workers:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None:
            raise ValueError(
                "multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
                f"but got num_workers={num_workers}"
            )

        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            # A stream has no indices to sample or shuffle; shuffle=False is allowed (it was the default).
            if shuffle not in (False, None):
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified sampler option, but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                    f"but got batch_sampler={batch_sampler}"
                )
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")

        if sampler is None:
            if iterable:  # a stream has no keys: an endless sampler of None just counts items
                sampler = _InfiniteConstantSampler()
            else:
                sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)  # type: ignore[arg-type]

        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        self.num_workers = num_workers
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        # kept as given, as PyTorch keeps them; without workers they change nothing (module docstring)
        self.pin_memory, self.pin_memory_device, self.timeout = pin_memory, pin_memory_device, timeout
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor, self.persistent_workers, self.in_order = prefetch_factor, persistent_workers, in_order
        self._iterable = iterable
        self.__initialized = True

    def __setattr__(self, attr: str, value: Any) -> None:
        if self.__initialized and attr in _FROZEN:
            raise ValueError(f"{attr} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(attr, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __iter__(self) -> Iterator[Any]:
        return _LoaderIterator(self)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # a TypeError when the stream has no __len__, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)


class _LoaderIterator:
    """One pass over a DataLoader; a new pass (a new ``iter``) draws a new order."""

    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._dataset = loader.dataset
        self._collate = loader.collate_fn
        self._auto = loader._auto_collation
        self._drop_last = loader.drop_last
        self._indices = iter(loader._index_sampler)
        self._stream: Iterator[Any] | None = iter(loader.dataset) if loader._iterable else None
        self._ended = False

    def __iter__(self) -> _LoaderIterator:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self) -> Any:
        if self._ended:
            raise StopIteration
        index = next(self._indices)  # StopIteration ends the pass
        if self._stream is not None:
            return self._collate(self._from_stream(index))
        if not self._auto:
            return self._collate(self._dataset[index])
        # A dataset that can serve a whole batch at once says so with __getitems__ (as in PyTorch).
        getitems = getattr(self._dataset, "__getitems__", None)
        samples = getitems(index) if callable(getitems) else [self._dataset[i] for i in index]
        return self._collate(samples)

    def _from_stream(self, index: Any) -> Any:
        assert self._stream is not None
        if not self._auto:
            return next(self._stream)
        batch = []
        for _ in index:
            try:
                batch.append(next(self._stream))
            except StopIteration:
                self._ended = True  # the stream is spent; later calls stop without touching it again
                break
        if not batch or (self._drop_last and len(batch) < len(index)):
            raise StopIteration
        return batch
