"""Samplers: orders, lengths, argument checks, reproducibility and statistical sanity (no PyTorch needed)."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.utils.data import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


def chi_square(counts, expected):
    counts, expected = np.asarray(counts, float), np.asarray(expected, float)
    return float(((counts - expected) ** 2 / expected).sum())


# Upper 0.1% points of the chi-square distribution for the degrees of freedom used below.
CHI2_999 = {3: 16.27, 9: 27.88, 19: 43.82}


def test_base_sampler():
    with pytest.raises(NotImplementedError, match="__iter__"):
        iter(Sampler())
    Sampler(range(3))  # data_source is accepted and unused, as in PyTorch


def test_sequential_sampler():
    s = SequentialSampler(range(5))
    assert list(s) == [0, 1, 2, 3, 4] and len(s) == 5
    assert list(SequentialSampler([])) == []


def test_random_sampler_is_a_permutation_each_pass():
    s = RandomSampler(range(50))
    first, second = list(s), list(s)
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second  # a new order each pass
    assert len(s) == 50


def test_random_sampler_follows_manual_seed():
    s = RandomSampler(range(30))
    tg.manual_seed(11)
    a = [list(s), list(s)]
    tg.manual_seed(11)
    b = [list(s), list(s)]
    assert a == b


def test_random_sampler_draws_one_global_number_per_pass():
    # Model initialisation after the shuffle must not depend on the dataset size.
    tg.manual_seed(5)
    list(RandomSampler(range(3)))
    small = tg.rand(2).numpy()
    tg.manual_seed(5)
    list(RandomSampler(range(3000)))
    assert np.array_equal(tg.rand(2).numpy(), small)


def test_random_sampler_with_generator():
    a = list(RandomSampler(range(20), generator=tg.Generator().manual_seed(3)))
    b = list(RandomSampler(range(20), generator=tg.Generator().manual_seed(3)))
    assert a == b
    g = tg.Generator().manual_seed(3)
    s = RandomSampler(range(20), generator=g)
    assert list(s) == a and list(s) != a  # the generator's stream carries over between passes
    assert list(RandomSampler(range(20), generator=np.random.default_rng(0)))  # NumPy generators work too


def test_random_sampler_num_samples_without_replacement():
    s = RandomSampler(range(4), num_samples=10, generator=tg.Generator())
    out = list(s)
    assert len(out) == len(s) == 10
    assert sorted(out[:4]) == sorted(out[4:8]) == [0, 1, 2, 3]  # chained permutations
    assert len(set(out[8:])) == 2
    short = list(RandomSampler(range(10), num_samples=3))
    assert len(short) == 3 and len(set(short)) == 3


def test_random_sampler_replacement_statistics():
    s = RandomSampler(range(10), replacement=True, num_samples=20000, generator=tg.Generator().manual_seed(0))
    counts = Counter(s)
    assert set(counts) == set(range(10)) and sum(counts.values()) == 20000
    assert chi_square([counts[i] for i in range(10)], [2000] * 10) < CHI2_999[9]


def test_random_sampler_positions_are_uniform():
    # Over many passes, where index 0 lands is uniform over the 4 slots.
    g = tg.Generator().manual_seed(1)
    s = RandomSampler(range(4), generator=g)
    where = Counter(list(s).index(0) for _ in range(4000))
    assert chi_square([where[i] for i in range(4)], [1000] * 4) < CHI2_999[3]


def test_random_sampler_sees_a_changed_dataset():
    data = [1, 2, 3]
    s = RandomSampler(data)
    data.append(4)
    assert len(s) == 4 and sorted(s) == [0, 1, 2, 3]


def test_random_sampler_argument_errors():
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="num_samples should be a positive integer"):
            RandomSampler(range(3), num_samples=bad)
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler([])
    with pytest.raises(ValueError, match="empty"):
        list(RandomSampler([], num_samples=2))
    with pytest.raises(TypeError, match="generator"):
        RandomSampler(range(3), generator=123)


def test_subset_random_sampler():
    idx = [10, 20, 30, 40, 50]
    s = SubsetRandomSampler(idx, generator=tg.Generator().manual_seed(2))
    a, b = list(s), list(s)
    assert sorted(a) == sorted(b) == idx and len(s) == 5
    assert list(SubsetRandomSampler(idx, generator=tg.Generator().manual_seed(2))) == a
    tg.manual_seed(4)
    c = list(SubsetRandomSampler(idx))
    tg.manual_seed(4)
    assert list(SubsetRandomSampler(idx)) == c


def test_weighted_sampler_statistics_with_replacement():
    w = [1.0, 2.0, 3.0, 4.0]
    s = WeightedRandomSampler(w, 20000, generator=tg.Generator().manual_seed(0))
    counts = Counter(s)
    assert len(s) == 20000 and set(counts) <= {0, 1, 2, 3}
    expected = [20000 * x / 10 for x in w]
    assert chi_square([counts[i] for i in range(4)], expected) < CHI2_999[3]


def test_weighted_sampler_zero_weight_never_drawn():
    s = WeightedRandomSampler(np.array([0.0, 1.0, 0.0, 5.0]), 500)
    assert set(s) <= {1, 3}


def test_weighted_sampler_without_replacement():
    s = WeightedRandomSampler([0.1, 5.0, 0.0, 1.0, 2.0], 4, replacement=False, generator=tg.Generator())
    out = list(s)
    assert len(out) == 4 and len(set(out)) == 4 and 2 not in out
    # The heaviest index is nearly always drawn first.
    g = tg.Generator().manual_seed(1)
    firsts = Counter(next(iter(WeightedRandomSampler([1.0, 98.0, 1.0], 2, False, generator=g))) for _ in range(500))
    assert firsts[1] > 450


def test_weighted_sampler_keeps_weights_as_float64_tensor():
    s = WeightedRandomSampler(tg.tensor([1, 2, 3]), 2)
    assert isinstance(s.weights, tg.Tensor) and s.weights.dtype == np.float64
    assert s.replacement is True and s.num_samples == 2


def test_weighted_sampler_reproducible():
    w = np.arange(1, 11, dtype=float)
    a = list(WeightedRandomSampler(w, 30, generator=tg.Generator().manual_seed(9)))
    assert a == list(WeightedRandomSampler(w, 30, generator=tg.Generator().manual_seed(9)))
    tg.manual_seed(2)
    b = list(WeightedRandomSampler(w, 30))
    tg.manual_seed(2)
    assert list(WeightedRandomSampler(w, 30)) == b


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"weights": [1.0], "num_samples": 0}, ValueError, "num_samples should be a positive integer"),
        ({"weights": [1.0], "num_samples": True}, ValueError, "num_samples should be a positive integer"),
        ({"weights": [1.0], "num_samples": 2.0}, ValueError, "num_samples should be a positive integer"),
        ({"weights": [1.0], "num_samples": 1, "replacement": 0}, ValueError, "replacement should be a boolean"),
        ({"weights": [[1.0, 2.0]], "num_samples": 1}, ValueError, r"1d sequence.*\(1, 2\)"),
        ({"weights": [1.0, -1.0], "num_samples": 1}, ValueError, "non-negative"),
        ({"weights": [1.0, float("nan")], "num_samples": 1}, ValueError, "finite"),
        ({"weights": [0.0, 0.0], "num_samples": 1}, ValueError, "sum to 0"),
        ({"weights": [1.0, 0.0, 1.0], "num_samples": 3, "replacement": False}, ValueError, "without replacement"),
        ({"weights": ["a", "b"], "num_samples": 1}, ValueError, "numbers"),
        ({"weights": [1.0], "num_samples": 1, "generator": "seed"}, TypeError, "generator"),
    ],
)
def test_weighted_sampler_errors(kwargs, err, match):
    with pytest.raises(err, match=match):
        WeightedRandomSampler(**kwargs)


def test_batch_sampler_examples():
    assert list(BatchSampler(SequentialSampler(range(10)), 3, False)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert list(BatchSampler(SequentialSampler(range(10)), 3, True)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert list(BatchSampler([5, 1, 4, 2], 2, False)) == [[5, 1], [4, 2]]
    assert list(BatchSampler(iter([1, 2, 3]), 5, False)) == [[1, 2, 3]]
    assert list(BatchSampler([], 2, False)) == []


@pytest.mark.parametrize("bad", [0, -2, 1.0, True, None, "2"])
def test_batch_sampler_rejects_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler(range(3), bad, False)


@pytest.mark.parametrize("bad", [0, 1, None, "yes"])
def test_batch_sampler_rejects_non_bool_drop_last(bad):
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(range(3), 2, bad)


def test_batch_sampler_over_a_random_sampler_covers_everything():
    bs = BatchSampler(RandomSampler(range(23)), 5, False)
    batches = list(bs)
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3] and len(bs) == 5
    assert sorted(i for b in batches for i in b) == list(range(23))


@given(n=st.integers(0, 300), bs=st.integers(1, 40), drop_last=st.booleans())
def test_batch_sampler_counts_property(n, bs, drop_last):
    s = BatchSampler(SequentialSampler(range(n)), bs, drop_last)
    batches = list(s)
    full, rest = divmod(n, bs)
    want = [bs] * full + ([rest] if rest and not drop_last else [])
    assert [len(b) for b in batches] == want
    assert len(s) == len(batches)
    assert [i for b in batches for i in b] == list(range(len(want) and sum(want)))


@given(n=st.integers(1, 200), seed=st.integers(0, 2**32))
def test_shuffling_samplers_visit_each_index_once_property(n, seed):
    g = tg.Generator().manual_seed(seed)
    assert sorted(RandomSampler(range(n), generator=g)) == list(range(n))
    idx = list(range(0, 3 * n, 3))
    assert sorted(SubsetRandomSampler(idx, generator=g)) == idx
