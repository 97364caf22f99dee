"""Cross-checks against PyTorch's torch.utils.data on everything deterministic: collate structure and
dtypes, lengths and batch counts, sequential and user-given orders, error types and messages."""

import warnings
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
from _data_helpers import Range
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_rnn as tg
import tinygrad_rnn.utils.data as tud

torch = pytest.importorskip("torch")
import torch.utils.data as ttud  # noqa: E402

Pair = namedtuple("Pair", "x y")


def norm(x):
    """A comparable description of a batch from either library."""
    if isinstance(x, torch.Tensor):
        return ("T", str(x.dtype).removeprefix("torch."), tuple(x.shape), x.tolist())
    if isinstance(x, tg.Tensor):
        return ("T", str(x.dtype), tuple(x.shape), x.tolist())
    if isinstance(x, Pair):
        return ("Pair", *[norm(v) for v in x])
    if isinstance(x, dict):
        return (type(x).__name__, {k: norm(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [norm(v) for v in x])
    return x


def both(make):
    """Run ``make(lib)`` with each library's torch.utils.data and tensor constructor."""
    return make(ttud, torch.tensor), make(tud, tg.tensor)


def same_error(fn_torch, fn_tg):
    with pytest.raises(Exception) as et:
        fn_torch()
    with pytest.raises(Exception) as eg:
        fn_tg()
    assert isinstance(eg.value, type(et.value)), (type(et.value), type(eg.value), str(eg.value))
    return str(et.value), str(eg.value)


COLLATE_CASES = [
    [1.0, 2.0],
    [1, 2],
    [True, False],
    [1, 2.5],
    [1.0, 2],
    [np.float32(1), np.float32(2)],
    [np.float64(1)],
    [np.int32(1), np.int32(3)],
    [np.uint8(1)],
    [np.bool_(True)],
    [np.array(1.0), np.array(2.0)],
    [np.zeros(2, np.float32), np.ones(2, np.float32)],
    [np.arange(6, dtype=np.int16).reshape(2, 3)] * 2,
    [np.arange(3, dtype=np.int64)] * 3,
    ["a", "b"],
    [b"a", b"b"],
    [(1, 2.0), (3, 4.0)],
    [[1, 2], [3, 4]],
    [Pair(1, 2.0), Pair(3, 4.0)],
    [{"x": 1, "y": [1.0]}, {"x": 2, "y": [3.0]}],
    [OrderedDict(b=1, a=2.5), OrderedDict(b=3, a=4.5)],
    [{"seq": (np.zeros(3, np.float32), 5), "meta": {"id": 0, "name": "a"}}] * 2,
]


@pytest.mark.parametrize("batch", COLLATE_CASES, ids=range(len(COLLATE_CASES)))
def test_default_collate_matches(batch):
    assert norm(tud.default_collate(batch)) == norm(ttud.default_collate(batch))


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_default_collate_mixed_numbers_follow_the_default_dtype(default):
    tg.set_default_dtype(default)
    old = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, default))
    try:
        assert norm(tud.default_collate([1, 2.5])) == norm(ttud.default_collate([1, 2.5]))
    finally:
        torch.set_default_dtype(old)


def test_default_collate_of_tensors_matches():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = tud.default_collate([tg.tensor(a), tg.tensor(a + 1)])
    want = ttud.default_collate([torch.tensor(a), torch.tensor(a + 1)])
    assert norm(got) == norm(want)
    got = tud.default_collate([(tg.tensor(a), 1), (tg.tensor(a), 2)])
    want = ttud.default_collate([(torch.tensor(a), 1), (torch.tensor(a), 2)])
    assert norm(got) == norm(want)


CONVERT_CASES = [
    1,
    1.0,
    "s",
    np.float32(1),
    np.int64(3),
    np.zeros(2),
    np.array(3.0),
    (1, np.zeros(1)),
    [np.zeros(1, np.float32), 2],
    {"a": np.zeros(1)},
    Pair(np.zeros(1), 2),
]


