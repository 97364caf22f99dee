"""tg.utils.data.distributed: DistributedSampler (partition, padding, epochs, PyTorch parity) and
ShardedStream (K ranks x batch b == one process x batch K*b). No process group is needed: ranks are
simulated by building one sampler per rank, and the group lookup is tested against a stand-in module."""

import math
import subprocess
import sys
import types

import numpy as np
import pytest
from _data_helpers import Range
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.utils.data import DataLoader, TensorDataset
from tinygrad_rnn.utils.data.distributed import DistributedSampler, ShardedStream


def per_rank(n, k, **kw):
    return [list(DistributedSampler(Range(n), num_replicas=k, rank=r, **kw)) for r in range(k)]


def interleave(ranks):
    """The global order the ranks' shares were cut from (rank r holds positions r, r+k, ...)."""
    return [ranks[r][i] for i in range(len(ranks[0])) for r in range(len(ranks))]


def expected_num_samples(n, k, drop_last):
    return math.ceil((n - k) / k) if drop_last and n % k else math.ceil(n / k)


# ---------------------------------------------------------------- DistributedSampler: partition


@given(n=st.integers(0, 60), k=st.integers(1, 9), drop_last=st.booleans(), shuffle=st.booleans())
def test_ranks_partition_the_dataset(n, k, drop_last, shuffle):
    ranks = per_rank(n, k, drop_last=drop_last, shuffle=shuffle)
    m = expected_num_samples(n, k, drop_last)
    assert [len(x) for x in ranks] == [m] * k
    assert all(len(DistributedSampler(Range(n), k, r, drop_last=drop_last)) == m for r in range(k))
    order = interleave(ranks)
    if drop_last:  # no index twice, and only the tail (< k samples) of the permutation is lost
        assert len(set(order)) == len(order) == m * k and n - len(order) < k
    else:  # everything covered, padded with the start of the order
        assert set(order) == set(range(n)) and len(order) == m * k and len(order) - n < k
        assert order[n:] == (order[:n] * k)[: len(order) - n]
    assert set(order) <= set(range(n))


def test_padding_and_dropping_without_shuffle():
    assert per_rank(10, 4, shuffle=False) == [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]
    assert per_rank(10, 4, shuffle=False, drop_last=True) == [[0, 4], [1, 5], [2, 6], [3, 7]]
    # More replicas than samples: the data is repeated several times over
    assert per_rank(2, 5, shuffle=False) == [[0], [1], [0], [1], [0]]
    assert per_rank(2, 5, shuffle=False, drop_last=True) == [[]] * 5
    s = DistributedSampler(Range(10), 4, 0, drop_last=True)
    assert (s.num_samples, s.total_size) == (2, 8)


# ---------------------------------------------------------------- epochs and seeds


def test_every_rank_draws_the_same_permutation():
    n, k, seed, epoch = 40, 4, 7, 3
    ranks = []
    for r in range(k):
        tg.manual_seed(100 + r)  # ranks' global seeds differ; the order must not depend on them
        s = DistributedSampler(Range(n), k, r, seed=seed)
        s.set_epoch(epoch)
        ranks.append(list(s))
    perm = tg.Generator().manual_seed(seed + epoch).numpy().permutation(n).tolist()
    assert interleave(ranks) == perm and sorted(perm) == list(range(n)) and perm != list(range(n))


def test_set_epoch_changes_the_order_reproducibly():
    s = DistributedSampler(Range(50), 2, 1, seed=3)
    e0 = list(s)
    assert list(s) == e0  # same epoch, same order (unlike RandomSampler, no state advances)
    s.set_epoch(1)
    e1 = list(s)
    assert e1 != e0 and sorted(e1) != e1
    s.set_epoch(0)
    assert list(s) == e0
    # seed + epoch is what seeds it, as in PyTorch
    t = DistributedSampler(Range(50), 2, 1, seed=4)
    assert list(t) == e1
    assert list(DistributedSampler(Range(50), 2, 1, seed=5)) != e0


def test_seed_is_checked_at_construction():
    with pytest.raises(TypeError, match="seed must be an int"):
        DistributedSampler(Range(5), 1, 0, seed=1.5)


# ---------------------------------------------------------------- DataLoader


def test_inside_a_dataloader():
    x = tg.arange(22).reshape(11, 2)
    ds = TensorDataset(x, tg.arange(11))
    sampler = DistributedSampler(ds, num_replicas=3, rank=2, seed=1)
    loader = DataLoader(ds, batch_size=2, sampler=sampler)
    assert len(loader) == math.ceil(len(sampler) / 2) == 2
    idx = list(sampler)
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == [idx[:2], idx[2:]]
    assert batches[0][0].tolist() == [[2 * i, 2 * i + 1] for i in idx[:2]]
    sampler.set_epoch(5)  # the loader reads the sampler afresh each pass
    assert [v for b in loader for v in b[1].tolist()] == list(sampler) != idx


