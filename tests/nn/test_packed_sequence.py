"""PackedSequence: the packed layout (batch sizes, row order, indices), round trips, gradients, errors,
nn.RNN/LSTM/GRU on packed input (equal to lengths= on the padded batch, fused and composed), and PyTorch
parity of all of it (skipped without torch)."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import backend, nn
from tinygrad_rnn.nn.utils.rnn import (
    PackedSequence,
    SequenceError,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
)

I, H = 3, 4


@pytest.fixture(autouse=True)
def _float64(_fresh_state):
    tg.set_default_dtype("float64")
    yield


def _padded(lens, trailing=(), batch_first=False, seed=0, requires_grad=False):
    rng = np.random.default_rng(seed)
    T, N = max(lens), len(lens)
    a = rng.standard_normal(((N, T) if batch_first else (T, N)) + tuple(trailing))
    return tg.Tensor(a, requires_grad=requires_grad)


def _step(x, t, i, batch_first):
    return x[i, t] if batch_first else x[t, i]


lengths_st = st.lists(st.integers(1, 6), min_size=1, max_size=5)


# ---- the layout --------------------------------------------------------------------------------------
@given(lengths_st, st.lists(st.integers(1, 2), max_size=2), st.booleans(), st.booleans())
def test_packed_layout_follows_the_formula(lens, trailing, batch_first, enforce_sorted):
    if enforce_sorted:
        lens = sorted(lens, reverse=True)
    x = _padded(lens, trailing, batch_first, seed=len(lens) + sum(lens))
    p = pack_padded_sequence(x, lens, batch_first=batch_first, enforce_sorted=enforce_sorted)
    assert isinstance(p, PackedSequence) and isinstance(p, tuple) and len(p) == 4
    N, T = len(lens), max(lens)
    # batch_sizes[t] = the number of sequences longer than t
    assert p.batch_sizes.dtype == np.int64 and p.batch_sizes.tolist() == [sum(n > t for n in lens) for t in range(T)]
    order = list(range(N)) if enforce_sorted else sorted(range(N), key=lambda i: -lens[i])  # stable
    if enforce_sorted:
        assert p.sorted_indices is None and p.unsorted_indices is None
    else:
        assert p.sorted_indices.tolist() == order and p.sorted_indices.dtype == np.int64
        assert [order[u] for u in p.unsorted_indices.tolist()] == list(range(N))
    # data[o_t + k] = step t of sequence order[k]
    assert p.data.shape == (sum(lens), *trailing)
    data, xs, row = p.data.numpy(), x.numpy(), 0
    for t, bs in enumerate(p.batch_sizes.tolist()):
        for k in range(bs):
            np.testing.assert_array_equal(data[row], _step(xs, t, order[k], batch_first))
            row += 1


@given(lengths_st, st.lists(st.integers(1, 2), max_size=2), st.booleans(), st.booleans(), st.integers(0, 2))
def test_pad_pack_unpack_unpad_is_the_identity(lens, trailing, batch_first, enforce_sorted, extra):
    if enforce_sorted:
        lens = sorted(lens, reverse=True)
    rng = np.random.default_rng(sum(lens))
    seqs = [tg.Tensor(rng.standard_normal((n, *trailing))) for n in lens]
    padded = pad_sequence(seqs, batch_first=batch_first)
    p = pack_padded_sequence(padded, tg.tensor(lens), batch_first=batch_first, enforce_sorted=enforce_sorted)
    back, lengths = pad_packed_sequence(p, batch_first, padding_value=-4.0, total_length=max(lens) + extra)
    assert lengths.dtype == np.int64 and lengths.tolist() == lens
    want = pad_sequence(seqs, batch_first=batch_first, padding_value=-4.0)
    pad_t = [(0, 0)] * back.ndim
    pad_t[0 if not batch_first else 1] = (0, extra)
    np.testing.assert_array_equal(back.numpy(), np.pad(want.numpy(), pad_t, constant_values=-4.0))
    for s, u in zip(seqs, unpack_sequence(pack_sequence(seqs, enforce_sorted=enforce_sorted))):
        np.testing.assert_array_equal(u.numpy(), s.numpy())


def test_ties_keep_batch_order_and_lengths_may_be_arrays_or_whole_floats():
    lens = [2, 3, 2, 3, 1, 2, 3]
    x = _padded(lens)
    for given_lens in (lens, np.asarray(lens, np.int32), tg.tensor(lens), [float(n) for n in lens]):
        p = pack_padded_sequence(x, given_lens, enforce_sorted=False)
        assert p.sorted_indices.tolist() == [1, 3, 6, 0, 2, 5, 4]
        assert p.unsorted_indices.tolist() == [3, 0, 4, 1, 6, 5, 2]


def test_packed_sequence_fields_construction_and_casts():
    x = _padded([3, 1, 2])
    p = pack_padded_sequence(x, [3, 1, 2], enforce_sorted=False)
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert data is p.data and repr(p).startswith("PackedSequence(data=")
    q = PackedSequence(p.data * 2.0, p.batch_sizes, p.sorted_indices)  # unsorted_indices derived
    assert q.unsorted_indices.tolist() == unsorted_indices.tolist()
    r = PackedSequence(p.data, [3, 2, 1], np.array([0, 2, 1]))
    assert r.batch_sizes.dtype == np.int64 and r.unsorted_indices.tolist() == [0, 2, 1]
    assert PackedSequence((p.data, p.batch_sizes)).sorted_indices is None  # the legacy two-tuple form
    here = "cuda" if backend.name == "cupy" else "cpu"  # the process's one device (cpu() keeps a batch there)
    assert p.to("float64") is p and p.to(here) is p and p.cpu() is p and not p.is_pinned()
    assert p.is_cuda is (here == "cuda")
    f = p.float()
    assert f.data.dtype == np.float32 and f.batch_sizes is p.batch_sizes and f.sorted_indices is p.sorted_indices
    assert f.double().data.dtype == np.float64 and p.to(tg.float32).data.dtype == np.float32
    with pytest.raises(TypeError, match="data must be a Tensor"):
        PackedSequence(np.zeros(3), [3])
    with pytest.raises(TypeError, match="batch_sizes must be a 1-D tensor of integers"):
        PackedSequence(p.data, [[3]])


# ---- gradients -------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_gradcheck_pack_then_unpack(batch_first, enforce_sorted):
    lens = [4, 3, 3, 1] if enforce_sorted else [3, 4, 1, 3]
    x = _padded(lens, (2,), batch_first, seed=1, requires_grad=True)
    w = tg.Tensor(np.random.default_rng(2).standard_normal((sum(lens), 2)))

    def f(x):
        p = pack_padded_sequence(x, lens, batch_first=batch_first, enforce_sorted=enforce_sorted)
        padded, _ = pad_packed_sequence(PackedSequence(p.data * w, *p[1:]), batch_first, padding_value=5.0)
        return padded

    assert tg.gradcheck(f, [x]) and tg.gradgradcheck(lambda x: f(x) ** 2, [x])
    f(x).sum().backward()  # steps past each sequence's end are never read: no gradient reaches them
    g = x.grad.numpy()
    for i, n in enumerate(lens):
        assert np.all(_step(g, slice(n, None), i, batch_first) == 0)


@pytest.mark.parametrize("fused", [True, False])
def test_gradcheck_lstm_on_a_packed_sequence(fused):
    lstm = nn.LSTM(2, 2, bidirectional=True, fused=fused)
    lens = [3, 1, 2]
    x = _padded(lens, (2,), seed=3, requires_grad=True)
    h0 = tg.Tensor(np.random.default_rng(4).standard_normal((2, 3, 2)), requires_grad=True)

    def f(x, h0, *params):
        out, (h, c) = lstm(pack_padded_sequence(x, lens, enforce_sorted=False), (h0, h0 * 0.5))
        return out.data, h, c

    assert tg.gradcheck(f, [x, h0, *lstm.parameters()])


# ---- the layers ------------------------------------------------------------------------------------
LAYERS = {
    "lstm": ("LSTM", {}),
    "lstm_2layer_bidir": ("LSTM", {"num_layers": 2, "bidirectional": True}),
    "gru_2layer_bidir": ("GRU", {"num_layers": 2, "bidirectional": True}),
    "rnn_relu_bidir_batch_first": ("RNN", {"nonlinearity": "relu", "bidirectional": True, "batch_first": True}),
    "rnn_2layer_nobias": ("RNN", {"num_layers": 2, "bias": False}),
    "lstm_proj": ("LSTM", {"proj_size": 2, "bidirectional": True}),  # composed only
    "gru_reset_before": ("GRU", {"reset_after": False}),  # composed only
}


def _run(layer, x, hx):
    out, state = layer(x, hx)
    return out, (state if isinstance(state, tuple) else (state,))


def _state(layer, N, seed):
    rng = np.random.default_rng(seed)
    L = layer.num_layers * layer.num_directions
    h = tg.Tensor(rng.standard_normal((L, N, layer.proj_size or layer.hidden_size)))
    return (h, tg.Tensor(rng.standard_normal((L, N, layer.hidden_size)))) if isinstance(layer, nn.LSTM) else h


@pytest.mark.parametrize("case", list(LAYERS))
@pytest.mark.parametrize("with_h0", [False, True])
def test_packed_input_equals_lengths_on_the_padded_batch(case, with_h0):
    cls_name, kw = LAYERS[case]
    lens = [2, 5, 1, 5, 3]
    results = {}
    for fused in (True, False):
        tg.manual_seed(0)
        layer = getattr(nn, cls_name)(I, H, fused=fused, **kw)
        layer.flatten_parameters()  # PyTorch programs call it after .cuda(); a no-op here
        hx = _state(layer, len(lens), 7) if with_h0 else None
        x = _padded(lens, (I,), seed=8)  # time-major: packing does not depend on the layer's batch_first
        p = pack_padded_sequence(x, lens, enforce_sorted=False)
        out, states = _run(layer, p, hx)
        assert isinstance(out, PackedSequence)
        assert out.batch_sizes is p.batch_sizes and out.sorted_indices is p.sorted_indices
        assert out.unsorted_indices is p.unsorted_indices
        ref_x = x.transpose(0, 1) if layer.batch_first else x
        ref_out, ref_states = layer(ref_x, hx, lengths=lens)
        ref_states = ref_states if isinstance(ref_states, tuple) else (ref_states,)
        if layer.batch_first:
            ref_out = ref_out.transpose(0, 1)
        padded, lengths = pad_packed_sequence(out)
        assert lengths.tolist() == lens
        np.testing.assert_allclose(padded.numpy(), ref_out.numpy(), rtol=1e-12, atol=1e-12)
        for s, r in zip(states, ref_states):
            np.testing.assert_allclose(s.numpy(), r.numpy(), rtol=1e-12, atol=1e-12)
        results[fused] = (out.data.numpy(), [s.numpy() for s in states])
    np.testing.assert_allclose(results[True][0], results[False][0], rtol=1e-10, atol=1e-12)
    for a, b in zip(results[True][1], results[False][1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_embedding_on_packed_data_then_lstm():
    emb, lstm = nn.Embedding(10, I), nn.LSTM(I, H)
    tokens = [tg.tensor([1, 2, 3]), tg.tensor([4]), tg.tensor([5, 6])]
    p = pack_sequence(tokens, enforce_sorted=False)
    assert p.data.dtype == np.int64
    out, (h, _) = lstm(PackedSequence(emb(p.data), *p[1:]))
    padded, lengths = pad_packed_sequence(out, batch_first=True)
    assert padded.shape == (3, 3, H) and lengths.tolist() == [3, 1, 2]
    for i, t in enumerate(tokens):  # h_n in the original batch order: each sequence's own last state
        _, (hi, _) = lstm(emb(t).unsqueeze(1))
        np.testing.assert_allclose(h.numpy()[0, i], hi.numpy()[0, 0], rtol=1e-12, atol=1e-12)


# ---- errors ----------------------------------------------------------------------------------------
def test_packing_errors():
    x = _padded([3, 3, 3])
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order when `enforce_sorted`"):
        pack_padded_sequence(x, [2, 3, 1])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        pack_padded_sequence(x, [3, 2, 0])
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to batch_size, but got 2"):
        pack_padded_sequence(x, [3, 2])
    with pytest.raises(RuntimeError, match="exceed the input's 3 time steps"):
        pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(RuntimeError, match="Cannot pack empty tensors"):
        pack_padded_sequence(tg.zeros(3, 0, 2), [])
    with pytest.raises(RuntimeError, match="'lengths' must be 1-D"):
        pack_padded_sequence(x, [[3, 2, 1]])
    with pytest.raises(TypeError, match="lengths must be integers"):
        pack_padded_sequence(x, [3, 2.5, 1])
    with pytest.raises(ValueError, match=r"input must be \(T, N, \*\)"):
        pack_padded_sequence(tg.zeros(3), [3])
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_sequence([tg.zeros(1), tg.zeros(2)])
    assert issubclass(SequenceError, RuntimeError) and issubclass(SequenceError, ValueError)
    p = pack_padded_sequence(x, [3, 2, 1])
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the longest sequence"):
        pad_packed_sequence(p, total_length=2)


def test_hand_built_packed_sequences_are_checked():
    data = tg.zeros(4, I)
    for bad, match in [
        (PackedSequence(data, [1, 3]), "non-increasing"),
        (PackedSequence(data, [2, 1]), r"data has shape \(4, 3\) but batch_sizes \[2, 1\] add up to 3"),
        (PackedSequence(data, [2, 2], [0, 0]), "sorted_indices must be a permutation"),
        (PackedSequence(data, [2, 2], [0, 1], [1, 0]), "unsorted_indices must be the inverse"),
    ]:
        with pytest.raises(RuntimeError, match=match):
            pad_packed_sequence(bad)
        with pytest.raises(RuntimeError, match=match):
            nn.LSTM(I, H)(bad)
    with pytest.raises(TypeError, match="expected a PackedSequence"):
        pad_packed_sequence(data)


def test_layer_errors_on_packed_input():
    lstm = nn.LSTM(I, H)
    p = pack_padded_sequence(_padded([2, 1], (I,)), [2, 1])
    with pytest.raises(ValueError, match="lengths= cannot be combined with a PackedSequence"):
        lstm(p, lengths=[2, 1])
    with pytest.raises(ValueError, match=r"needs data of shape \(sum of lengths, input_size=3\), got \(3, 2\)"):
        lstm(PackedSequence(tg.zeros(3, 2), p.batch_sizes))
    with pytest.raises(TypeError, match="LSTM"):
        lstm(p.float())
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 2, 4\)"):
        lstm(p, (tg.zeros(1, 3, H), tg.zeros(1, 3, H)))


# ---- PyTorch -----------------------------------------------------------------------------------------
def _torch_pair(torch, cls_name, kw, fused):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls_name)(I, H, **kw).double()
    ours = getattr(nn, cls_name)(I, H, fused=fused, **kw)
    res = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    return ours, theirs


def _close(a, b, what):
    np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=1e-10, atol=1e-10, err_msg=what)


TORCH_CASES = [
    (cls_name, {"num_layers": 2, "bidirectional": True, "batch_first": bf}, es, False)
    for cls_name in ("LSTM", "GRU", "RNN")
    for bf in (False, True)
    for es in (False, True)
] + [
    ("LSTM", {}, False, True),
    ("GRU", {"batch_first": True}, True, True),
    ("RNN", {"nonlinearity": "relu", "bidirectional": True}, False, True),
    ("LSTM", {"proj_size": 2, "bidirectional": True}, False, True),
]


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("cls_name, kw, enforce_sorted, with_h0", TORCH_CASES)
def test_layers_on_packed_input_match_torch(torch, cls_name, kw, enforce_sorted, with_h0, fused):
    from torch.nn.utils.rnn import pack_padded_sequence as t_pack
    from torch.nn.utils.rnn import pad_packed_sequence as t_pad

    ours, theirs = _torch_pair(torch, cls_name, kw, fused)
    bf = kw.get("batch_first", False)
    lens = [5, 5, 3, 1] if enforce_sorted else [3, 5, 1, 5]
    x = _padded(lens, (I,), bf, seed=11, requires_grad=True)
    tx = torch.tensor(x.numpy(), requires_grad=True)
    hx, thx = None, None
    if with_h0:
        states = _state(ours, len(lens), 12)
        states = states if isinstance(states, tuple) else (states,)
        states = [tg.Tensor(s.numpy(), requires_grad=True) for s in states]
        tstates = [torch.tensor(s.numpy(), requires_grad=True) for s in states]
        hx, thx = (tuple(states), tuple(tstates)) if cls_name == "LSTM" else (states[0], tstates[0])

    p = pack_padded_sequence(x, lens, batch_first=bf, enforce_sorted=enforce_sorted)
    tp = t_pack(tx, lens, batch_first=bf, enforce_sorted=enforce_sorted)
    out, got = _run(ours, p, hx)
    tout, want = theirs(tp, thx)
    want = want if isinstance(want, tuple) else (want,)

    assert out.batch_sizes.tolist() == tout.batch_sizes.tolist()
    for a, b in ((out.sorted_indices, tout.sorted_indices), (out.unsorted_indices, tout.unsorted_indices)):
        assert (a is None and b is None) or a.tolist() == b.tolist()
    _close(out.data.numpy(), tout.data, "output.data")
    for g, w, name in zip(got, want, ("h_n", "c_n")):
        assert g.shape == tuple(w.shape)
        _close(g.numpy(), w, name)
    padded, lengths = pad_packed_sequence(out, batch_first=bf, padding_value=-1.0, total_length=6)
    tpadded, tlengths = t_pad(tout, batch_first=bf, padding_value=-1.0, total_length=6)
    _close(padded.numpy(), tpadded, "pad_packed_sequence")
    assert lengths.tolist() == tlengths.tolist()

    rng = np.random.default_rng(13)
    ws = [rng.standard_normal(t.shape) for t in (padded, *got)]
    sum(((t * tg.Tensor(w)).sum() for t, w in zip((padded, *got), ws)), tg.Tensor(0.0)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip((tpadded, *want), ws)).backward()
    _close(x.grad.numpy(), tx.grad, "grad input")
    if with_h0:
        for s, ts in zip(states, tstates):
            _close(s.grad.numpy(), ts.grad, "grad h0/c0")
    tparams = dict(theirs.named_parameters())
    for k, prm in ours.named_parameters():
        _close(prm.grad.numpy(), tparams[k].grad, f"grad {k}")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_packing_is_bitwise_torch(torch, batch_first, enforce_sorted):
    from torch.nn.utils import rnn as TR

    lens = [4, 4, 3, 3, 3, 1] if enforce_sorted else [3, 4, 1, 3, 4, 3]
    x = _padded(lens, (2, 3), batch_first, seed=14)
    x32 = x.astype("float32")
    for given_lens in (lens, torch.tensor(lens)):
        p = pack_padded_sequence(x32, given_lens, batch_first=batch_first, enforce_sorted=enforce_sorted)
        tp = TR.pack_padded_sequence(
            torch.tensor(x32.numpy()), given_lens, batch_first=batch_first, enforce_sorted=enforce_sorted
        )
        assert p.data.dtype == np.float32 and np.array_equal(p.data.numpy(), tp.data.numpy())
        assert p.batch_sizes.tolist() == tp.batch_sizes.tolist() and str(tp.batch_sizes.dtype) == "torch.int64"
        if enforce_sorted:
            assert p.sorted_indices is None and tp.sorted_indices is None and tp.unsorted_indices is None
        else:
            assert p.sorted_indices.tolist() == tp.sorted_indices.tolist()
            assert p.unsorted_indices.tolist() == tp.unsorted_indices.tolist()
    # a PackedSequence rebuilt from torch's fields unpacks as torch's does
    q = PackedSequence(
        tg.Tensor(tp.data.numpy()), tp.batch_sizes.numpy(), *[None if i is None else i.numpy() for i in tp[2:]]
    )
    got, lengths = pad_packed_sequence(q, batch_first, padding_value=2.0)
    want, tlengths = TR.pad_packed_sequence(tp, batch_first, padding_value=2.0)
    assert np.array_equal(got.numpy(), want.numpy()) and lengths.tolist() == tlengths.tolist()
    seqs = [tg.Tensor(np.full((n, 2), float(i))) for i, n in enumerate(lens)]
    tseqs = [torch.tensor(s.numpy()) for s in seqs]
    mine, theirs = pack_sequence(seqs, enforce_sorted), TR.pack_sequence(tseqs, enforce_sorted)
    assert np.array_equal(mine.data.numpy(), theirs.data.numpy())
    for a, b in zip(unpack_sequence(mine), TR.unpack_sequence(theirs)):
        assert np.array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize(
    "make, lens, kwargs",
    [
        (lambda m: m.zeros(3, 3, 2), [2, 3, 1], {}),  # unsorted with enforce_sorted=True
        (lambda m: m.zeros(3, 3, 2), [3, 2, 0], {}),
        (lambda m: m.zeros(3, 3, 2), [3, 2, -1], {"enforce_sorted": False}),
        (lambda m: m.zeros(3, 3, 2), [3, 2], {}),
        (lambda m: m.zeros(3, 0, 2), [], {}),
    ],
)
def test_packing_errors_have_torch_type_and_message(torch, make, lens, kwargs):
    from torch.nn.utils.rnn import pack_padded_sequence as t_pack

    with pytest.raises(RuntimeError) as theirs:
        t_pack(make(torch), lens, **kwargs)
    with pytest.raises(RuntimeError) as ours:
        pack_padded_sequence(make(tg), lens, **kwargs)
    gist = re.split(r"[,.]", str(theirs.value))[0]  # the first clause of PyTorch's message
    assert gist in str(ours.value)
