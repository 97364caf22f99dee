"""DataLoader: batching, lengths, shuffling, argument checks, iterable datasets (no PyTorch needed)."""

import math

import numpy as np
import pytest
from _data_helpers import Range
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
    default_convert,
    get_worker_info,
)


class Stream(IterableDataset):
    def __init__(self, n, with_len=True):
        self.n, self.with_len = n, with_len

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        if not self.with_len:
            raise TypeError("Stream has no len")
        return self.n


def labels(loader):
    return [b[1].tolist() for b in loader]


def test_sequential_batches_of_a_tensor_dataset():
    x, y = tg.randn(10, 3), tg.arange(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert np.allclose(np.concatenate([b[0].numpy() for b in batches]), x.numpy())
    assert isinstance(batches[0], list)  # tuples collate into lists, as in PyTorch


def test_default_batch_size_is_one():
    loader = DataLoader(Range(3))
    assert [b.tolist() for b in loader] == [[0], [1], [2]] and len(loader) == 3
    assert loader.batch_size == 1 and isinstance(loader.sampler, SequentialSampler)
    assert isinstance(loader.batch_sampler, BatchSampler) and loader.collate_fn is default_collate


def test_drop_last():
    loader = DataLoader(Range(10), batch_size=4, drop_last=True)
    assert [b.tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(loader) == 2


def test_shuffle_covers_every_index_and_reshuffles():
    loader = DataLoader(Range(40), batch_size=7, shuffle=True)
    epochs = [[i for b in loader for i in b.tolist()] for _ in range(3)]
    assert all(sorted(e) == list(range(40)) for e in epochs)
    assert epochs[0] != epochs[1] != epochs[2]
    assert isinstance(loader.sampler, RandomSampler)


def test_shuffle_follows_manual_seed():
    loader = DataLoader(Range(30), batch_size=4, shuffle=True)
    tg.manual_seed(3)
    a = [[b.tolist() for b in loader] for _ in range(2)]
    tg.manual_seed(3)
    b = [[b.tolist() for b in loader] for _ in range(2)]
    assert a == b


def test_shuffle_with_a_generator():
    def run(seed):
        loader = DataLoader(Range(30), batch_size=5, shuffle=True, generator=tg.Generator().manual_seed(seed))
        return [[b.tolist() for b in loader] for _ in range(2)]

    assert run(1) == run(1) != run(2)
    first, second = run(1)
    assert first != second


def test_generator_is_not_affected_by_global_seed():
    g1, g2 = tg.Generator().manual_seed(5), tg.Generator().manual_seed(5)
    tg.manual_seed(0)
    a = [b.tolist() for b in DataLoader(Range(20), batch_size=4, shuffle=True, generator=g1)]
    tg.manual_seed(99)
    b = [b.tolist() for b in DataLoader(Range(20), batch_size=4, shuffle=True, generator=g2)]
    assert a == b


def test_user_sampler_and_batch_sampler():
    order = [4, 2, 0, 1, 3]
    loader = DataLoader(Range(5), batch_size=2, sampler=order)
    assert [b.tolist() for b in loader] == [[4, 2], [0, 1], [3]] and len(loader) == 3
    loader = DataLoader(Range(5), batch_sampler=[[3, 1], [0], [2, 4]])
    assert [b.tolist() for b in loader] == [[3, 1], [0], [2, 4]] and len(loader) == 3
    assert loader.batch_size is None and loader.drop_last is False


def test_batch_size_none_converts_each_sample():
    ds = [np.float32(1.5), np.zeros(2), (np.ones(1), 3), "s"]
    out = list(DataLoader(ds, batch_size=None))
    assert isinstance(out[0], tg.Tensor) and out[0].shape == () and out[0].dtype == np.float32
    assert out[1].shape == (2,)
    assert isinstance(out[2], list) and isinstance(out[2][0], tg.Tensor) and out[2][1] == 3
    assert out[3] == "s"
    loader = DataLoader(Range(4), batch_size=None, shuffle=True)
    assert sorted(loader) == [0, 1, 2, 3] and len(loader) == 4
    assert loader.collate_fn is default_convert and loader.batch_sampler is None


def test_batch_size_none_with_a_batch_yielding_sampler():
    # With batching off, a sampler may yield whole index lists for a dataset that serves them itself.
    class Batched(Dataset):
        def __getitem__(self, idx):
            return np.asarray(idx) * 10

        def __len__(self):
            return 6

    loader = DataLoader(Batched(), batch_size=None, sampler=BatchSampler(range(6), 4, False))
    assert [b.tolist() for b in loader] == [[0, 10, 20, 30], [40, 50]]


def test_custom_collate_fn_receives_the_sample_list():
    seen = []
    loader = DataLoader(Range(5), batch_size=2, collate_fn=lambda b: seen.append(b) or len(b))
    assert list(loader) == [2, 2, 1] and seen == [[0, 1], [2, 3], [4]]


def test_getitems_is_used_for_whole_batches():
    class Batched(Range):
        calls = []

        def __getitems__(self, idx):
            self.calls.append(list(idx))
            return [i * 100 for i in idx]

    ds = Batched(5)
    assert [b.tolist() for b in DataLoader(ds, batch_size=3)] == [[0, 100, 200], [300, 400]]
    assert ds.calls == [[0, 1, 2], [3, 4]]
    sub = Subset(ds, [4, 3])
    assert [b.tolist() for b in DataLoader(sub, batch_size=2)] == [[400, 300]]


def test_each_iterator_is_its_own_pass():
    loader = DataLoader(Range(6), batch_size=2)
    it1, it2 = iter(loader), iter(loader)
    assert next(it1).tolist() == [0, 1] and next(it1).tolist() == [2, 3]
    assert next(it2).tolist() == [0, 1]
    assert len(it1) == 3 and iter(it1) is it1
    assert next(it1).tolist() == [4, 5]
    with pytest.raises(StopIteration):
        next(it1)


def test_empty_dataset():
    assert list(DataLoader(Range(0), batch_size=3)) == [] and len(DataLoader(Range(0), batch_size=3)) == 0


def test_iterable_dataset_batches_the_stream():
    loader = DataLoader(Stream(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    loader = DataLoader(Stream(7), batch_size=3, drop_last=True)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5]] and len(loader) == 2
    assert [b.tolist() for b in DataLoader(Stream(6), batch_size=3)] == [[0, 1, 2], [3, 4, 5]]
    assert (
        list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2] and len(DataLoader(Stream(3), batch_size=None)) == 3
    )
    assert list(DataLoader(Stream(0), batch_size=2)) == []


def test_iterable_dataset_twice_restarts_the_stream():
    loader = DataLoader(Stream(4), batch_size=3)
    assert [[b.tolist() for b in loader] for _ in range(2)] == [[[0, 1, 2], [3]]] * 2


def test_iterable_dataset_without_len():
    loader = DataLoader(Stream(5, with_len=False), batch_size=2)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4]]
    with pytest.raises(TypeError):
        len(loader)