# ---------------------------------------------------------------- process group and errors


@pytest.mark.parametrize("k, rank", [(3, 3), (3, -1), (1, 1)])
def test_invalid_rank(k, rank):
    with pytest.raises(ValueError, match=rf"Invalid rank {rank}, rank should be in the interval \[0, {k - 1}\]"):
        DistributedSampler(Range(5), num_replicas=k, rank=rank)
    with pytest.raises(ValueError, match="Invalid rank"):
        ShardedStream(np.arange(100), 2, 3, num_replicas=k, rank=rank)


@pytest.mark.parametrize("k", [0, -2, 1.0])
def test_invalid_num_replicas(k):
    with pytest.raises(ValueError, match="num_replicas should be a positive integer"):
        DistributedSampler(Range(5), num_replicas=k, rank=0)


def fake_group(monkeypatch, initialized=True, world=4, rank=2):
    mod = types.ModuleType("tinygrad_rnn.distributed")
    mod.is_initialized = lambda: initialized
    mod.get_world_size = lambda: world
    mod.get_rank = lambda: rank
    monkeypatch.setitem(sys.modules, "tinygrad_rnn.distributed", mod)


def test_missing_values_come_from_the_process_group(monkeypatch):
    fake_group(monkeypatch, world=4, rank=2)
    s = DistributedSampler(Range(10), shuffle=False)
    assert (s.num_replicas, s.rank, list(s)) == (4, 2, [2, 6, 0])
    assert DistributedSampler(Range(10), num_replicas=5).rank == 2  # only the missing one is read
    assert (DistributedSampler(Range(10), rank=0).num_replicas, DistributedSampler(Range(10), rank=0).rank) == (4, 0)
    st_ = ShardedStream(np.arange(80), 2, 3)
    assert (st_.num_replicas, st_.rank) == (4, 2)


def test_uninitialized_group_is_a_clear_error(monkeypatch):
    fake_group(monkeypatch, initialized=False)
    with pytest.raises(ValueError, match=r"init_process_group\(\).*num_replicas= and rank="):
        DistributedSampler(Range(10))
    with pytest.raises(ValueError, match="has not been initialized"):
        ShardedStream(np.arange(80), 2, 3, num_replicas=2)
    DistributedSampler(Range(10), num_replicas=2, rank=1)  # both given: the group is not consulted


def test_unavailable_distributed_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "tinygrad_rnn.distributed", None)  # makes the import fail
    with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
        DistributedSampler(Range(10), num_replicas=2)