@pytest.mark.parametrize("data", CONVERT_CASES, ids=range(len(CONVERT_CASES)))
def test_default_convert_matches(data):
    assert norm(tud.default_convert(data)) == norm(ttud.default_convert(data))


@pytest.mark.parametrize(
    "batch",
    [
        [np.zeros(3), np.zeros(4)],
        [[1, 2], [3]],
        [None],
        [object()],
        [np.array(["a"])],
        [np.array([1], dtype=object)],
        [1, "a"],
        [],
    ],
    ids=["shapes", "seq-lengths", "none", "object", "str-array", "object-array", "mixed", "empty"],
)
def test_default_collate_error_types_match(batch):
    same_error(lambda: ttud.default_collate(batch), lambda: tud.default_collate(batch))


def test_unsupported_type_message_matches():
    msg_torch, msg_tg = same_error(lambda: ttud.default_collate([None]), lambda: tud.default_collate([None]))
    assert msg_tg == msg_torch


def test_tensor_shape_mismatch_error_type_matches():
    same_error(
        lambda: ttud.default_collate([torch.zeros(3), torch.zeros(4)]),
        lambda: tud.default_collate([tg.zeros(3), tg.zeros(4)]),
    )


# ---- samplers --------------------------------------------------------------------------------------
def test_sequential_sampler_matches():
    assert list(tud.SequentialSampler(range(7))) == list(ttud.SequentialSampler(range(7)))


@given(
    order=st.lists(st.integers(0, 100), max_size=60),
    bs=st.integers(1, 12),
    drop_last=st.booleans(),
)
def test_batch_sampler_matches_on_a_fixed_order(order, bs, drop_last):
    ours, theirs = tud.BatchSampler(order, bs, drop_last), ttud.BatchSampler(order, bs, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("bs, drop_last", [(0, False), (-1, False), (1.5, False), (True, False), (2, 1), (2, None)])
def test_batch_sampler_argument_errors_match(bs, drop_last):
    t, g = same_error(
        lambda: ttud.BatchSampler(range(3), bs, drop_last), lambda: tud.BatchSampler(range(3), bs, drop_last)
    )
    assert g == t


@pytest.mark.parametrize(
    "kwargs",
    [{"replacement": 1}, {"num_samples": 0}, {"num_samples": -3}, {"num_samples": 2.0}],
)
def test_random_sampler_argument_errors_match(kwargs):
    t, g = same_error(lambda: ttud.RandomSampler(range(3), **kwargs), lambda: tud.RandomSampler(range(3), **kwargs))
    assert g == t


def test_random_sampler_on_an_empty_dataset_errors_alike():
    same_error(lambda: ttud.RandomSampler([]), lambda: tud.RandomSampler([]))


@pytest.mark.parametrize("n, kwargs", [(5, {}), (5, {"num_samples": 12}), (5, {"num_samples": 3, "replacement": True})])
def test_random_sampler_lengths_match(n, kwargs):
    ours, theirs = tud.RandomSampler(range(n), **kwargs), ttud.RandomSampler(range(n), **kwargs)
    assert len(ours) == len(theirs) == len(list(ours)) == len(list(theirs))
    assert ours.num_samples == theirs.num_samples and ours.replacement == theirs.replacement


@pytest.mark.parametrize(
    "args",
    [([1.0], 0), ([1.0], True), ([1.0], 2.0), ([[1.0, 2.0]], 1)],
)
def test_weighted_sampler_argument_errors_match(args):
    t, g = same_error(lambda: ttud.WeightedRandomSampler(*args), lambda: tud.WeightedRandomSampler(*args))
    assert g == t


def test_weighted_sampler_replacement_error_matches():
    t, g = same_error(
        lambda: ttud.WeightedRandomSampler([1.0], 1, replacement=0),
        lambda: tud.WeightedRandomSampler([1.0], 1, replacement=0),
    )
    assert g == t


def test_weighted_sampler_attributes_match():
    ours, theirs = tud.WeightedRandomSampler([1, 2, 3], 7), ttud.WeightedRandomSampler([1, 2, 3], 7)
    assert len(ours) == len(theirs) == 7
    assert ours.weights.tolist() == theirs.weights.tolist()
    assert str(ours.weights.dtype) == str(theirs.weights.dtype).removeprefix("torch.")


def test_subset_random_sampler_covers_the_same_indices():
    idx = [3, 9, 4]
    assert sorted(tud.SubsetRandomSampler(idx)) == sorted(ttud.SubsetRandomSampler(idx))
    assert len(tud.SubsetRandomSampler(idx)) == len(ttud.SubsetRandomSampler(idx))


# ---- datasets --------------------------------------------------------------------------------------
def test_tensor_dataset_samples_match():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.arange(4)
    ours, theirs = tud.TensorDataset(tg.tensor(x), tg.tensor(y)), ttud.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(ours) == len(theirs)
    for i in (0, 3, -1, slice(1, 3)):
        assert norm(ours[i]) == norm(theirs[i])


def test_concat_and_subset_match():
    a, b = list(range(5)), list(range(10, 13))
    ours, theirs = tud.ConcatDataset([a, b]), ttud.ConcatDataset([a, b])
    assert len(ours) == len(theirs) and ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-8, 8)] == [theirs[i] for i in range(-8, 8)]
    same_error(lambda: theirs[-9], lambda: ours[-9])
    sub_o, sub_t = tud.Subset(a, [4, 0, 2]), ttud.Subset(a, [4, 0, 2])
    assert [sub_o[i] for i in range(3)] == [sub_t[i] for i in range(3)] and len(sub_o) == len(sub_t)
    assert sub_o.__getitems__([2, 1]) == sub_t.__getitems__([2, 1])


