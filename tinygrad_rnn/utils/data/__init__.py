"""Data loading with PyTorch's ``torch.utils.data`` API, plus the batching RNNs need.

``from tinygrad_rnn.utils.data import DataLoader, Dataset, TensorDataset, random_split`` works as
PyTorch's does: datasets (:mod:`.dataset`), samplers (:mod:`.sampler`), ``default_collate`` /
``default_convert`` (:mod:`.collate`) and ``DataLoader`` (:mod:`.dataloader`). For variable-length
sequences, :class:`BucketBatchSampler` (:mod:`.buckets`) groups samples of similar length and
:func:`pad_collate` (:mod:`.padding`) pads a batch and returns the lengths ``nn.LSTM(x, lengths=...)``
takes. For data-parallel runs, :mod:`.distributed` holds ``DistributedSampler`` (PyTorch's path,
``tg.utils.data.distributed.DistributedSampler``) and ``ShardedStream`` (a corpus split between ranks for
truncated BPTT); it is a submodule only, so its names are not in this namespace.

Randomness: shuffling, ``random_split`` and the random samplers draw from a ``generator=``
(:class:`tinygrad_rnn.Generator`, PCG64) or, without one, from a stream seeded by the global seed, so
``tg.manual_seed(s)`` makes them repeatable. The orders differ from PyTorch's for the same seed (PyTorch
uses its own Mersenne Twister / Philox generators, which this library does not reimplement), but a seed
always gives the same order here, on every backend.

Loading runs in the calling process: ``num_workers`` must be 0, ``pin_memory`` is ignored (see
:mod:`.dataloader`).
"""

from . import distributed  # noqa: F401  (a submodule, reached as PyTorch's path; its names stay out of __all__)
from .buckets import BucketBatchSampler
from .collate import default_collate, default_convert
from .dataloader import DataLoader, get_worker_info
from .dataset import ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .padding import PadCollate, pad_collate
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler

__all__ = [
    "Dataset",
    "IterableDataset",
    "TensorDataset",
    "Subset",
    "ConcatDataset",
    "ChainDataset",
    "random_split",
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
    "DataLoader",
    "get_worker_info",
    "default_collate",
    "default_convert",
    "BucketBatchSampler",
    "pad_collate",
    "PadCollate",
]
