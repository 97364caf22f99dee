"""BucketBatchSampler and pad_collate, alone and feeding nn.LSTM (no PyTorch needed)."""

from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.utils.data import BucketBatchSampler, DataLoader, Dataset, PadCollate, pad_collate


def padding_cost(batches, lengths):
    """Time steps spent on padding when each batch is padded to its longest sequence."""
    return sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)


# ---- BucketBatchSampler ----------------------------------------------------------------------------
def test_bucket_sampler_every_index_once_and_sorted_within_batches():
    lengths = tg.backend.np.random.default_rng(0).integers(1, 50, size=103).tolist()
    s = BucketBatchSampler(lengths, 8, bucket_size_multiplier=4, generator=tg.Generator().manual_seed(1))
    batches = list(s)
    assert len(s) == len(batches) == 13
    assert sorted(i for b in batches for i in b) == list(range(103))
    assert sorted(len(b) for b in batches) == [7] + [8] * 12
    for b in batches:
        ls = [lengths[i] for i in b]
        assert ls == sorted(ls, reverse=True)  # what pack_padded_sequence(enforce_sorted=True) wants


def test_bucket_sampler_pads_much_less_than_random_batches():
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 100, size=1000).tolist()
    bucketed = list(BucketBatchSampler(lengths, 16, generator=tg.Generator()))
    perm = rng.permutation(1000).tolist()
    random_batches = [perm[i : i + 16] for i in range(0, 1000, 16)]
    assert padding_cost(bucketed, lengths) < 0.1 * padding_cost(random_batches, lengths)


def test_bucket_sampler_global_sort_is_optimal_order():
    lengths = [5, 1, 9, 3, 7, 2]
    s = BucketBatchSampler(lengths, 2, shuffle=False, bucket_size_multiplier=None)
    assert list(s) == [[2, 4], [0, 3], [5, 1]]


def test_bucket_sampler_without_shuffle_is_fixed_and_pooled():
    lengths = [1, 2, 3, 4, 5, 6, 7, 8]
    s = BucketBatchSampler(lengths, 2, shuffle=False, bucket_size_multiplier=2)
    assert list(s) == list(s) == [[3, 2], [1, 0], [7, 6], [5, 4]]


def test_bucket_sampler_reshuffles_each_pass_and_is_reproducible():
    lengths = list(range(1, 65))
    s = BucketBatchSampler(lengths, 4, bucket_size_multiplier=2, generator=tg.Generator().manual_seed(7))
    a, b = list(s), list(s)
    assert a != b
    again = BucketBatchSampler(lengths, 4, bucket_size_multiplier=2, generator=tg.Generator().manual_seed(7))
    assert [list(again), list(again)] == [a, b]
    tg.manual_seed(2)
    c = list(BucketBatchSampler(lengths, 4))
    tg.manual_seed(2)
    assert list(BucketBatchSampler(lengths, 4)) == c


def test_bucket_sampler_drop_last_drops_the_one_short_batch():
    s = BucketBatchSampler([3] * 10, 4, drop_last=True, generator=tg.Generator())
    batches = list(s)
    assert len(s) == len(batches) == 2 and all(len(b) == 4 for b in batches)
    assert len({i for b in batches for i in b}) == 8
    assert list(BucketBatchSampler([3] * 8, 4, drop_last=True)) and len(BucketBatchSampler([1] * 8, 4, True)) == 2


def test_bucket_sampler_accepts_arrays_and_tensors():
    for lengths in (np.array([3, 1, 2]), tg.tensor([3, 1, 2]), np.array([3, 1, 2], np.uint8)):
        assert list(BucketBatchSampler(lengths, 3, shuffle=False)) == [[0, 2, 1]]
    assert list(BucketBatchSampler([], 3)) == [] and len(BucketBatchSampler([], 3)) == 0