def test_generator_function_stream_stops_cleanly():
    class Gen(IterableDataset):
        def __iter__(self):
            yield from ({"x": i} for i in range(3))

    it = iter(DataLoader(Gen(), batch_size=2))
    assert next(it)["x"].tolist() == [0, 1] and next(it)["x"].tolist() == [2]
    for _ in range(2):
        with pytest.raises(StopIteration):
            next(it)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"shuffle": True}, "expected unspecified shuffle option, but got shuffle=True"),
        ({"sampler": [0, 1]}, "expected unspecified sampler option"),
        ({"batch_sampler": [[0]]}, "expected unspecified batch_sampler option"),
    ],
)
def test_iterable_dataset_refuses_samplers(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(Stream(3), **kwargs)
    DataLoader(Stream(3), shuffle=False)  # allowed: it was the default


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sampler": [0, 1], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
        ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "shuffle": True}, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "sampler": [0]}, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "drop_last": True}, "batch_sampler option is mutually exclusive"),
        ({"batch_size": None, "drop_last": True}, "batch_size=None option disables auto-batching"),
        ({"num_workers": -1}, "num_workers option should be non-negative"),
        ({"timeout": -1}, "timeout option should be non-negative"),
        ({"prefetch_factor": 2}, "prefetch_factor option could only be specified in multiprocessing"),
        ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
        ({"multiprocessing_context": "spawn"}, "multiprocessing_context can only be used"),
        ({"batch_size": 0}, "batch_size should be a positive integer value"),
        ({"batch_size": 2, "drop_last": 1}, "drop_last should be a boolean value"),
    ],
)
def test_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(Range(3), **kwargs)


def test_workers_are_not_supported():
    with pytest.raises(NotImplementedError, match="num_workers=2.*num_workers=0"):
        DataLoader(Range(3), num_workers=2)


def test_harmless_options_are_accepted():
    loader = DataLoader(
        Range(4),
        batch_size=2,
        pin_memory=True,
        pin_memory_device="cuda",
        timeout=0,
        worker_init_fn=print,
        in_order=False,
    )
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3]]
    assert loader.pin_memory is True and loader.num_workers == 0 and loader.prefetch_factor is None
    assert get_worker_info() is None


@pytest.mark.parametrize(
    "attr", ["batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers"]
)
def test_frozen_attributes(attr):
    loader = DataLoader(Range(4))
    with pytest.raises(ValueError, match=f"{attr} attribute should not be set after DataLoader is initialized"):
        setattr(loader, attr, None)
    loader.collate_fn = list  # other attributes stay settable
    assert loader.collate_fn is list


@given(n=st.integers(0, 200), bs=st.integers(1, 50), drop_last=st.booleans(), shuffle=st.booleans())
def test_batch_count_and_sizes_property(n, bs, drop_last, shuffle):
    loader = DataLoader(Range(n), batch_size=bs, drop_last=drop_last, shuffle=shuffle and n > 0)
    sizes = [len(b) for b in loader]
    want_len = n // bs if drop_last else math.ceil(n / bs)
    assert len(loader) == len(sizes) == want_len
    assert all(s == bs for s in sizes[:-1])
    if sizes:
        assert sizes[-1] == (bs if drop_last or n % bs == 0 else n % bs)


@given(n=st.integers(0, 60), bs=st.integers(1, 10), drop_last=st.booleans())
def test_iterable_batch_count_property(n, bs, drop_last):
    loader = DataLoader(Stream(n), batch_size=bs, drop_last=drop_last)
    assert len(list(loader)) == len(loader) == (n // bs if drop_last else math.ceil(n / bs))
