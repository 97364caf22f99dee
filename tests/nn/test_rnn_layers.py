"""Recurrent cells and sequence layers: float64 gradchecks (inputs, states and every parameter), the cell
equations in plain NumPy, PyTorch parity (outputs, final states and all gradients), padded-batch semantics,
input validation, and the O(T) size of the tape."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn

I, H, T, N = 3, 3, 3, 2


@pytest.fixture(autouse=True)
def _float64(_fresh_state):
    """Every module in this file is built in float64, so gradcheck perturbs the Parameters themselves."""
    tg.set_default_dtype("float64")
    tg.manual_seed(0)
    yield


def _np(t):
    return np.asarray(t.numpy())


def _t(a, requires_grad=True):
    return tg.Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---- NumPy references --------------------------------------------------------------------------------


def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def np_cell(kind, x, h, c, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh", reset_after=True, W_hr=None):
    """One step of the equations in the cells' docstrings; returns (h', c') (c' is None except for LSTM)."""
    b_ih = 0.0 if b_ih is None else b_ih
    b_hh = 0.0 if b_hh is None else b_hh
    if kind == "RNN":
        pre = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        return (np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0.0)), None
    if kind == "LSTM":
        Hc = c.shape[-1]
        gates = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        i, f, g, o = (gates[:, k * Hc : (k + 1) * Hc] for k in range(4))
        c_new = _sig(f) * c + _sig(i) * np.tanh(g)
        h_new = _sig(o) * np.tanh(c_new)
        return (h_new if W_hr is None else h_new @ W_hr.T), c_new
    if kind == "GRU":
        Hh = h.shape[-1]
        bi = np.broadcast_to(b_ih, (3 * Hh,))
        bh = np.broadcast_to(b_hh, (3 * Hh,))
        Wi = [W_ih[k * Hh : (k + 1) * Hh] for k in range(3)]
        Wh = [W_hh[k * Hh : (k + 1) * Hh] for k in range(3)]
        bis = [bi[k * Hh : (k + 1) * Hh] for k in range(3)]
        bhs = [bh[k * Hh : (k + 1) * Hh] for k in range(3)]
        r = _sig(x @ Wi[0].T + bis[0] + h @ Wh[0].T + bhs[0])
        z = _sig(x @ Wi[1].T + bis[1] + h @ Wh[1].T + bhs[1])
        if reset_after:
            n = np.tanh(x @ Wi[2].T + bis[2] + r * (h @ Wh[2].T + bhs[2]))
        else:
            n = np.tanh(x @ Wi[2].T + bis[2] + (r * h) @ Wh[2].T + bhs[2])
        return (1 - z) * n + z * h, None
    raise AssertionError(kind)


def np_layer(kind, p, x, h0, c0=None, lengths=None, num_layers=1, bidirectional=False, **opts):
    """A sequence layer, one sequence at a time (so the padding semantics are written independently)."""
    Tn, Nn, _ = x.shape
    D = 2 if bidirectional else 1
    lens = np.full(Nn, Tn) if lengths is None else np.asarray(lengths)
    inp, hn, cn = x, [], []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w = {k: p.get(f"{k}{sfx}") for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")}
            idx = layer * D + d
            h, c = h0[idx].copy(), None if c0 is None else c0[idx].copy()
            out = np.zeros((Tn, Nn, h.shape[-1]))
            for n in range(Nn):
                hh, cc = h[n : n + 1], None if c is None else c[n : n + 1]
                for t in range(lens[n] - 1, -1, -1) if d else range(lens[n]):
                    hh, cc = np_cell(
                        kind,
                        inp[t, n : n + 1],
                        hh,
                        cc,
                        w["weight_ih"],
                        w["weight_hh"],
                        w["bias_ih"],
                        w["bias_hh"],
                        W_hr=w["weight_hr"],
                        **opts,
                    )
                    out[t, n] = hh[0]
                h[n] = hh[0]
                if c is not None:
                    c[n] = cc[0]
            outs.append(out)
            hn.append(h)
            cn.append(c)
        inp = np.concatenate(outs, axis=-1)
    return inp, np.stack(hn), (None if c0 is None else np.stack(cn))


def _params(m):
    return {k: _np(v) for k, v in m.named_parameters()}


# ---- cell gradchecks ---------------------------------------------------------------------------------

CELLS = {
    "rnn_tanh": lambda bias: nn.RNNCell(I, H, bias=bias),
    "rnn_relu": lambda bias: nn.RNNCell(I, H, bias=bias, nonlinearity="relu"),
    "lstm": lambda bias: nn.LSTMCell(I, H, bias=bias),
    "gru_reset_after": lambda bias: nn.GRUCell(I, H, bias=bias, reset_after=True),
    "gru_reset_before": lambda bias: nn.GRUCell(I, H, bias=bias, reset_after=False),
}


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("with_state", [True, False], ids=["hx", "nohx"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("name", list(CELLS))
def test_cell_gradcheck_input_state_and_every_parameter(name, batched, with_state, bias):
    cell = CELLS[name](bias)
    params = list(cell.parameters())
    assert len(params) == (4 if bias else 2)
    assert all(p.dtype == np.float64 and p.requires_grad for p in params)
    rng = _rng(1)
    lead = (N,) if batched else ()
    x = _t(rng.standard_normal(lead + (I,)))
    is_lstm = name == "lstm"
    if with_state:
        states = [_t(0.5 * rng.standard_normal(lead + (H,))) for _ in range(2 if is_lstm else 1)]
    else:
        states = []
    ns = len(states)

    def fn(x, *rest):
        st = rest[:ns]
        if is_lstm:
            return cell(x, tuple(st) if st else None)
        return cell(x, st[0] if st else None)

    out = fn(x, *states)
    outs = out if isinstance(out, tuple) else (out,)
    assert all(o.shape == lead + (H,) for o in outs)
    assert tg.gradcheck(fn, [x, *states, *params])


# ---- sequence-layer gradchecks -----------------------------------------------------------------------

LAYER_CASES = {
    # id: (class name, constructor kwargs, forward options)
    "rnn_1layer": ("RNN", {}, {}),
    "rnn_relu_2layer_h0": ("RNN", {"num_layers": 2, "nonlinearity": "relu"}, {"h0": True}),
    "rnn_bidir_lengths": ("RNN", {"bidirectional": True}, {"lengths": [3, 1]}),
    "rnn_batch_first_nobias": ("RNN", {"batch_first": True, "bias": False}, {"h0": True}),
    "rnn_unbatched_h0": ("RNN", {"num_layers": 2}, {"unbatched": True, "h0": True}),
    "lstm_1layer": ("LSTM", {}, {}),
    "lstm_1layer_h0": ("LSTM", {}, {"h0": True}),
    "lstm_2layer_bidir": ("LSTM", {"num_layers": 2, "bidirectional": True}, {}),
    "lstm_2layer_bidir_lengths_h0": ("LSTM", {"num_layers": 2, "bidirectional": True}, {"lengths": [1, 3], "h0": True}),
    "lstm_batch_first_lengths": ("LSTM", {"batch_first": True}, {"lengths": [3, 1]}),
    "lstm_proj": ("LSTM", {"proj_size": 2}, {"h0": True}),
    "lstm_proj_2layer_bidir_lengths": (
        "LSTM",
        {"proj_size": 2, "num_layers": 2, "bidirectional": True},
        {"lengths": [3, 2]},
    ),
    "lstm_dropout_eval": ("LSTM", {"num_layers": 2, "dropout": 0.5}, {"eval": True}),
    "lstm_unbatched": ("LSTM", {"bidirectional": True}, {"unbatched": True}),
    "lstm_unbatched_h0": ("LSTM", {}, {"unbatched": True, "h0": True}),
    "lstm_nobias": ("LSTM", {"bias": False}, {"h0": True}),
    "gru_1layer": ("GRU", {}, {}),
    "gru_2layer_h0": ("GRU", {"num_layers": 2}, {"h0": True}),
    "gru_bidir_lengths": ("GRU", {"bidirectional": True}, {"lengths": [3, 1]}),
    "gru_batch_first": ("GRU", {"batch_first": True}, {"h0": True}),
    "gru_dropout_eval": ("GRU", {"num_layers": 2, "dropout": 0.3}, {"eval": True}),
    "gru_unbatched": ("GRU", {}, {"unbatched": True, "h0": True}),
    "gru_nobias": ("GRU", {"bias": False}, {}),
    "gru_reset_before_bidir_lengths_h0": (
        "GRU",
        {"reset_after": False, "bidirectional": True},
        {"lengths": [3, 1], "h0": True},
    ),
    "gru_reset_before_2layer": ("GRU", {"reset_after": False, "num_layers": 2}, {}),
}


def _build(cls_name, kw, hidden=None):
    hidden = hidden or (3 if kw.get("proj_size") else 2)
    return getattr(nn, cls_name)(I, hidden, **kw)


def _layer_inputs(layer, rng, unbatched=False, h0=False, Tn=T, Nn=N):
    """x in the layer's layout, and the initial-state tensors ([h0] or [h0, c0]) if asked for."""
    if unbatched:
        x = _t(rng.standard_normal((Tn, I)))
    elif layer.batch_first:
        x = _t(rng.standard_normal((Nn, Tn, I)))
    else:
        x = _t(rng.standard_normal((Tn, Nn, I)))
    if not h0:
        return x, []
    L = layer.num_layers * layer.num_directions
    lead = (L,) if unbatched else (L, Nn)
    states = [_t(0.5 * rng.standard_normal(lead + (layer.proj_size or layer.hidden_size,)))]
    if isinstance(layer, nn.LSTM):
        states.append(_t(0.5 * rng.standard_normal(lead + (layer.hidden_size,))))
    return x, states


