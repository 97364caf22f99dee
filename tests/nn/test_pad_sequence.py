"""nn.utils.rnn.pad_sequence / unpad_sequence: layout, gradients, errors, the (padded, lengths) form of
nn.utils.pad_sequence, pad_collate running the same kernel, and PyTorch parity (skipped without torch)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn.utils import rnn as R
from tinygrad_rnn.utils.data import pad_collate
from tinygrad_rnn.utils.data import padding as data_padding


def _seqs(lens, trailing=(), seed=0, dtype=np.float64, requires_grad=False):
    rng = np.random.default_rng(seed)
    return [tg.Tensor(rng.standard_normal((n, *trailing)).astype(dtype), requires_grad=requires_grad) for n in lens]


def _by_sequence(padded, batch_first):
    """(N, T, *) as a NumPy array, whatever the layout."""
    a = padded.numpy()
    return a if batch_first else np.swapaxes(a, 0, 1)


# ---- layout ----------------------------------------------------------------------------------------
@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=5),
    st.lists(st.integers(1, 3), max_size=2),
    st.booleans(),
    st.sampled_from(["right", "left"]),
    st.sampled_from([0.0, -2.5, float("nan")]),
)
def test_every_sequence_sits_in_its_slot_and_the_rest_is_padding(lens, trailing, batch_first, side, value):
    seqs = _seqs(lens, trailing, seed=sum(lens))
    padded = R.pad_sequence(seqs, batch_first=batch_first, padding_value=value, padding_side=side)
    T, N = max(lens), len(lens)
    assert padded.shape == ((N, T) if batch_first else (T, N)) + tuple(trailing)
    assert padded.dtype == np.float64
    out = _by_sequence(padded, batch_first)
    for i, (s, n) in enumerate(zip(seqs, lens)):
        inside = slice(T - n, T) if side == "left" else slice(0, n)
        outside = np.ones(T, bool)
        outside[inside] = False
        np.testing.assert_array_equal(out[i, inside], s.numpy())
        np.testing.assert_array_equal(out[i, outside], np.full_like(out[i, outside], value))


@given(st.lists(st.integers(0, 5), min_size=1, max_size=5), st.lists(st.integers(1, 2), max_size=2), st.booleans())
def test_unpad_inverts_right_padding(lens, trailing, batch_first):
    seqs = _seqs(lens, trailing, seed=3 + sum(lens))
    padded = R.pad_sequence(seqs, batch_first=batch_first, padding_value=7.0)
    for lengths in (lens, np.asarray(lens), tg.tensor(lens)):
        back = R.unpad_sequence(padded, lengths, batch_first=batch_first)
        assert len(back) == len(seqs)
        for b, s in zip(back, seqs):
            assert b.shape == s.shape
            np.testing.assert_array_equal(b.numpy(), s.numpy())


def test_a_tensor_is_the_list_of_its_rows():
    x = tg.Tensor(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_array_equal(R.pad_sequence(x).numpy(), np.swapaxes(x.numpy(), 0, 1))
    np.testing.assert_array_equal(R.pad_sequence(x, batch_first=True).numpy(), x.numpy())


def test_integer_and_empty_sequences():
    ints = [tg.tensor([1, 2, 3]), tg.tensor([4])]
    padded = R.pad_sequence(ints, batch_first=True, padding_value=-1)
    assert padded.dtype == np.int64 and padded.tolist() == [[1, 2, 3], [4, -1, -1]]
    assert R.pad_sequence(ints, padding_side="left").tolist() == [[1, 0], [2, 0], [3, 4]]
    empty = R.pad_sequence([tg.zeros(0, 2), tg.zeros(0, 2)])
    assert empty.shape == (0, 2, 2)


# ---- gradients -------------------------------------------------------------------------------------
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_gradcheck_reaches_every_sequence(side, batch_first):
    seqs = _seqs([3, 1, 0, 2], (2,), seed=1, requires_grad=True)
    w = tg.Tensor(np.random.default_rng(2).standard_normal((4, 3, 2) if batch_first else (3, 4, 2)))

    def f(*xs):
        return (R.pad_sequence(list(xs), batch_first=batch_first, padding_value=3.0, padding_side=side) * w).sum()

    assert tg.gradcheck(f, seqs)
    assert tg.gradgradcheck(lambda *xs: R.pad_sequence(list(xs), padding_side=side) ** 2, seqs)


def test_one_tape_node_and_only_the_sequences_that_need_it_get_gradients():
    a, b = _seqs([2, 3], seed=4)
    a.requires_grad = True
    padded = R.pad_sequence([a, b])
    assert isinstance(padded._fn, R.PadSequence) and padded._fn.parents == (a, b)
    (padded * 2.0).sum().backward()
    assert a.grad.tolist() == [2.0, 2.0] and b.grad is None
    with tg.no_grad():
        assert not R.pad_sequence([a, b]).requires_grad


# ---- nn.utils.pad_sequence and pad_collate: the same implementation ---------------------------------
def test_nn_utils_pad_sequence_adds_the_lengths():
    from tinygrad_rnn.nn.utils import pad_sequence

    seqs = _seqs([2, 4, 1], (3,))
    padded, lengths = pad_sequence(seqs, batch_first=True, padding_value=-1.0, padding_side="left")
    assert lengths == [2, 4, 1] and all(type(n) is int for n in lengths)
    want = R.pad_sequence(seqs, batch_first=True, padding_value=-1.0, padding_side="left")
    np.testing.assert_array_equal(padded.numpy(), want.numpy())
    assert nn.utils.pad_sequence is pad_sequence and nn.utils.rnn.pad_sequence is R.pad_sequence


def test_pad_collate_runs_the_pad_sequence_kernel(monkeypatch):
    calls = []
    kernel = data_padding._pad_arrays
    monkeypatch.setattr(data_padding, "_pad_arrays", lambda *a: calls.append("kernel") or kernel(*a))
    host = [np.ones((2, 3), np.float32), np.zeros((1, 3), np.float32)]
    x, lengths = pad_collate(host, padding_value=-1.0)
    assert calls == ["kernel"] and lengths.tolist() == [2, 1]
    np.testing.assert_array_equal(x.numpy(), R.pad_sequence([tg.Tensor(h) for h in host], padding_value=-1.0).numpy())
    tracked = [tg.Tensor(h, requires_grad=True) for h in host]
    x, _ = pad_collate(tracked, batch_first=True)  # on the tape: pad_sequence itself
    assert isinstance(x._fn, R.PadSequence) and calls == ["kernel"]


# ---- errors ----------------------------------------------------------------------------------------
def test_errors():
    a = tg.Tensor(np.zeros((2, 3)))
    for exc in (RuntimeError, ValueError):  # PyTorch's type and this library's
        with pytest.raises(exc, match="pad_sequence: got an empty list of sequences"):
            R.pad_sequence([])
    with pytest.raises(RuntimeError, match=r"sequence 1 has shape \(2, 4\) but sequence 0 has shape \(2, 3\)"):
        R.pad_sequence([a, tg.Tensor(np.zeros((2, 4)))])
    with pytest.raises(TypeError, match="sequence 1 is float32 but sequence 0 is float64"):
        R.pad_sequence([a, tg.Tensor(np.zeros((1, 3), np.float32))])
    with pytest.raises(TypeError, match="sequence 0 is a ndarray, expected a Tensor"):
        R.pad_sequence([np.zeros((2, 3))])
    with pytest.raises(RuntimeError, match="sequence 0 is a scalar"):
        R.pad_sequence([tg.tensor(1.0)])
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right, but got 'middle'"):
        R.pad_sequence([a], padding_side="middle")
    with pytest.raises(RuntimeError, match="Expected iterable for input sequences"):
        R.pad_sequence(5)
    with pytest.raises(RuntimeError, match=r"lengths \[3, 1\] do not fit a padded batch of 2 sequences of 2 steps"):
        R.unpad_sequence(R.pad_sequence([a, a]), [3, 1])
    with pytest.raises(RuntimeError, match="do not fit"):
        R.unpad_sequence(R.pad_sequence([a, a]), [2])
    with pytest.raises(TypeError, match="lengths must be integers"):
        R.unpad_sequence(R.pad_sequence([a, a]), [1.5, 2])


# ---- PyTorch -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("lens, trailing", [([3, 1, 4], ()), ([2, 5, 0, 5], (2,)), ([1], (2, 3)), ([0, 0], (1,))])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_matches_torch_values_and_gradients(torch, lens, trailing, batch_first, side):
    from torch.nn.utils.rnn import pad_sequence, unpad_sequence

    ours = _seqs(lens, trailing, seed=5, requires_grad=True)
    theirs = [torch.tensor(s.numpy(), requires_grad=True) for s in ours]
    got = R.pad_sequence(ours, batch_first=batch_first, padding_value=-1.5, padding_side=side)
    want = pad_sequence(theirs, batch_first=batch_first, padding_value=-1.5, padding_side=side)
    assert got.shape == tuple(want.shape) and got.dtype == np.float64
    np.testing.assert_array_equal(got.numpy(), want.detach().numpy())
    w = np.random.default_rng(6).standard_normal(got.shape)
    (got * tg.Tensor(w)).sum().backward()
    (want * torch.tensor(w)).sum().backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())
    if side == "right":
        back = R.unpad_sequence(got, lens, batch_first=batch_first)
        tback = unpad_sequence(want, torch.tensor(lens), batch_first=batch_first)
        for b, tb in zip(back, tback):
            np.testing.assert_array_equal(b.numpy(), tb.detach().numpy())


def test_matches_torch_on_a_tensor_and_on_integers(torch):
    from torch.nn.utils.rnn import pad_sequence

    x = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(R.pad_sequence(tg.tensor(x)).numpy(), pad_sequence(torch.tensor(x)).numpy())
    ints = [[1, 2, 3], [4]]
    got = R.pad_sequence([tg.tensor(s) for s in ints], batch_first=True, padding_value=9)
    want = pad_sequence([torch.tensor(s) for s in ints], batch_first=True, padding_value=9)
    assert str(got.dtype) == str(want.dtype).removeprefix("torch.") and got.tolist() == want.tolist()


@pytest.mark.parametrize(
    "args, kwargs",
    [(([],), {}), (([np.zeros((2, 3)), np.zeros((2, 4))],), {}), (([np.zeros(2)],), {"padding_side": "middle"})],
)
def test_errors_have_torch_type(torch, args, kwargs):
    from torch.nn.utils.rnn import pad_sequence

    (seqs,) = args
    with pytest.raises(RuntimeError):
        pad_sequence([torch.tensor(s) for s in seqs], **kwargs)
    with pytest.raises(RuntimeError):
        R.pad_sequence([tg.Tensor(s) for s in seqs], **kwargs)