def test_import_loads_no_mpi_and_no_process_group():
    code = (
        "import sys, tinygrad_rnn as tg\n"
        "before = 'tinygrad_rnn.distributed' in sys.modules\n"
        "s = tg.utils.data.distributed.DistributedSampler(range(9), num_replicas=3, rank=1)\n"
        "tg.utils.data.distributed.ShardedStream(list(range(30)), 2, 4, num_replicas=3, rank=1)\n"
        "assert list(s) and ('tinygrad_rnn.distributed' in sys.modules) == before\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('mpi4py', 'mpi')], 'MPI imported'\n"
        "assert not hasattr(tg.utils.data, 'DistributedSampler')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr


# ---------------------------------------------------------------- PyTorch parity


@given(n=st.integers(0, 50), k=st.integers(1, 8), drop_last=st.booleans(), data=st.data())
def test_torch_parity(n, k, drop_last, data):
    pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    rank = data.draw(st.integers(0, k - 1))
    ours = DistributedSampler(Range(n), k, rank, shuffle=False, drop_last=drop_last)
    theirs = TorchSampler(Range(n), k, rank, shuffle=False, drop_last=drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)
    assert (ours.num_samples, ours.total_size) == (theirs.num_samples, theirs.total_size)
    # Shuffled: another generator, so other orders, but the same sizes
    ours, theirs = (
        DistributedSampler(Range(n), k, rank, drop_last=drop_last),
        TorchSampler(Range(n), k, rank, drop_last=drop_last),
    )
    assert len(ours) == len(theirs) == len(list(ours)) == len(list(theirs))


def test_torch_errors_match():
    pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    for make in (TorchSampler, DistributedSampler):
        with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
            make(Range(4), num_replicas=2, rank=2)


# ---------------------------------------------------------------- ShardedStream


def reference_windows(tokens, bsz, bptt):
    """word_language_model's batchify + get_batch, in NumPy (targets left 2-d)."""
    n = len(tokens) // bsz
    data = np.asarray(tokens)[: n * bsz].reshape(bsz, n).T
    return [
        (data[i : i + min(bptt, n - 1 - i)], data[i + 1 : i + 1 + min(bptt, n - 1 - i)]) for i in range(0, n - 1, bptt)
    ]


@given(L=st.integers(2, 300), k=st.integers(1, 4), b=st.integers(1, 5), bptt=st.integers(1, 12))
def test_k_ranks_equal_one_process_with_k_times_the_batch(L, k, b, bptt):
    if L // (k * b) < 2:
        with pytest.raises(ValueError, match="at least 2"):
            ShardedStream(np.arange(L), b, bptt, num_replicas=k, rank=0)
        return
    tokens = np.random.default_rng(L).integers(0, 1000, size=L)
    ranks = [ShardedStream(tokens, b, bptt, num_replicas=k, rank=r) for r in range(k)]
    single = ShardedStream(tokens, k * b, bptt, num_replicas=1, rank=0)
    ref = reference_windows(tokens, k * b, bptt)
    assert {len(s) for s in ranks} == {len(single)} == {len(ref)}
    windows = [list(s) for s in ranks]
    assert {len(w) for w in windows} == {len(ref)}
    for t, (x1, y1) in enumerate(single):
        xs, ys = [w[t][0].numpy() for w in windows], [w[t][1].numpy() for w in windows]
        assert all(x.shape == (x1.shape[0], b) for x in xs) and x1.shape[0] == ref[t][0].shape[0] <= bptt
        np.testing.assert_array_equal(np.concatenate(xs, axis=1), x1.numpy())
        np.testing.assert_array_equal(np.concatenate(ys, axis=1), y1.numpy())
        np.testing.assert_array_equal(x1.numpy(), ref[t][0])
        np.testing.assert_array_equal(y1.numpy(), ref[t][1])


def test_rank_share_is_contiguous_and_windows_continue():
    tokens = np.arange(103)  # 4 streams of 25 tokens (3 dropped)
    s = ShardedStream(tokens, batch_size=2, bptt=7, num_replicas=2, rank=1)
    assert s.stream_length == 25 and len(s) == 4  # ceil(24 / 7)
    w = list(s)
    assert [x.shape for x, _ in w] == [(7, 2), (7, 2), (7, 2), (3, 2)]
    xs = np.concatenate([x.numpy() for x, _ in w])
    assert xs[:, 0].tolist() == list(range(50, 74)) and xs[:, 1].tolist() == list(range(75, 99))
    for (_, y), (x2, _) in zip(w, w[1:]):  # the carried state belongs to the same stream
        np.testing.assert_array_equal(y.numpy()[-1], x2.numpy()[0])
    np.testing.assert_array_equal(w[0][1].numpy(), w[0][0].numpy() + 1)
    assert [x.tolist() for x, _ in s] == [x.tolist() for x, _ in w]  # iterable again


def test_tensor_tokens_keep_dtype_and_windows_are_copies():
    t = tg.tensor(np.arange(40, dtype=np.int32))
    s = ShardedStream(t, 2, 5, num_replicas=2, rank=0)
    x, y = next(iter(s))
    assert isinstance(x, tg.Tensor) and x.dtype == np.int32 and y.dtype == np.int32
    x.fill_(-1)  # writing a window must not change the next pass
    assert next(iter(s))[0].tolist()[0] == [0, 10]


def test_torch_word_language_model_batching():
    torch = pytest.importorskip("torch")

    def batchify(data, bsz):  # pytorch/examples word_language_model/main.py
        nbatch = data.size(0) // bsz
        data = data.narrow(0, 0, nbatch * bsz)
        return data.view(bsz, -1).t().contiguous()

    def get_batch(source, i, bptt):
        seq_len = min(bptt, len(source) - 1 - i)
        return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len].view(-1)

    corpus = np.random.default_rng(0).integers(0, 50, size=517)
    src = batchify(torch.tensor(corpus), 6)
    theirs = [get_batch(src, i, 9) for i in range(0, src.size(0) - 1, 9)]
    ranks = [list(ShardedStream(corpus, 2, 9, num_replicas=3, rank=r)) for r in range(3)]
    assert len(ranks[0]) == len(theirs)
    for t, (x, y) in enumerate(theirs):
        np.testing.assert_array_equal(np.concatenate([w[t][0].numpy() for w in ranks], axis=1), x.numpy())
        np.testing.assert_array_equal(np.concatenate([w[t][1].numpy() for w in ranks], axis=1).reshape(-1), y.numpy())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(tokens=np.arange(20).reshape(4, 5)), "must be 1-d"),
        (dict(tokens=np.arange(7)), "each needs at least 2"),
        (dict(batch_size=0), "batch_size should be a positive integer"),
        (dict(bptt=2.0), "bptt should be a positive integer"),
    ],
)
def test_sharded_stream_errors(kwargs, match):
    args = dict(tokens=np.arange(100), batch_size=2, bptt=3, num_replicas=2, rank=0) | kwargs
    with pytest.raises(ValueError, match=match):
        ShardedStream(**args)