def _call(layer, x, states, lengths=None):
    """Run the layer; returns a flat tuple (out, h_n) or (out, h_n, c_n)."""
    if isinstance(layer, nn.LSTM):
        out, (h, c) = layer(x, tuple(states) if states else None, lengths=lengths)
        return out, h, c
    out, h = layer(x, states[0] if states else None, lengths=lengths)
    return out, h


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_layer_gradcheck_input_state_and_every_parameter(case):
    cls_name, kw, opt = LAYER_CASES[case]
    layer = _build(cls_name, kw)
    if opt.get("eval"):
        layer.eval()
    params = list(layer.parameters())
    assert params and all(p.dtype == np.float64 for p in params)
    x, states = _layer_inputs(layer, _rng(2), unbatched=opt.get("unbatched", False), h0=opt.get("h0", False))
    ns = len(states)
    lengths = opt.get("lengths")

    def fn(x, *rest):
        return _call(layer, x, list(rest[:ns]), lengths)

    outs = fn(x, *states)
    D, Hout = layer.num_directions, layer.proj_size or layer.hidden_size
    L = layer.num_layers * D
    if opt.get("unbatched"):
        assert outs[0].shape == (T, D * Hout) and outs[1].shape == (L, Hout)
    elif layer.batch_first:
        assert outs[0].shape == (N, T, D * Hout) and outs[1].shape == (L, N, Hout)
    else:
        assert outs[0].shape == (T, N, D * Hout) and outs[1].shape == (L, N, Hout)
    if opt.get("eval"):  # dropout is off in eval mode: two calls agree exactly
        np.testing.assert_array_equal(_np(fn(x, *states)[0]), _np(outs[0]))
    assert tg.gradcheck(fn, [x, *states, *params])