@given(n=st.integers(0, 300), fracs=st.lists(st.integers(1, 30), min_size=1, max_size=7))
def test_random_split_fraction_lengths_match(n, fracs):
    lengths = [f / sum(fracs) for f in fracs]
    assume(sum(lengths) <= 1)  # PyTorch refuses fractions whose float sum is just above 1; we accept them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn about empty splits
        ours = [len(s) for s in tud.random_split(range(n), lengths, generator=tg.Generator())]
        theirs = [len(s) for s in ttud.random_split(range(n), lengths, generator=torch.Generator())]
    assert ours == theirs


@pytest.mark.parametrize("lengths", [[3, 3], [0.5, 0.4], [1.5, -0.5], [11]])
def test_random_split_error_types_match(lengths):
    same_error(
        lambda: ttud.random_split(range(10), lengths, generator=torch.Generator()),
        lambda: tud.random_split(range(10), lengths, generator=tg.Generator()),
    )


def test_random_split_ints_partition_alike():
    ours = tud.random_split(range(10), [3, 7], generator=tg.Generator().manual_seed(42))
    theirs = ttud.random_split(range(10), [3, 7], generator=torch.Generator().manual_seed(42))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s) == sorted(i for s in theirs for i in s)


# ---- DataLoader ------------------------------------------------------------------------------------
def _stream(lib, n, with_len=True):
    class Stream(lib.IterableDataset):
        def __iter__(self):
            return iter(range(n))

    if with_len:
        Stream.__len__ = lambda self: n
    return Stream()


