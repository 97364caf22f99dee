"""nn.utils: clip_grad_norm_ / clip_grad_value_ against torch, non-finite norms, pad_sequence."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.nn import utils as U

SHAPES = [(3, 4), (5,), (2, 2, 2)]


def _pair(torch, dtype, scale=1.0, none_at=None, seed=0):
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, s in enumerate(SHAPES):
        p = tg.Tensor(np.zeros(s, dtype), requires_grad=True)
        q = torch.zeros(s, dtype=torch.float64 if dtype == np.float64 else torch.float32, requires_grad=True)
        if i != none_at:
            g = (rng.standard_normal(s) * scale).astype(dtype)
            p.grad = tg.Tensor(g.copy())
            q.grad = torch.tensor(g.copy())
        ours.append(p)
        theirs.append(q)
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", [2.0, math.inf, 1.0, 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])  # clips / leaves the gradients alone
def test_clip_grad_norm_matches_torch(torch, dtype, norm_type, max_norm):
    ours, theirs = _pair(torch, dtype, none_at=1)
    total = U.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type, foreach=False)
    rtol = 1e-13 if dtype == np.float64 else 2e-6
    assert isinstance(total, tg.Tensor) and total.shape == () and total.dtype == dtype
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=rtol)
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
            continue
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=1e-12)


def test_clip_grad_norm_semantics():
    g = np.array([3.0, 4.0])
    p = tg.Tensor(np.zeros(2), requires_grad=True)
    p.grad = tg.Tensor(g)
    total = U.clip_grad_norm_(p, max_norm=1.0)  # a single Tensor is accepted
    assert total.item() == 5.0  # the norm before clipping is returned
    np.testing.assert_allclose(p.grad.numpy(), g / (5.0 + 1e-6))
    np.testing.assert_array_equal(g, [3.0, 4.0])  # the old gradient array was not written in place
    before = p.grad.numpy().copy()
    assert U.clip_grad_norm_([p], max_norm=10.0).item() == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_array_equal(p.grad.numpy(), before)  # coef >= 1: scaled by exactly 1
    total = U.clip_grad_norm_((x for x in [p]), max_norm=0.1, norm_type="inf")  # generators and 'inf' strings
    assert total.item() == pytest.approx(0.8, rel=1e-6)
    assert np.abs(p.grad.numpy()).max() == pytest.approx(0.1, rel=1e-5)


def test_clip_grad_norm_with_no_grads_returns_zero():
    p = tg.Tensor(np.ones(3), requires_grad=True)
    total = U.clip_grad_norm_([p], 1.0)
    assert total.item() == 0.0 and p.grad is None
    assert U.clip_grad_norm_([], 1.0).item() == 0.0


def test_clip_grad_norm_float32_stays_float32():
    p = tg.Tensor(np.zeros(4, np.float32), requires_grad=True)
    p.grad = tg.Tensor(np.full(4, 10.0, np.float32))
    total = U.clip_grad_norm_([p], 1.0)
    assert total.dtype == np.float32 and p.grad.dtype == np.float32


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_clip_grad_norm_nonfinite(torch, bad, norm_type):
    ours, theirs = _pair(torch, np.float64)
    for p in ours:
        p.grad = tg.Tensor(np.where(np.arange(p.numel()).reshape(p.shape) == 0, bad, p.grad.numpy()))
    kept = [p.grad for p in ours]
    with pytest.raises(
        RuntimeError,
        match=rf"clip_grad_norm_: the total norm of order {norm_type} of the gradients "
        r"of 3 parameter\(s\) is non-finite \((nan|inf)\).*error_if_nonfinite=False",
    ):
        U.clip_grad_norm_(ours, 1.0, norm_type=norm_type, error_if_nonfinite=True)
    assert all(p.grad is k for p, k in zip(ours, kept))  # untouched after the error
    # without the flag the gradients are scaled by the non-finite coefficient, exactly as torch does
    for q, p in zip(theirs, ours):
        q.grad = torch.tensor(p.grad.numpy().copy())
    total = U.clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type, foreach=False)
    np.testing.assert_array_equal(total.numpy(), ttotal.numpy())
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


@pytest.mark.parametrize("clip", [0.0, 0.3, 1.5])
def test_clip_grad_value_matches_torch(torch, clip):
    ours, theirs = _pair(torch, np.float32, scale=2.0, none_at=2)
    olds = [p.grad.numpy().copy() if p.grad is not None else None for p in ours]
    assert U.clip_grad_value_(ours, clip) is None
    torch.nn.utils.clip_grad_value_(theirs, clip, foreach=False)
    for p, q, old in zip(ours, theirs, olds):
        if q.grad is None:
            assert p.grad is None
            continue
        assert p.grad.dtype == np.float32
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
        assert np.abs(p.grad.numpy()).max() <= clip
        assert not np.array_equal(old, p.grad.numpy()) or np.abs(old).max() <= clip


def test_clip_errors():
    p = tg.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be >= 0, got -1"):
        U.clip_grad_value_([p], -1)
    with pytest.raises(TypeError, match="clip_grad_value_: clip_value must be a number, got 'a'"):
        U.clip_grad_value_([p], "a")
    with pytest.raises(TypeError, match="clip_grad_norm_: parameter 1 is a ndarray, expected a Tensor"):
        U.clip_grad_norm_([p, np.ones(2)], 1.0)
    with pytest.raises(TypeError, match="clip_grad_norm_: parameters must be a Tensor or an iterable of Tensors"):
        U.clip_grad_norm_(3, 1.0)
    with pytest.raises(TypeError, match="max_norm and norm_type must be numbers"):
        U.clip_grad_norm_([p], "big")


# ---- pad_sequence --------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_value", [0.0, -1.5])
def test_pad_sequence_matches_torch(torch, batch_first, padding_value):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, 2, 3)).astype(np.float32) for n in (3, 1, 4)]
    padded, lengths = U.pad_sequence(
        [tg.Tensor(a) for a in arrays], batch_first=batch_first, padding_value=padding_value
    )
    ref = torch.nn.utils.rnn.pad_sequence(
        [torch.tensor(a) for a in arrays], batch_first=batch_first, padding_value=padding_value
    )
    assert lengths == [3, 1, 4] and all(type(n) is int for n in lengths)
    assert padded.dtype == np.float32
    np.testing.assert_array_equal(padded.numpy(), ref.numpy())


@given(st.lists(st.integers(0, 4), min_size=1, max_size=4), st.lists(st.integers(1, 2), max_size=2), st.booleans())
def test_pad_sequence_layout_and_gradcheck(lens, trailing, batch_first):
    rng = np.random.default_rng(sum(lens) + 7 * len(trailing))
    seqs = [tg.Tensor(rng.standard_normal([n] + trailing), requires_grad=True) for n in lens]
    padded, lengths = U.pad_sequence(seqs, batch_first=batch_first, padding_value=9.0)
    T = max(lens)
    assert lengths == lens
    assert padded.shape == ((len(lens), T) if batch_first else (T, len(lens))) + tuple(trailing)
    out = padded.numpy() if batch_first else np.swapaxes(padded.numpy(), 0, 1)
    for i, (s, n) in enumerate(zip(seqs, lens)):
        np.testing.assert_array_equal(out[i, :n], s.numpy())
        assert (out[i, n:] == 9.0).all()
    if sum(lens) > 0:
        weights = tg.Tensor(rng.standard_normal(padded.shape))
        assert tg.gradcheck(lambda *xs: (U.pad_sequence(list(xs), batch_first=batch_first)[0] * weights).sum(), seqs)


def test_pad_sequence_int_sequences_and_lengths():
    padded, lengths = U.pad_sequence(
        [tg.Tensor(np.array([1, 2, 3])), tg.Tensor(np.array([4]))], batch_first=True, padding_value=0
    )
    assert padded.dtype == np.int64 and lengths == [3, 1]
    np.testing.assert_array_equal(padded.numpy(), [[1, 2, 3], [4, 0, 0]])


def test_pad_sequence_errors():
    a = tg.Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="pad_sequence: got an empty list of sequences"):
        U.pad_sequence([])
    with pytest.raises(
        ValueError,
        match=r"sequence 1 has shape \(2, 4\) but sequence 0 has shape \(2, 3\); all "
        r"sequences must share the trailing dims \(3,\)",
    ):
        U.pad_sequence([a, tg.Tensor(np.zeros((2, 4)))])
    with pytest.raises(TypeError, match="sequence 1 is float32 but sequence 0 is float64"):
        U.pad_sequence([a, tg.Tensor(np.zeros((1, 3), np.float32))])
    padded, lengths = U.pad_sequence(a)  # a Tensor is the list of its rows, as iterating it in PyTorch
    assert padded.shape == (3, 2) and lengths == [3, 3]
    with pytest.raises(TypeError, match="sequence 0 is a ndarray, expected a Tensor"):
        U.pad_sequence([np.zeros((2, 3))])
    with pytest.raises(ValueError, match="sequence 0 is a scalar"):
        U.pad_sequence([tg.Tensor(np.array(1.0))])