def test_dropout_between_layers_is_active_in_train_mode():
    layer = nn.LSTM(I, 4, num_layers=2, dropout=0.5)
    x, _ = _layer_inputs(layer, _rng(3), Tn=5)
    layer.eval()
    ref = _np(layer(x)[0])
    layer.train()
    tg.manual_seed(11)
    a = _np(layer(x)[0])
    tg.manual_seed(11)
    b = _np(layer(x)[0])
    np.testing.assert_array_equal(a, b)  # repeatable under the seed
    assert not np.allclose(a, ref)  # and different from the eval (no-dropout) output
    one = nn.LSTM(I, 4, num_layers=1, dropout=0.5)  # dropout only acts between layers
    np.testing.assert_array_equal(_np(one(x)[0]), _np(one.eval()(x)[0]))


# ---- exact formulas ----------------------------------------------------------------------------------

CELL_FORMULA_CASES = {
    "rnn_tanh": (lambda: nn.RNNCell(I, 4), "RNN", {"nonlinearity": "tanh"}),
    "rnn_relu": (lambda: nn.RNNCell(I, 4, nonlinearity="relu"), "RNN", {"nonlinearity": "relu"}),
    "rnn_nobias": (lambda: nn.RNNCell(I, 4, bias=False), "RNN", {}),
    "lstm": (lambda: nn.LSTMCell(I, 4), "LSTM", {}),
    "lstm_nobias": (lambda: nn.LSTMCell(I, 4, bias=False), "LSTM", {}),
    "gru_reset_after": (lambda: nn.GRUCell(I, 4), "GRU", {"reset_after": True}),
    "gru_reset_before": (lambda: nn.GRUCell(I, 4, reset_after=False), "GRU", {"reset_after": False}),
    "gru_reset_before_nobias": (lambda: nn.GRUCell(I, 4, bias=False, reset_after=False), "GRU", {"reset_after": False}),
}


@pytest.mark.parametrize("case", list(CELL_FORMULA_CASES))
def test_cell_matches_numpy_equations(case):
    make, kind, opts = CELL_FORMULA_CASES[case]
    cell = make()
    p = _params(cell)
    rng = _rng(4)
    x, h, c = rng.standard_normal((5, I)), rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    ref_h, ref_c = np_cell(
        kind,
        x,
        h,
        c if kind == "LSTM" else None,
        p["weight_ih"],
        p["weight_hh"],
        p.get("bias_ih"),
        p.get("bias_hh"),
        **opts,
    )
    if kind == "LSTM":
        got_h, got_c = cell(_t(x), (_t(h), _t(c)))
        np.testing.assert_allclose(_np(got_c), ref_c, rtol=1e-12, atol=1e-14)
    else:
        got_h = cell(_t(x), _t(h))
    np.testing.assert_allclose(_np(got_h), ref_h, rtol=1e-12, atol=1e-14)
    # omitted state means zeros; unbatched input means a batch of one
    zeros = np.zeros((1, 4))
    ref0, _ = np_cell(
        kind,
        x[:1],
        zeros,
        zeros if kind == "LSTM" else None,
        p["weight_ih"],
        p["weight_hh"],
        p.get("bias_ih"),
        p.get("bias_hh"),
        **opts,
    )
    got0 = cell(_t(x[0]))
    got0 = got0[0] if kind == "LSTM" else got0
    assert got0.shape == (4,)
    np.testing.assert_allclose(_np(got0), ref0[0], rtol=1e-12, atol=1e-14)


def test_gru_reset_modes_differ_and_use_documented_update():
    a = nn.GRUCell(I, 4, reset_after=True)
    b = nn.GRUCell(I, 4, reset_after=False)
    b.load_state_dict(a.state_dict())
    rng = _rng(5)
    x, h = _t(rng.standard_normal((3, I))), _t(rng.standard_normal((3, 4)))
    assert not np.allclose(_np(a(x, h)), _np(b(x, h)))
    # with the reset gate saturated open (r = 1) the two formulas coincide
    w = _np(a.bias_ih).copy()
    w[:4] = 50.0
    for m in (a, b):
        m.bias_ih.data = w.copy()
    np.testing.assert_allclose(_np(a(x, h)), _np(b(x, h)), rtol=1e-12, atol=1e-12)
    # with the update gate saturated (z = 1) the state passes through: h' = h (PyTorch's convention)
    w[4:8] = 50.0
    a.bias_ih.data = w
    np.testing.assert_allclose(_np(a(x, h)), _np(h), atol=1e-12)