@given(n=st.integers(0, 150), bs=st.one_of(st.none(), st.integers(1, 40)), drop_last=st.booleans())
def test_loader_lengths_and_batches_match(n, bs, drop_last):
    if bs is None:
        drop_last = False
    ours = tud.DataLoader(Range(n), batch_size=bs, drop_last=drop_last)
    theirs = ttud.DataLoader(Range(n), batch_size=bs, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [norm(b) for b in ours] == [norm(b) for b in theirs]


@given(n=st.integers(0, 150), bs=st.integers(1, 40), drop_last=st.booleans())
def test_shuffled_loader_lengths_and_sizes_match(n, bs, drop_last):
    if n == 0:
        return  # both refuse to shuffle nothing (checked below)
    ours = tud.DataLoader(Range(n), batch_size=bs, shuffle=True, drop_last=drop_last)
    theirs = ttud.DataLoader(Range(n), batch_size=bs, shuffle=True, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [len(b) for b in ours] == [len(b) for b in theirs]


def test_shuffling_nothing_errors_alike():
    same_error(lambda: ttud.DataLoader(Range(0), shuffle=True), lambda: tud.DataLoader(Range(0), shuffle=True))


@given(n=st.integers(0, 60), bs=st.one_of(st.none(), st.integers(1, 12)), drop_last=st.booleans())
def test_iterable_loader_matches(n, bs, drop_last):
    if bs is None:
        drop_last = False
    ours = tud.DataLoader(_stream(tud, n), batch_size=bs, drop_last=drop_last)
    theirs = ttud.DataLoader(_stream(ttud, n), batch_size=bs, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [norm(b) for b in ours] == [norm(b) for b in theirs]


def test_iterable_loader_without_len_errors_alike():
    same_error(
        lambda: len(ttud.DataLoader(_stream(ttud, 3, with_len=False), batch_size=2)),
        lambda: len(tud.DataLoader(_stream(tud, 3, with_len=False), batch_size=2)),
    )


def test_tensor_dataset_loader_matches():
    x = np.random.default_rng(0).normal(size=(11, 3)).astype(np.float32)
    y = np.arange(11)
    ours = tud.DataLoader(tud.TensorDataset(tg.tensor(x), tg.tensor(y)), batch_size=4)
    theirs = ttud.DataLoader(ttud.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4)
    assert [norm(b) for b in ours] == [norm(b) for b in theirs]


def test_user_sampler_and_batch_sampler_match():
    order, batches = [5, 0, 3, 1, 4, 2], [[2, 0], [5], [1, 3, 4]]
    for kw in ({"sampler": order, "batch_size": 4}, {"batch_sampler": batches}, {"sampler": order, "batch_size": None}):
        ours, theirs = tud.DataLoader(Range(6), **kw), ttud.DataLoader(Range(6), **kw)
        assert len(ours) == len(theirs) and [norm(b) for b in ours] == [norm(b) for b in theirs]
    for kw in ({"sampler": order}, {"batch_sampler": batches}):
        ours, theirs = tud.DataLoader(Range(6), **kw), ttud.DataLoader(Range(6), **kw)
        assert (ours.batch_size, ours.drop_last) == (theirs.batch_size, theirs.drop_last)


def test_batch_samplers_drive_both_loaders_alike():
    lengths = [5, 1, 9, 3, 7, 2, 8]
    bucket = tud.BucketBatchSampler(lengths, 3, shuffle=False)
    seqs = [np.ones(L, np.float32) for L in lengths]
    theirs = ttud.DataLoader(seqs, batch_sampler=list(bucket), collate_fn=lambda b: [len(s) for s in b])
    ours = tud.DataLoader(seqs, batch_sampler=bucket, collate_fn=lambda b: [len(s) for s in b])
    assert list(ours) == list(theirs)


LOADER_ERRORS = [
    {"sampler": [0, 1], "shuffle": True},
    {"batch_sampler": [[0]], "batch_size": 2},
    {"batch_sampler": [[0]], "shuffle": True},
    {"batch_sampler": [[0]], "sampler": [0]},
    {"batch_sampler": [[0]], "drop_last": True},
    {"batch_size": None, "drop_last": True},
    {"num_workers": -1},
    {"timeout": -1},
    {"persistent_workers": True},
    {"multiprocessing_context": "spawn"},
    {"batch_size": 0},
    {"batch_size": 2, "drop_last": 1},
]


@pytest.mark.parametrize("kwargs", LOADER_ERRORS, ids=[",".join(k) for k in LOADER_ERRORS])
def test_loader_argument_errors_match(kwargs):
    t, g = same_error(lambda: ttud.DataLoader(Range(3), **kwargs), lambda: tud.DataLoader(Range(3), **kwargs))
    assert g == t


def test_prefetch_factor_error_type_matches():
    same_error(
        lambda: ttud.DataLoader(Range(3), prefetch_factor=2), lambda: tud.DataLoader(Range(3), prefetch_factor=2)
    )


@pytest.mark.parametrize("kwargs", [{"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}])
def test_iterable_loader_argument_errors_match(kwargs):
    t, g = same_error(
        lambda: ttud.DataLoader(_stream(ttud, 3), **kwargs), lambda: tud.DataLoader(_stream(tud, 3), **kwargs)
    )
    assert g == t


def test_frozen_attribute_error_matches():
    t, g = same_error(
        lambda: setattr(ttud.DataLoader(Range(3)), "batch_size", 2),
        lambda: setattr(tud.DataLoader(Range(3)), "batch_size", 2),
    )
    assert g == t


def test_loader_defaults_match():
    ours, theirs = tud.DataLoader(Range(3)), ttud.DataLoader(Range(3))
    for attr in ("batch_size", "drop_last", "num_workers", "pin_memory", "timeout", "prefetch_factor", "in_order"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert type(ours.sampler).__name__ == type(theirs.sampler).__name__
    assert type(ours.batch_sampler).__name__ == type(theirs.batch_sampler).__name__
    assert tud.get_worker_info() is ttud.get_worker_info() is None


# ---- Generator -------------------------------------------------------------------------------------
def test_generator_seed_conventions_match():
    assert tg.Generator().initial_seed() == torch.Generator().initial_seed()
    for seed in (0, 5, -1, -(2**63), 2**64 - 1):
        assert tg.Generator().manual_seed(seed).initial_seed() == torch.Generator().manual_seed(seed).initial_seed()
    for seed in (2**64, -(2**63) - 1):
        same_error(lambda s=seed: torch.Generator().manual_seed(s), lambda s=seed: tg.Generator().manual_seed(s))
    assert tg.Generator().get_state().dtype == np.uint8 and torch.Generator().get_state().dtype == torch.uint8


def test_generator_set_state_errors_match():
    same_error(lambda: torch.Generator().set_state(5), lambda: tg.Generator().set_state(5))
    same_error(
        lambda: torch.Generator().set_state(torch.zeros(10, dtype=torch.uint8)),
        lambda: tg.Generator().set_state(tg.Tensor(np.zeros(10, np.uint8))),
    )
    # A non-int seed is a TypeError here; PyTorch's Generator raises RuntimeError for it (a deliberate difference).
    with pytest.raises(RuntimeError):
        torch.Generator().manual_seed("1")
    with pytest.raises(TypeError):
        tg.Generator().manual_seed("1")


# ---- the RNN extras drive PyTorch's own LSTM the same way -------------------------------------------
def test_pad_collate_matches_pad_sequence():
    from torch.nn.utils.rnn import pad_sequence

    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(L, 3)).astype(np.float32) for L in (4, 1, 6)]
    for batch_first in (False, True):
        x, lengths = tud.pad_collate(seqs, padding_value=-2.0, batch_first=batch_first)
        want = pad_sequence([torch.tensor(s) for s in seqs], batch_first=batch_first, padding_value=-2.0)
        assert norm(x) == norm(want)
        assert lengths.tolist() == [4, 1, 6] and str(lengths.dtype) == "int64"


def test_padded_lstm_matches_pytorch_packed_lstm():
    rng = np.random.default_rng(1)
    seqs = [rng.normal(size=(L, 2)).astype(np.float32) for L in (5, 2, 4)]
    ours = tg.nn.LSTM(2, 3)
    theirs = torch.nn.LSTM(2, 3)
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.tensor(getattr(ours, name).numpy()))
    x, lengths = tud.pad_collate(seqs)
    _, (h, _) = ours(x, lengths=lengths)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x.numpy()), lengths.tolist(), enforce_sorted=False)
    _, (ht, _) = theirs(packed)
    assert np.allclose(h.numpy(), ht.detach().numpy(), atol=1e-5)


def test_bucket_batches_are_sorted_for_enforce_sorted_packing():
    lengths = [3, 8, 1, 5, 5, 2, 7, 4]
    seqs = [np.ones((L, 1), np.float32) for L in lengths]
    for batch in tud.BucketBatchSampler(lengths, 3, generator=tg.Generator()):
        x, lens = tud.pad_collate([seqs[i] for i in batch])
        torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x.numpy()), lens.tolist(), enforce_sorted=True)
