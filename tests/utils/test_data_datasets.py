"""Datasets and random_split (no PyTorch needed; parity checks live in test_data_torch_parity.py)."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.utils.data import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i

    def __len__(self):
        return self.n


class Count(IterableDataset):
    def __init__(self, start, stop, with_len=True):
        self.start, self.stop, self.with_len = start, stop, with_len

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self):
        if not self.with_len:
            raise TypeError("no len")
        return self.stop - self.start


def test_base_classes_demand_their_methods():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="__iter__"):
        iter(IterableDataset())


def test_dataset_is_generic_like_pytorchs():
    class Typed(Dataset[int]):
        def __getitem__(self, i):
            return i

    assert Typed()[3] == 3


def test_tensor_dataset_rows_and_len():
    x, y = tg.arange(12).reshape(4, 3), tg.tensor([1.0, 2.0, 3.0, 4.0])
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    xi, yi = ds[2]
    assert xi.tolist() == [6, 7, 8] and yi.item() == 3.0
    assert ds.tensors[0] is x
    xs, ys = ds[1:3]
    assert xs.shape == (2, 3) and ys.tolist() == [2.0, 3.0]


def test_tensor_dataset_accepts_arrays_keeping_dtype():
    ds = TensorDataset(np.zeros((3, 2), np.float64), np.arange(3, dtype=np.int32))
    assert all(isinstance(t, tg.Tensor) for t in ds.tensors)
    assert ds.tensors[0].dtype == np.float64 and ds.tensors[1].dtype == np.int32


def test_tensor_dataset_size_mismatch_names_sizes():
    with pytest.raises(ValueError, match=r"size mismatch.*\[3, 4\]"):
        TensorDataset(tg.zeros(3, 2), tg.zeros(4))
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(tg.tensor(1.0))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_tensor_dataset_rows_keep_the_tape():
    w = tg.randn(3, 2, requires_grad=True)
    (row,) = TensorDataset(w)[1]
    row.sum().backward()
    assert w.grad.numpy().tolist() == [[0, 0], [1, 1], [0, 0]]


def test_subset_maps_indices_and_batches():
    base = Squares(10)
    s = Subset(base, [7, 2, 5])
    assert len(s) == 3 and [s[i] for i in range(3)] == [49, 4, 25]
    assert s.__getitems__([2, 0]) == [25, 49]

    class Batched(Squares):
        calls = 0

        def __getitems__(self, idx):
            Batched.calls += 1
            return [-i for i in idx]

    s2 = Subset(Batched(10), [4, 6])
    assert s2.__getitems__([1, 0]) == [-6, -4] and Batched.calls == 1


def test_subset_list_index_goes_to_the_dataset():
    class ListIndexed(Squares):
        def __getitem__(self, i):
            return list(i) if isinstance(i, list) else super().__getitem__(i)

    assert Subset(ListIndexed(10), [9, 8, 7])[[0, 2]] == [9, 7]


def test_concat_dataset_indexing():
    a, b, c = Squares(3), Squares(0), Squares(2)
    cat = ConcatDataset([a, b, c])
    assert len(cat) == 5 and cat.cumulative_sizes == [3, 3, 5]
    assert [cat[i] for i in range(5)] == [0, 1, 4, 0, 1]
    assert cat[-1] == 1 and cat[-5] == 0
    with pytest.raises(ValueError, match="absolute value"):
        cat[-6]
    with pytest.raises(IndexError):
        cat[5]
    assert len(a + c) == 5 and isinstance(a + c, ConcatDataset)


def test_concat_dataset_rejects_empty_and_streams():
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([Squares(2), Count(0, 2)])


def test_chain_dataset_streams_in_order():
    ch = Count(0, 3) + Count(10, 12)
    assert isinstance(ch, ChainDataset)
    assert list(ch) == [0, 1, 2, 10, 11] and len(ch) == 5
    with pytest.raises(TypeError):
        len(ChainDataset([Count(0, 2, with_len=False)]))
    with pytest.raises(TypeError, match="only supports IterableDataset"):
        list(ChainDataset([Squares(2)]))


def test_random_split_int_lengths_partition():
    parts = random_split(range(10), [3, 7], generator=tg.Generator().manual_seed(42))
    assert [len(p) for p in parts] == [3, 7]
    got = sorted(x for p in parts for x in p)
    assert got == list(range(10))
    assert all(isinstance(p, Subset) for p in parts)


def test_random_split_is_reproducible():
    a = random_split(range(20), [5, 15], generator=tg.Generator().manual_seed(1))
    b = random_split(range(20), [5, 15], generator=tg.Generator().manual_seed(1))
    c = random_split(range(20), [5, 15], generator=tg.Generator().manual_seed(2))
    assert [p.indices for p in a] == [p.indices for p in b] != [p.indices for p in c]
    tg.manual_seed(7)
    d = random_split(range(20), [5, 15])
    tg.manual_seed(7)
    e = random_split(range(20), [5, 15])
    assert [p.indices for p in d] == [p.indices for p in e]


def test_random_split_fractions_round_robin():
    assert [len(p) for p in random_split(range(10), [0.33, 0.33, 0.34])] == [4, 3, 3]
    assert [len(p) for p in random_split(range(11), [0.5, 0.5])] == [6, 5]
    assert [len(p) for p in random_split(range(30), [0.3, 0.3, 0.4])] == [9, 9, 12]


def test_random_split_warns_on_empty_fraction_split():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = random_split(range(2), [0.9, 0.05, 0.05])
    assert [len(p) for p in parts] == [2, 0, 0]  # floors 1, 0, 0; the remainder goes to the first split
    msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(msgs) == 2 and "index 1 is 0" in msgs[0] and "index 2 is 0" in msgs[1]


def test_random_split_fractions_summing_just_above_one():
    lengths = [1 / 108, 1 / 108, 23 / 108, 30 / 108, 9 / 108, 15 / 108, 29 / 108]
    assert sum(lengths) > 1  # float rounding; PyTorch rejects this split
    parts = random_split(range(108), lengths)
    assert [len(p) for p in parts] == [1, 1, 23, 30, 9, 15, 29]


def test_random_split_single_unit_fraction_takes_everything():
    assert [len(p) for p in random_split(range(5), [1])] == [5]  # 1 reads as a fraction, as in PyTorch


def test_random_split_errors():
    with pytest.raises(ValueError, match="does not equal"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="not between 0 and 1"):
        random_split(range(10), [1.5, -0.5])
    with pytest.raises(ValueError, match="fractions summing to 1"):
        random_split(range(10), [0.5, 0.4])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(range(10), [-1, 11])
    with pytest.raises(TypeError, match="generator"):
        random_split(range(10), [5, 5], generator=42)


def test_random_split_accepts_numpy_ints_and_numpy_generators():
    parts = random_split(range(6), [np.int64(2), np.int64(4)], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [2, 4]


@given(n=st.integers(0, 200), fracs=st.lists(st.integers(1, 20), min_size=1, max_size=6))
def test_random_split_fraction_sizes_property(n, fracs):
    total = sum(fracs)
    lengths = [f / total for f in fracs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parts = random_split(range(n), lengths, generator=tg.Generator().manual_seed(0))
    sizes = [len(p) for p in parts]
    assert sum(sizes) == n
    floors = [int(np.floor(n * f)) for f in lengths]
    assert all(s - fl in (0, 1) for s, fl in zip(sizes, floors))
    assert sorted(i for p in parts for i in p.indices) == list(range(n))