LAYER_REF_CASES = {
    "rnn_tanh_2layer_bidir_lengths": ("RNN", {"num_layers": 2, "bidirectional": True}, [4, 2, 1]),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}, None),
    "lstm_2layer_bidir_lengths": ("LSTM", {"num_layers": 2, "bidirectional": True}, [2, 4, 3]),
    "lstm_proj_bidir_lengths": ("LSTM", {"proj_size": 2, "bidirectional": True}, [4, 1, 3]),
    "gru_reset_after_bidir_lengths": ("GRU", {"bidirectional": True}, [3, 4, 1]),
    "gru_reset_before_2layer_bidir_lengths": (
        "GRU",
        {"reset_after": False, "num_layers": 2, "bidirectional": True},
        [1, 4, 2],
    ),
    "gru_reset_before_nobias": ("GRU", {"reset_after": False, "bias": False}, None),
}


@pytest.mark.parametrize("case", list(LAYER_REF_CASES))
def test_layer_matches_numpy_reference(case):
    cls_name, kw, lengths = LAYER_REF_CASES[case]
    layer = getattr(nn, cls_name)(I, 4, **kw)
    x, states = _layer_inputs(layer, _rng(6), h0=True, Tn=4, Nn=3)
    got = _call(layer, x, states, lengths)
    opts = {}
    if cls_name == "RNN":
        opts["nonlinearity"] = kw.get("nonlinearity", "tanh")
    if cls_name == "GRU":
        opts["reset_after"] = kw.get("reset_after", True)
    ref = np_layer(
        cls_name,
        _params(layer),
        _np(x),
        _np(states[0]),
        _np(states[1]) if len(states) > 1 else None,
        lengths,
        layer.num_layers,
        layer.bidirectional,
        **opts,
    )
    for g, r in zip(got, ref):
        np.testing.assert_allclose(_np(g), r, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU", "GRU_before"])
def test_layer_equals_its_cell_unrolled(kind):
    reset_after = kind != "GRU_before"
    kind = kind.split("_")[0]
    extra = {"reset_after": reset_after} if kind == "GRU" else {}
    layer = getattr(nn, kind)(I, 4, **extra)
    cell = getattr(nn, kind + "Cell")(I, 4, **extra)
    cell.load_state_dict({k[: -len("_l0")]: v for k, v in layer.state_dict().items()})
    x = _t(_rng(7).standard_normal((5, 2, I)))
    out, hn = layer(x)
    state = None
    for t in range(5):
        state = cell(x[t], state)
        h = state[0] if kind == "LSTM" else state
        np.testing.assert_allclose(_np(out[t]), _np(h), rtol=1e-12, atol=1e-14)
    if kind == "LSTM":
        np.testing.assert_allclose(_np(hn[0][0]), _np(state[0]), rtol=1e-12)
        np.testing.assert_allclose(_np(hn[1][0]), _np(state[1]), rtol=1e-12)
    else:
        np.testing.assert_allclose(_np(hn[0]), _np(state), rtol=1e-12)


# ---- PyTorch parity ----------------------------------------------------------------------------------

TORCH_LAYER_CASES = {
    "rnn": ("RNN", {}, {}),
    "rnn_relu_2layer_h0": ("RNN", {"num_layers": 2, "nonlinearity": "relu"}, {"h0": True}),
    "rnn_bidir_batch_first_lengths": (
        "RNN",
        {"bidirectional": True, "batch_first": True},
        {"lengths": [2, 5, 3], "h0": True},
    ),
    "rnn_nobias_unbatched": ("RNN", {"bias": False, "num_layers": 2}, {"unbatched": True, "h0": True}),
    "lstm": ("LSTM", {}, {}),
    "lstm_2layer_bidir_h0": ("LSTM", {"num_layers": 2, "bidirectional": True}, {"h0": True}),
    "lstm_batch_first_lengths": ("LSTM", {"batch_first": True}, {"lengths": [5, 1, 3]}),
    "lstm_2layer_bidir_lengths_h0": (
        "LSTM",
        {"num_layers": 2, "bidirectional": True},
        {"lengths": [3, 5, 2], "h0": True},
    ),
    "lstm_proj": ("LSTM", {"proj_size": 2}, {"h0": True}),
    "lstm_proj_2layer_bidir_lengths": (
        "LSTM",
        {"proj_size": 3, "num_layers": 2, "bidirectional": True},
        {"lengths": [4, 5, 1], "h0": True},
    ),
    "lstm_dropout_eval_unbatched": ("LSTM", {"num_layers": 2, "dropout": 0.4}, {"eval": True, "unbatched": True}),
    "gru": ("GRU", {}, {}),
    "gru_2layer_bidir_batch_first_h0": (
        "GRU",
        {"num_layers": 2, "bidirectional": True, "batch_first": True},
        {"h0": True},
    ),
    "gru_lengths_nobias": ("GRU", {"bias": False}, {"lengths": [1, 4, 5]}),
    "gru_2layer_bidir_lengths": ("GRU", {"num_layers": 2, "bidirectional": True}, {"lengths": [5, 2, 4]}),
}


def _torch_layer(torch, cls_name, kw):
    torch.manual_seed(0)
    return getattr(torch.nn, cls_name)(I, 4, **kw).double()


def _loss_weights(shapes, seed=8):
    rng = _rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("case", list(TORCH_LAYER_CASES))
def test_layer_matches_pytorch_outputs_states_and_all_gradients(case):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    cls_name, kw, opt = TORCH_LAYER_CASES[case]
    tl = _torch_layer(torch, cls_name, kw)
    ours = getattr(nn, cls_name)(I, 4, **kw)
    assert [(k, p.shape) for k, p in ours.named_parameters()] == [(k, tuple(p.shape)) for k, p in tl.named_parameters()]
    res = ours.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    if opt.get("eval"):
        tl.eval()
        ours.eval()
    Tn, Nn = 5, 3
    x, states = _layer_inputs(
        ours, _rng(9), unbatched=opt.get("unbatched", False), h0=opt.get("h0", False), Tn=Tn, Nn=Nn
    )
    lengths = opt.get("lengths")
    got = _call(ours, x, states, lengths)

    tx = torch.tensor(_np(x), requires_grad=True)
    tstates = [torch.tensor(_np(s), requires_grad=True) for s in states]
    thx = None
    if tstates:
        thx = tuple(tstates) if cls_name == "LSTM" else tstates[0]
    bf = kw.get("batch_first", False)
    if lengths is not None:
        packed = pack_padded_sequence(tx, torch.tensor(lengths), batch_first=bf, enforce_sorted=False)
        tout, th = tl(packed, thx)
        tout, _ = pad_packed_sequence(tout, batch_first=bf, total_length=Tn)
    else:
        tout, th = tl(tx, thx)
    want = (tout, *th) if cls_name == "LSTM" else (tout, th)

    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == tuple(w.shape)
        np.testing.assert_allclose(_np(g), w.detach().numpy(), rtol=1e-10, atol=1e-10)

    weights = _loss_weights([g.shape for g in got])
    sum(((g * tg.Tensor(wt)).sum() for g, wt in zip(got, weights)), tg.Tensor(0.0)).backward()
    sum((w * torch.tensor(wt)).sum() for w, wt in zip(want, weights)).backward()

    np.testing.assert_allclose(_np(x.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    for s, ts in zip(states, tstates):
        np.testing.assert_allclose(_np(s.grad), ts.grad.numpy(), rtol=1e-10, atol=1e-10)
    tparams = dict(tl.named_parameters())
    for k, p in ours.named_parameters():
        assert p.grad is not None, k
        np.testing.assert_allclose(_np(p.grad), tparams[k].grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=k)


TORCH_CELL_CASES = {
    "rnn_tanh": ("RNNCell", {}),
    "rnn_relu": ("RNNCell", {"nonlinearity": "relu"}),
    "rnn_nobias": ("RNNCell", {"bias": False}),
    "lstm": ("LSTMCell", {}),
    "lstm_nobias": ("LSTMCell", {"bias": False}),
    "gru": ("GRUCell", {}),
    "gru_nobias": ("GRUCell", {"bias": False}),
}


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("case", list(TORCH_CELL_CASES))
def test_cell_matches_pytorch(case, batched):
    torch = pytest.importorskip("torch")
    cls_name, kw = TORCH_CELL_CASES[case]
    torch.manual_seed(1)
    tc = getattr(torch.nn, cls_name)(I, 4, **kw).double()
    ours = getattr(nn, cls_name)(I, 4, **kw)
    assert [(k, p.shape) for k, p in ours.named_parameters()] == [(k, tuple(p.shape)) for k, p in tc.named_parameters()]
    ours.load_state_dict({k: v.detach().numpy() for k, v in tc.state_dict().items()})
    rng = _rng(10)
    lead = (3,) if batched else ()
    x = _t(rng.standard_normal(lead + (I,)))
    hs = [_t(rng.standard_normal(lead + (4,))) for _ in range(2 if cls_name == "LSTMCell" else 1)]
    tx = torch.tensor(_np(x), requires_grad=True)
    ths = [torch.tensor(_np(h), requires_grad=True) for h in hs]
    if cls_name == "LSTMCell":
        got, want = ours(x, tuple(hs)), tc(tx, tuple(ths))
    else:
        got, want = (ours(x, hs[0]),), (tc(tx, ths[0]),)
    weights = _loss_weights([g.shape for g in got], seed=11)
    for g, w in zip(got, want):
        np.testing.assert_allclose(_np(g), w.detach().numpy(), rtol=1e-10, atol=1e-10)
    sum(((g * tg.Tensor(wt)).sum() for g, wt in zip(got, weights)), tg.Tensor(0.0)).backward()
    sum((w * torch.tensor(wt)).sum() for w, wt in zip(want, weights)).backward()
    np.testing.assert_allclose(_np(x.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    for h, th in zip(hs, ths):
        np.testing.assert_allclose(_np(h.grad), th.grad.numpy(), rtol=1e-10, atol=1e-10)
    tparams = dict(tc.named_parameters())
    for k, p in ours.named_parameters():
        np.testing.assert_allclose(_np(p.grad), tparams[k].grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=k)


@pytest.mark.parametrize(
    "cls_name,kw",
    [
        ("RNN", {"num_layers": 3, "bidirectional": True}),
        ("LSTM", {"num_layers": 2, "bidirectional": True, "proj_size": 2}),
        ("LSTM", {"bias": False}),
        ("GRU", {"num_layers": 2, "bidirectional": True}),
    ],
)
def test_parameter_names_shapes_order_equal_pytorch(cls_name, kw):
    torch = pytest.importorskip("torch")
    tl = getattr(torch.nn, cls_name)(5, 4, **kw)
    ours = getattr(nn, cls_name)(5, 4, **kw)
    assert [(k, p.shape) for k, p in ours.named_parameters()] == [(k, tuple(p.shape)) for k, p in tl.named_parameters()]
    assert list(ours.state_dict()) == list(tl.state_dict())


def test_init_bounds_follow_pytorch():
    for m in (nn.LSTM(3, 16, num_layers=2), nn.GRUCell(3, 16), nn.RNN(3, 16, bidirectional=True)):
        vals = np.concatenate([_np(p).ravel() for p in m.parameters()])
        assert np.abs(vals).max() <= 0.25 and np.abs(vals).max() > 0.2  # U(-1/sqrt(H), 1/sqrt(H)), H=16


# ---- lengths semantics -------------------------------------------------------------------------------

LENGTHS = [5, 2, 4, 1]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bidir"])
def test_lengths_padding_zero_and_h_n_at_own_last_step(kind, bidirectional):
    layer = getattr(nn, kind)(I, 3, num_layers=2, bidirectional=bidirectional)
    x, states = _layer_inputs(layer, _rng(12), Tn=5, Nn=4)
    out, hn = layer(x, None, lengths=LENGTHS)[:2]
    if kind == "LSTM":
        hn = hn[0]
    o = _np(out)
    D, Hh = layer.num_directions, 3
    for n, L in enumerate(LENGTHS):
        assert (o[L:, n] == 0).all()  # padded positions are exactly zero (both directions)
        assert (np.abs(o[:L, n]) > 0).all()  # real positions are not
        # top layer, forward direction: h_n equals the output at the sequence's own last step
        np.testing.assert_array_equal(_np(hn)[(layer.num_layers - 1) * D, n], o[L - 1, n, :Hh])
        if bidirectional:  # the reverse direction ends at t = 0
            np.testing.assert_array_equal(_np(hn)[(layer.num_layers - 1) * D + 1, n], o[0, n, Hh:])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_padded_batch_equals_each_sequence_run_alone(kind, batch_first):
    layer = getattr(nn, kind)(I, 3, num_layers=2, bidirectional=True, batch_first=batch_first)
    rng = _rng(13)
    xs = rng.standard_normal((5, 4, I))
    xp = xs.copy()
    for n, L in enumerate(LENGTHS):
        xp[L:, n] = rng.standard_normal((5 - L, I)) * 100  # garbage in the padding must not leak anywhere
    xin = _t(xp.transpose(1, 0, 2) if batch_first else xp)
    out, hn = layer(xin, lengths=np.array(LENGTHS))
    if kind == "LSTM":
        hn, cn = hn
    o = _np(out).transpose(1, 0, 2) if batch_first else _np(out)
    for n, L in enumerate(LENGTHS):
        single = xs[:L, n : n + 1]
        sin = _t(single.transpose(1, 0, 2) if batch_first else single)
        so, sh = layer(sin)
        if kind == "LSTM":
            sh, sc = sh
            np.testing.assert_allclose(_np(cn)[:, n], _np(sc)[:, 0], rtol=1e-12, atol=1e-14)
        so = _np(so).transpose(1, 0, 2) if batch_first else _np(so)
        # reverse direction at t=0 (it started at this sequence's own end), and every real step
        np.testing.assert_allclose(o[0, n, 3:], so[0, 0, 3:], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(o[:L, n], so[:, 0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(_np(hn)[:, n], _np(sh)[:, 0], rtol=1e-12, atol=1e-14)


def test_padding_gets_zero_input_gradient():
    layer = nn.LSTM(I, 3, bidirectional=True)
    x = _t(_rng(14).standard_normal((4, 3, I)))
    lengths = [4, 1, 2]
    out, (hn, cn) = layer(x, lengths=lengths)
    (out.sum() + hn.sum() + cn.sum()).backward()
    g = _np(x.grad)
    for n, L in enumerate(lengths):
        assert (g[L:, n] == 0).all() and (np.abs(g[:L, n]).sum(-1) > 0).all()


def test_lengths_forms_and_full_lengths_equal_no_lengths():
    layer = nn.GRU(I, 3, bidirectional=True)
    x = _t(_rng(15).standard_normal((4, 3, I)))
    ref = [_np(t) for t in layer(x)]
    full = [_np(t) for t in layer(x, lengths=[4, 4, 4])]
    for a, b in zip(ref, full):
        np.testing.assert_array_equal(a, b)
    variants = ([3, 1, 4], np.array([3, 1, 4]), np.array([3, 1, 4], dtype=np.int32), tg.Tensor([3, 1, 4]))
    outs = [_np(layer(x, lengths=v)[0]) for v in variants]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


# ---- output modes ------------------------------------------------------------------------------------


class SeqToOne(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(I, 4, num_layers=2)
        self.head = nn.Linear(4, 5)

    def forward(self, x, lengths=None):
        out, (h, c) = self.rnn(x, lengths=lengths)
        return self.head(h[-1]), out


class SeqToSeq(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(I, 4, bidirectional=True, batch_first=True)
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


def test_sequence_to_one_shapes_and_last_output():
    m = SeqToOne()
    x = _t(_rng(16).standard_normal((6, 2, I)))
    logits, out = m(x)
    assert logits.shape == (2, 5) and out.shape == (6, 2, 4)
    # without lengths, h_n[-1] is the top layer's output at the last step
    np.testing.assert_array_equal(_np(m.rnn(x)[1][0][-1]), _np(out[-1]))
    np.testing.assert_allclose(_np(m.head(out[-1])), _np(logits), rtol=1e-12)
    (logits * logits).mean().backward()
    assert x.grad.shape == x.shape and all(p.grad is not None for p in m.parameters())
    logits_l, _ = m(x, lengths=[6, 3])
    assert logits_l.shape == (2, 5)
    np.testing.assert_allclose(_np(logits_l)[0], _np(logits)[0], rtol=1e-12)
    assert not np.allclose(_np(logits_l)[1], _np(logits)[1])


def test_sequence_to_sequence_shapes():
    m = SeqToSeq()
    x = _t(_rng(17).standard_normal((2, 7, I)))
    y = m(x)
    assert y.shape == (2, 7, 5)
    (y * y).sum().backward()
    assert x.grad.shape == (2, 7, I)
    assert m.rnn.weight_ih_l0_reverse.grad is not None and np.abs(_np(m.rnn.weight_ih_l0_reverse.grad)).sum() > 0


# ---- bad input ---------------------------------------------------------------------------------------


def _raises(exc, fn, *fragments):
    with pytest.raises(exc) as ei:
        fn()
    msg = str(ei.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    return msg


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_bad_layer_inputs(kind):
    layer = getattr(nn, kind)(I, 4)
    x = _t(np.zeros((3, 2, I)))
    _raises(ValueError, lambda: layer(_t(np.zeros((3, 2, I, 1)))), kind, "3-d", "(3, 2, 3, 1)")
    _raises(ValueError, lambda: layer(_t(np.zeros(I))), kind, "(3,)")
    _raises(ValueError, lambda: layer(_t(np.zeros((3, 2, 5)))), "input feature size 5", "input_size 3")
    _raises(ValueError, lambda: layer(x, lengths=[4, 2]), "[1, T=3]", "max 4")
    _raises(ValueError, lambda: layer(x, lengths=[0, 2]), "[1, T=3]", "min 0")
    _raises(ValueError, lambda: layer(x, lengths=[3, 2, 1]), "one length per batch element (2)", "(3,)")
    _raises(ValueError, lambda: layer(x, lengths=[3]), "one length per batch element (2)")
    _raises(TypeError, lambda: layer(x, lengths=[3.0, 2.0]), "integers")
    _raises(TypeError, lambda: layer(np.zeros((3, 2, I))), "Tensor")
    bad_h = _t(np.zeros((1, 3, 4)))
    if kind == "LSTM":
        good = _t(np.zeros((1, 2, 4)))
        _raises(ValueError, lambda: layer(x, (bad_h, good)), "h0", "(1, 2, 4)", "(1, 3, 4)")
        _raises(ValueError, lambda: layer(x, (good, _t(np.zeros((2, 2, 4))))), "c0", "(1, 2, 4)", "(2, 2, 4)")
        _raises(TypeError, lambda: layer(x, good), "tuple (h0, c0)")
        _raises(TypeError, lambda: layer(x, (good,)), "tuple (h0, c0)")
    else:
        _raises(ValueError, lambda: layer(x, bad_h), "h0", "(1, 2, 4)", "(1, 3, 4)")
        _raises(ValueError, lambda: layer(x, _t(np.zeros((2, 4)))), "h0", "(1, 2, 4)")
        # unbatched input wants an unbatched state
        _raises(ValueError, lambda: layer(_t(np.zeros((3, I))), _t(np.zeros((1, 1, 4)))), "h0", "(1, 4)")
        _raises(TypeError, lambda: layer(x, tg.Tensor(np.zeros((1, 2, 4), np.float32))), "dtype")


def test_bad_constructor_arguments():
    _raises(
        ValueError,
        lambda: nn.RNN(I, 4, nonlinearity="sigmoid"),
        "RNN",
        "unknown nonlinearity 'sigmoid'",
        "'tanh' or 'relu'",
    )
    _raises(ValueError, lambda: nn.RNNCell(I, 4, nonlinearity="gelu"), "RNNCell", "unknown nonlinearity 'gelu'")
    _raises(ValueError, lambda: nn.LSTM(I, 4, proj_size=4), "proj_size", "hidden_size=4", "got 4")
    _raises(ValueError, lambda: nn.LSTM(I, 4, proj_size=7), "proj_size", "got 7")
    _raises(ValueError, lambda: nn.LSTM(I, 4, proj_size=-1), "proj_size")
    for cls in (nn.RNN, nn.LSTM, nn.GRU):
        _raises(ValueError, lambda cls=cls: cls(I, 4, dropout=1.5), "dropout must be in [0, 1]", "1.5")
        _raises(ValueError, lambda cls=cls: cls(I, 4, dropout=-0.1), "dropout must be in [0, 1]", "-0.1")
        _raises(ValueError, lambda cls=cls: cls(I, 0), "hidden_size", "positive")
        _raises(ValueError, lambda cls=cls: cls(I, 4, num_layers=0), "num_layers", "positive")
    _raises(ValueError, lambda: nn.GRUCell(0, 4), "input_size", "positive")


def test_bad_cell_inputs():
    cell = nn.LSTMCell(I, 4)
    _raises(ValueError, lambda: cell(_t(np.zeros((2, 5)))), "LSTMCell", "(N, 3)", "(2, 5)")
    _raises(ValueError, lambda: cell(_t(np.zeros((2, 2, I)))), "LSTMCell", "(2, 2, 3)")
    x = _t(np.zeros((2, I)))
    _raises(ValueError, lambda: cell(x, (_t(np.zeros((3, 4))), _t(np.zeros((2, 4))))), "h0", "(2, 4)", "(3, 4)")
    rnn = nn.RNNCell(I, 4)
    _raises(ValueError, lambda: rnn(x, _t(np.zeros((2, 5)))), "hx", "(2, 4)", "(2, 5)")
    _raises(ValueError, lambda: rnn(_t(np.zeros(I)), _t(np.zeros((1, 4)))), "hx", "(4,)", "unbatched")


def test_bad_state_dict_for_recurrent_layer():
    layer = nn.LSTM(I, 4, num_layers=2)
    before = {k: _np(v).copy() for k, v in layer.state_dict().items()}
    sd = {k: _np(v) + 1 for k, v in layer.state_dict().items()}
    sd["weight_ih_l2"] = sd.pop("weight_ih_l1")
    _raises(KeyError, lambda: layer.load_state_dict(sd), "weight_ih_l1", "weight_ih_l2", "missing", "unexpected")
    sd = {k: _np(v) + 1 for k, v in layer.state_dict().items()}
    sd["weight_hh_l1"] = np.zeros((12, 4))  # GRU-shaped (3H) instead of LSTM (4H)
    _raises(ValueError, lambda: layer.load_state_dict(sd), "weight_hh_l1", "(12, 4)", "(16, 4)")
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(_np(v), before[k])
    gru = nn.GRU(I, 4)
    _raises(ValueError, lambda: gru.load_state_dict(nn.LSTM(I, 4).state_dict()), "weight_ih_l0", "(16, 3)", "(12, 3)")


# ---- O(T) tape ---------------------------------------------------------------------------------------


def _tape_nodes(*outputs):
    """Distinct tape nodes reachable from the outputs (iterative walk, by id)."""
    seen, kinds = set(), {}
    stack = [o.grad_fn for o in outputs if o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        kinds[type(node).__name__] = kinds.get(type(node).__name__, 0) + 1
        for p in node.parents:
            if p.grad_fn is not None and id(p.grad_fn) not in seen:
                stack.append(p.grad_fn)
    return len(seen), kinds


def test_lstm_tape_grows_linearly_in_T():
    layer = nn.LSTM(4, 8, fused=False)  # the composed path: the cell's ops at every step
    rng = _rng(18)
    counts = {}
    for Tn in (100, 200):
        x = _t(rng.standard_normal((Tn, 2, 4)))
        out, (h, c) = layer(x)
        counts[Tn], kinds = _tape_nodes(out, h, c)
        # the input projection of all steps is one matmul: only the recurrent matmul runs per step
        assert kinds["MatMul"] == Tn + 1
    ratio = counts[200] / counts[100]
    assert ratio == pytest.approx(2.0, abs=0.1), counts
    assert counts[100] < 40 * 100  # a handful of nodes per step, not a growing number


def test_fused_lstm_tape_is_one_node_per_layer_and_direction():
    layer = nn.LSTM(4, 8, num_layers=2, bidirectional=True)
    x = _t(_rng(18).standard_normal((300, 2, 4)))
    out, (h, c) = layer(x)
    n, kinds = _tape_nodes(out, h, c)
    assert kinds["LSTMSequence"] == 4 and "MatMul" not in kinds  # the projection is inside the node
    assert n < 60  # independent of T


def test_long_sequence_backward_runs_and_matches_short_prefix_structure():
    layer = nn.GRU(2, 3)
    x = _t(_rng(19).standard_normal((500, 1, 2)))
    out, h = layer(x)
    h.sum().backward()  # a 500-step tape must not hit the recursion limit
    g = _np(x.grad)
    assert g.shape == (500, 1, 2) and np.isfinite(g).all()
    assert np.abs(g[-1]).sum() > 0