@pytest.mark.parametrize(
    "args, kwargs, err, match",
    [
        (([1, 2], 0), {}, ValueError, "batch_size should be a positive integer"),
        (([1, 2], 2.0), {}, ValueError, "batch_size should be a positive integer"),
        (([1, 2], 2), {"shuffle": 1}, ValueError, "shuffle should be a boolean"),
        (([1, 2], 2), {"drop_last": None}, ValueError, "drop_last should be a boolean"),
        (([1, 2], 2), {"bucket_size_multiplier": 0}, ValueError, "bucket_size_multiplier"),
        (([[1, 2]], 2), {}, ValueError, "1-d"),
        (([1.5, 2.0], 2), {}, TypeError, "integers"),
        (([1, -2], 2), {}, ValueError, "non-negative"),
        (([1, 2], 2), {"generator": 3}, TypeError, "generator"),
    ],
)
def test_bucket_sampler_errors(args, kwargs, err, match):
    with pytest.raises(err, match=match):
        BucketBatchSampler(*args, **kwargs)


@given(
    lengths=st.lists(st.integers(0, 30), max_size=120),
    bs=st.integers(1, 9),
    mult=st.one_of(st.none(), st.integers(1, 5)),
    drop_last=st.booleans(),
    shuffle=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_bucket_sampler_property(lengths, bs, mult, drop_last, shuffle, seed):
    s = BucketBatchSampler(lengths, bs, shuffle, drop_last, mult, generator=tg.Generator().manual_seed(seed))
    batches = list(s)
    n = len(lengths)
    assert len(batches) == len(s) == (n // bs if drop_last else -(-n // bs))
    flat = [i for b in batches for i in b]
    assert len(flat) == len(set(flat))
    if drop_last:
        assert all(len(b) == bs for b in batches) and len(flat) == n - n % bs
    else:
        assert sorted(flat) == list(range(n))
        assert sum(len(b) < bs for b in batches) <= 1
    assert all([lengths[i] for i in b] == sorted((lengths[i] for i in b), reverse=True) for b in batches)


# ---- pad_collate -----------------------------------------------------------------------------------
def test_pad_collate_sequences_time_major():
    a, b = np.arange(6, dtype=np.float32).reshape(3, 2), np.ones((1, 2), np.float32)
    x, lengths = pad_collate([a, b])
    assert x.shape == (3, 2, 2) and x.dtype == np.float32
    assert lengths.dtype == np.int64 and lengths.tolist() == [3, 1]
    assert np.array_equal(x.numpy()[:, 0], a)
    assert np.array_equal(x.numpy()[:, 1], [[1, 1], [0, 0], [0, 0]])


def test_pad_collate_batch_first_and_padding_value():
    x, lengths = pad_collate([tg.tensor([1.0, 2.0]), tg.tensor([3.0])], padding_value=-1.0, batch_first=True)
    assert x.tolist() == [[1.0, 2.0], [3.0, -1.0]] and lengths.tolist() == [2, 1]


def test_pad_collate_token_lists():
    x, lengths = pad_collate([[4, 5, 6], [7], [8, 9]])
    assert x.dtype == np.int64 and x.shape == (3, 3)
    assert x.numpy().T.tolist() == [[4, 5, 6], [7, 0, 0], [8, 9, 0]] and lengths.tolist() == [3, 1, 2]
    f, _ = pad_collate([[0.5, 1.5], [2.5]])
    assert f.dtype == tg.get_default_dtype()


def test_pad_collate_tuples_pad_the_first_field_and_collate_the_rest():
    batch = [(np.zeros((2, 3), np.float32), 1, "a"), (np.zeros((4, 3), np.float32), 0, "b")]
    x, lengths, y, names = pad_collate(batch)
    assert x.shape == (4, 2, 3) and lengths.tolist() == [2, 4]
    assert y.dtype == np.int64 and y.tolist() == [1, 0] and names == ["a", "b"]


def test_pad_collate_several_padded_fields():
    batch = [([1, 2, 3], [5, 6]), ([4], [7, 8, 9])]
    src, src_len, tgt, tgt_len = pad_collate(batch, padding_value=(0, -100), pad_fields=(0, 1), batch_first=True)
    assert src.tolist() == [[1, 2, 3], [4, 0, 0]] and src_len.tolist() == [3, 1]
    assert tgt.tolist() == [[5, 6, -100], [7, 8, 9]] and tgt_len.tolist() == [2, 3]
    label, seq, lengths = pad_collate([(1, [5, 6]), (0, [7])], pad_fields=(-1,))  # negative indices count back
    assert label.tolist() == [1, 0] and seq.shape == (2, 2) and lengths.tolist() == [2, 1]


def test_pad_collate_namedtuple_samples_are_fields():
    Sample = namedtuple("Sample", "seq label")
    x, lengths, y = pad_collate([Sample(tg.ones(2, 1), 1.0), Sample(tg.ones(3, 1), 0.0)])
    assert x.shape == (3, 2, 1) and y.dtype == np.float64


def test_pad_collate_keeps_dtypes():
    x, _ = pad_collate([np.zeros((2,), np.float64), np.zeros((1,), np.float64)])
    assert x.dtype == np.float64
    x, _ = pad_collate([np.zeros((2,), np.int32), np.zeros((3,), np.int32)], padding_value=7)
    assert x.dtype == np.int32 and x.numpy()[2, 0] == 7


def test_pad_collate_zero_length_sequences():
    x, lengths = pad_collate([np.zeros((0, 2)), np.ones((2, 2))])
    assert x.shape == (2, 2, 2) and lengths.tolist() == [0, 2]


def test_pad_collate_keeps_the_tape():
    a, b = tg.randn(3, 2, requires_grad=True), tg.randn(1, 2, requires_grad=True)
    x, lengths = pad_collate([a, b], padding_value=5.0)
    assert x.requires_grad and x.shape == (3, 2, 2) and x.numpy()[2, 1, 0] == 5.0
    x.sum().backward()
    assert a.grad.tolist() == [[1, 1]] * 3 and b.grad.tolist() == [[1, 1]]
    xb, _ = pad_collate([a, b], batch_first=True)
    assert xb.shape == (2, 3, 2)


@pytest.mark.parametrize(
    "batch, kwargs, err, match",
    [
        ([np.zeros((2, 3)), np.zeros((2, 4))], {}, ValueError, r"sequence 0 has shape \(2, 3\).*sequence 1.*\(2, 4\)"),
        ([np.zeros(2), np.array(1.0)], {}, ValueError, "0-d"),
        ([{"x": [1]}], {}, TypeError, "tuple"),
        ([[[1, 2], [3]]], {}, ValueError, "ragged"),
        ([np.array(["a"])], {}, TypeError, "dtype"),
        ([], {}, IndexError, "empty"),
        ([([1], 2)], {"pad_fields": (2,)}, ValueError, "not a field index"),
        ([([1], [2])], {"pad_fields": (0, 1), "padding_value": (0,)}, ValueError, "gives 1 values for 2"),
        ([[1, 2], [3]], {"padding_value": 0.5}, ValueError, "cannot be stored"),
        ([([1], 2), ([1],)], {}, ValueError, "same number of fields"),
    ],
)
def test_pad_collate_errors(batch, kwargs, err, match):
    with pytest.raises(err, match=match):
        pad_collate(batch, **kwargs)


@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_collate_pads_tensors_where_they_live(monkeypatch, batch_first):
    # Under CuPy, Tensor samples are padded with the backend's own arrays (host samples on the host, copied
    # over once): the two branches agree. On NumPy the device branch is simulated; under CuPy it is the real one.
    seqs = [tg.randn(L, 2) for L in (3, 1, 2)]
    on_numpy = tg.backend.name == "numpy"
    host, host_len = pad_collate(
        seqs if on_numpy else [s.numpy() for s in seqs], padding_value=-3.0, batch_first=batch_first
    )
    if on_numpy:
        monkeypatch.setattr(tg.backend, "name", "simulated-device")
    dev, dev_len = pad_collate(seqs, padding_value=-3.0, batch_first=batch_first)
    assert np.array_equal(dev.numpy(), host.numpy()) and dev.dtype == host.dtype
    assert dev_len.tolist() == host_len.tolist()


def test_pad_collate_class_and_repr():
    c = PadCollate(padding_value=-1, batch_first=True)
    x, lengths = c([[1, 2], [3]])
    assert x.tolist() == [[1, 2], [3, -1]] and lengths.tolist() == [2, 1]
    assert "batch_first=True" in repr(c)


# ---- with nn.LSTM ----------------------------------------------------------------------------------
def test_padded_batch_gives_each_sequences_own_final_state():
    lstm = nn.LSTM(3, 5)
    seqs = [tg.randn(L, 3) for L in (4, 2, 6)]
    x, lengths = pad_collate(seqs)
    out, (h, c) = lstm(x, lengths=lengths)
    assert out.shape == (6, 3, 5) and h.shape == (1, 3, 5)
    for i, s in enumerate(seqs):
        _, (hi, _) = lstm(s.unsqueeze(1))
        assert np.allclose(h.numpy()[0, i], hi.numpy()[0, 0], atol=1e-5)
        assert np.all(out.numpy()[lengths.tolist()[i] :, i] == 0)


def test_batch_first_padding_feeds_a_batch_first_lstm():
    lstm = nn.LSTM(2, 4, batch_first=True)
    x, lengths = pad_collate([tg.randn(3, 2), tg.randn(5, 2)], batch_first=True)
    out, _ = lstm(x, lengths=lengths)
    assert out.shape == (2, 5, 4)


def test_token_batches_through_embedding_and_lstm():
    emb, lstm = nn.Embedding(10, 4), nn.LSTM(4, 3)
    tokens, lengths = pad_collate([[1, 2, 3], [4, 5], [6]])
    out, (h, _) = lstm(emb(tokens), lengths=lengths)
    assert out.shape == (3, 3, 3) and h.shape == (1, 3, 3)


class Signs(Dataset):
    """Variable-length sequences of one feature; the label is whether their sum is positive."""

    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        self.seqs = [rng.normal(size=(int(rng.integers(2, 13)), 1)).astype(np.float32) for _ in range(n)]
        self.labels = [int(s.sum() > 0) for s in self.seqs]

    def __getitem__(self, i):
        return self.seqs[i], self.labels[i]

    def __len__(self):
        return len(self.seqs)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(1, 16)
        self.head = nn.Linear(16, 2)

    def forward(self, x, lengths):
        _, (h, _) = self.lstm(x, lengths=lengths)
        return self.head(h[-1])


def test_end_to_end_lstm_classifier_trains():
    tg.manual_seed(0)
    ds = Signs(256, seed=1)
    sampler = BucketBatchSampler([len(s) for s in ds.seqs], 32, generator=tg.Generator().manual_seed(0))
    loader = DataLoader(ds, batch_sampler=sampler, collate_fn=pad_collate)
    model = Classifier()
    opt = tg.optim.Adam(model.parameters(), lr=0.02)
    loss_fn = nn.CrossEntropyLoss()
    epoch_losses = []
    for _ in range(8):
        losses = []
        for x, lengths, y in loader:
            assert x.shape[1] == lengths.shape[0] == y.shape[0] and x.shape[0] == max(lengths.tolist())
            opt.zero_grad()
            loss = loss_fn(model(x, lengths), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert len(losses) == len(loader) == 8
        epoch_losses.append(np.mean(losses))
    assert epoch_losses[-1] < 0.6 * epoch_losses[0]
    with tg.no_grad():
        x, lengths, y = pad_collate([ds[i] for i in range(len(ds))])
        acc = (model(x, lengths).numpy().argmax(1) == y.numpy()).mean()
    assert acc > 0.85
