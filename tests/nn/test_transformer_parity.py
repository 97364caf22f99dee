"""nn.MultiheadAttention and the Transformer layers behave like PyTorch's.

Without PyTorch: the state_dict keys equal PyTorch's (hard-coded lists), shapes and mask semantics are
checked against a NumPy reference, fully masked rows give zeros (PyTorch: NaN), float64 gradchecks,
errors name the module. With PyTorch: a torch module's state_dict loaded into ours reproduces its
outputs and its gradients with respect to the inputs and every parameter, in eval mode (dropout off),
to 1e-10 in float64 and 1e-5 in float32.
"""

import copy

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn.transformer import masked_attention

pytestmark = pytest.mark.filterwarnings(
    "ignore:Support for mismatched:UserWarning", "ignore:enable_nested_tensor:UserWarning"
)

E, H, FF = 6, 2, 8
L, S, N = 4, 5, 3


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---- PyTorch's names, hard-coded -----------------------------------------------------------------------
ATTN = ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
ENC_LAYER = [f"self_attn.{k}" for k in ATTN] + [
    "linear1.weight",
    "linear1.bias",
    "linear2.weight",
    "linear2.bias",
    "norm1.weight",
    "norm1.bias",
    "norm2.weight",
    "norm2.bias",
]
DEC_LAYER = (
    [f"self_attn.{k}" for k in ATTN]
    + [f"multihead_attn.{k}" for k in ATTN]
    + ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"]
    + [f"norm{i}.{k}" for i in (1, 2, 3) for k in ("weight", "bias")]
)
KEYS = {
    "mha": (lambda: nn.MultiheadAttention(E, H), ATTN),
    "mha_kdim_vdim": (
        lambda: nn.MultiheadAttention(E, H, kdim=3, vdim=5),
        ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"],
    ),
    "mha_bias_kv": (
        lambda: nn.MultiheadAttention(E, H, add_bias_kv=True),
        ["in_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight", "out_proj.bias"],
    ),
    "mha_no_bias": (lambda: nn.MultiheadAttention(E, H, bias=False), ["in_proj_weight", "out_proj.weight"]),
    "encoder_layer": (lambda: nn.TransformerEncoderLayer(E, H, FF), ENC_LAYER),
    "encoder_layer_no_bias": (
        lambda: nn.TransformerEncoderLayer(E, H, FF, bias=False),
        ["self_attn.in_proj_weight", "self_attn.out_proj.weight", "linear1.weight", "linear2.weight"]
        + ["norm1.weight", "norm2.weight"],
    ),
    "decoder_layer": (lambda: nn.TransformerDecoderLayer(E, H, FF), DEC_LAYER),
    "encoder": (
        lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF), 2, nn.LayerNorm(E)),
        [f"layers.{i}.{k}" for i in (0, 1) for k in ENC_LAYER] + ["norm.weight", "norm.bias"],
    ),
    "decoder": (
        lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, FF), 2),
        [f"layers.{i}.{k}" for i in (0, 1) for k in DEC_LAYER],
    ),
    "transformer": (
        lambda: nn.Transformer(E, H, 1, 2, FF),
        [f"encoder.layers.0.{k}" for k in ENC_LAYER]
        + ["encoder.norm.weight", "encoder.norm.bias"]
        + [f"decoder.layers.{i}.{k}" for i in (0, 1) for k in DEC_LAYER]
        + ["decoder.norm.weight", "decoder.norm.bias"],
    ),
}
TORCH_CTORS = {
    "mha": lambda t: t.nn.MultiheadAttention(E, H),
    "mha_kdim_vdim": lambda t: t.nn.MultiheadAttention(E, H, kdim=3, vdim=5),
    "mha_bias_kv": lambda t: t.nn.MultiheadAttention(E, H, add_bias_kv=True),
    "mha_no_bias": lambda t: t.nn.MultiheadAttention(E, H, bias=False),
    "encoder_layer": lambda t: t.nn.TransformerEncoderLayer(E, H, FF),
    "encoder_layer_no_bias": lambda t: t.nn.TransformerEncoderLayer(E, H, FF, bias=False),
    "decoder_layer": lambda t: t.nn.TransformerDecoderLayer(E, H, FF),
    "encoder": lambda t: t.nn.TransformerEncoder(t.nn.TransformerEncoderLayer(E, H, FF), 2, t.nn.LayerNorm(E)),
    "decoder": lambda t: t.nn.TransformerDecoder(t.nn.TransformerDecoderLayer(E, H, FF), 2),
    "transformer": lambda t: t.nn.Transformer(E, H, 1, 2, FF),
}


@pytest.mark.parametrize("name", list(KEYS))
def test_state_dict_keys_are_pytorchs(name):
    make, keys = KEYS[name]
    m = make()
    assert list(m.state_dict()) == keys
    assert [k for k, _ in m.named_parameters()] == keys


@pytest.mark.parametrize("name", list(KEYS))
def test_parameter_names_and_shapes_equal_pytorch(name):
    torch = pytest.importorskip("torch")
    theirs = TORCH_CTORS[name](torch)
    ours = KEYS[name][0]()
    assert [(k, p.shape) for k, p in ours.named_parameters()] == [
        (k, tuple(p.shape)) for k, p in theirs.named_parameters()
    ]
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_initialisation_follows_pytorch():
    tg.manual_seed(3)
    m = nn.MultiheadAttention(8, 2)
    w = m.in_proj_weight.numpy()
    bound = np.sqrt(6 / (8 + 24))  # Xavier-uniform on (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert (m.in_proj_bias.numpy() == 0).all() and (m.out_proj.bias.numpy() == 0).all()
    assert np.abs(m.out_proj.weight.numpy()).max() <= 1 / np.sqrt(8)  # Linear's default
    kv = nn.MultiheadAttention(8, 2, add_bias_kv=True)
    assert kv.bias_k.shape == (1, 1, 8) and 0.1 < kv.bias_k.numpy().std() < 1.0  # Xavier-normal, std 1/√8
    t = nn.Transformer(8, 2, 1, 1, 32)
    lin = t.encoder.layers[0].linear1.weight.numpy()
    b = np.sqrt(6 / (8 + 32))
    assert np.abs(lin).max() <= b and np.abs(lin).max() > 0.9 * b  # re-drawn Xavier, not Linear's 1/√8
    assert (t.decoder.norm.weight.numpy() == 1).all() and (t.encoder.layers[0].linear1.bias.numpy() != 0).any()


def test_encoder_clones_are_equal_at_init_and_independent():
    layer = nn.TransformerEncoderLayer(E, H, FF)
    enc = nn.TransformerEncoder(layer, 3)
    assert len(enc.layers) == 3 and enc.norm is None
    ws = [lay.linear1.weight for lay in enc.layers]
    assert all(np.array_equal(w.numpy(), layer.linear1.weight.numpy()) for w in ws)
    assert len({id(w) for w in ws} | {id(layer.linear1.weight)}) == 4
    ws[0].data = ws[0].data + 1
    assert not np.array_equal(ws[0].numpy(), ws[1].numpy())


# ---- a NumPy reference for the torch-free checks -------------------------------------------------------
def _ref_mha(m, q, k, v, blocked=None, bias=None):
    """Batch-first (N, L, E) reference: returns (out, per-head weights)."""
    W, b = m.in_proj_weight.numpy(), m.in_proj_bias.numpy()
    Wo, bo = m.out_proj.weight.numpy(), m.out_proj.bias.numpy()
    d = E // H
    heads = lambda x: x.reshape(x.shape[0], x.shape[1], H, d).transpose(0, 2, 1, 3)
    Q, K, V = (heads(x @ W[i * E : (i + 1) * E].T + b[i * E : (i + 1) * E]) for i, x in enumerate((q, k, v)))
    s = Q @ K.swapaxes(-1, -2) / np.sqrt(d) + (0 if bias is None else bias)
    if blocked is not None:
        s = np.where(blocked, -np.inf, s)
    m_ = s.max(-1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(m_), m_, 0))
    tot = e.sum(-1, keepdims=True)
    w = e / np.where(tot > 0, tot, 1)
    out = (w @ V).transpose(0, 2, 1, 3).reshape(q.shape[0], q.shape[1], E) @ Wo.T + bo
    return out, w


def _mha64(**kw):
    tg.set_default_dtype("float64")
    m = nn.MultiheadAttention(E, H, **kw)
    r = _rng(1)
    for p in m.parameters():  # non-zero biases
        p.data = p.data + 0.2 * r.standard_normal(p.shape)
    return m


def _bool_mask(r, shape, p=0.35):
    b = r.random(shape) < p
    b[..., 0] = False  # key 0 stays visible: no fully masked row
    return b


def test_self_attention_matches_the_reference_with_every_mask_kind():
    m = _mha64(batch_first=True)
    r = _rng(2)
    x = r.standard_normal((N, L, E))
    am, kpm, am3 = _bool_mask(r, (L, L)), _bool_mask(r, (N, L)), _bool_mask(r, (N * H, L, L))
    add = r.standard_normal((L, L))
    X = tg.Tensor(x)
    cases = [
        ({}, None, None),
        ({"attn_mask": am}, am[None, None], None),
        ({"attn_mask": tg.Tensor(np.where(am, -np.inf, 0.0))}, am[None, None], None),
        ({"attn_mask": add}, None, add),
        ({"attn_mask": am3}, am3.reshape(N, H, L, L), None),
        ({"key_padding_mask": kpm}, kpm[:, None, None, :], None),
        ({"key_padding_mask": np.where(kpm, -np.inf, 0.0)}, kpm[:, None, None, :], None),
        ({"key_padding_mask": kpm, "attn_mask": add}, kpm[:, None, None, :], add),
        ({"is_causal": True}, np.triu(np.ones((L, L), bool), 1), None),
    ]
    for kw, blocked, bias in cases:
        out, w = m(X, X, X, average_attn_weights=False, **kw)
        want_out, want_w = _ref_mha(m, x, x, x, blocked, bias)
        np.testing.assert_allclose(out.numpy(), want_out, rtol=1e-12, atol=1e-12, err_msg=str(kw.keys()))
        np.testing.assert_allclose(w.numpy(), want_w, rtol=1e-12, atol=1e-14, err_msg=str(kw.keys()))
        if blocked is not None:
            assert (w.numpy()[np.broadcast_to(blocked, w.shape)] == 0).all()
        np.testing.assert_allclose(w.numpy().sum(-1), 1, rtol=1e-12)


def test_shapes_batch_first_unbatched_and_weights():
    m = nn.MultiheadAttention(E, H)
    q, kv = tg.randn(L, N, E), tg.randn(S, N, E)
    out, w = m(q, kv, kv)
    assert out.shape == (L, N, E) and w.shape == (N, L, S)
    out, w = m(q, kv, kv, average_attn_weights=False)
    assert w.shape == (N, H, L, S)
    assert m(q, kv, kv, need_weights=False)[1] is None
    bf = nn.MultiheadAttention(E, H, batch_first=True)
    out, w = bf(q.swapaxes(0, 1), kv.swapaxes(0, 1), kv.swapaxes(0, 1))
    assert out.shape == (N, L, E) and w.shape == (N, L, S)
    out, w = bf(tg.randn(L, E), tg.randn(S, E), tg.randn(S, E), key_padding_mask=np.zeros(S, bool))
    assert out.shape == (L, E) and w.shape == (L, S)
    out, w = m(
        tg.randn(L, E), tg.randn(S, E), tg.randn(S, E), attn_mask=np.zeros((H, L, S), bool), average_attn_weights=False
    )
    assert out.shape == (L, E) and w.shape == (H, L, S)
    kd = nn.MultiheadAttention(E, H, kdim=3, vdim=5, add_bias_kv=True, add_zero_attn=True)
    out, w = kd(q, tg.randn(S, N, 3), tg.randn(S, N, 5), key_padding_mask=np.zeros((N, S), bool))
    assert out.shape == (L, N, E) and w.shape == (N, L, S + 2)  # bias_k and the zero key are attended too


def test_batch_first_and_sequence_first_agree():
    a = nn.MultiheadAttention(E, H)
    b = nn.MultiheadAttention(E, H, batch_first=True)
    b.load_state_dict(a.state_dict())
    q, kv = tg.randn(L, N, E), tg.randn(S, N, E)
    kpm = _bool_mask(_rng(3), (N, S))
    oa, wa = a(q, kv, kv, key_padding_mask=kpm)
    ob, wb = b(q.swapaxes(0, 1), kv.swapaxes(0, 1), kv.swapaxes(0, 1), key_padding_mask=kpm)
    np.testing.assert_allclose(oa.numpy(), ob.numpy().swapaxes(0, 1), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(wa.numpy(), wb.numpy(), rtol=1e-6, atol=1e-7)


def test_fully_masked_rows_give_zero_weights_the_output_bias_and_no_nan():
    """PyTorch returns NaN for a query that may see no key; here its weights are 0 and its output b_o."""
    m = _mha64(batch_first=True)
    x = tg.Tensor(_rng(4).standard_normal((2, L, E)), requires_grad=True)
    kpm = np.zeros((2, L), bool)
    kpm[1] = True  # item 1: every key padded
    am = np.zeros((L, L), bool)
    am[2] = True  # query 2 of item 0: every key blocked by attn_mask
    for kw in (
        {"key_padding_mask": kpm, "attn_mask": am},
        {"key_padding_mask": np.where(kpm, -np.inf, 0.0), "attn_mask": np.where(am, -np.inf, 0.0)},
    ):
        x.grad = None
        with tg.detect_anomaly():  # no -inf or NaN is ever recorded
            out, w = m(x, x, x, **kw)
            out.sum().backward()
        out, w = out.numpy(), w.numpy()
        assert np.isfinite(out).all() and np.isfinite(x.grad.numpy()).all()
        assert (w[1] == 0).all() and (w[0, 2] == 0).all()
        np.testing.assert_allclose(out[1], np.broadcast_to(m.out_proj.bias.numpy(), (L, E)), rtol=1e-14)
        np.testing.assert_allclose(out[0, 2], m.out_proj.bias.numpy(), rtol=1e-14)
        np.testing.assert_allclose(w[0, [0, 1, 3]].sum(-1), 1, rtol=1e-12)
        assert (x.grad.numpy()[1] == 0).all()  # item 1 reaches its output through nothing but b_o


def test_outputs_at_real_positions_ignore_padded_values():
    m = nn.MultiheadAttention(E, H, batch_first=True)
    x = _rng(5).standard_normal((1, L, E)).astype(np.float32)
    x2 = x.copy()
    x2[0, 2:] = 100.0
    kpm = np.array([[False, False, True, True]])
    a = m(tg.Tensor(x), tg.Tensor(x), tg.Tensor(x), key_padding_mask=kpm)[0].numpy()
    b = m(tg.Tensor(x2), tg.Tensor(x2), tg.Tensor(x2), key_padding_mask=kpm)[0].numpy()
    np.testing.assert_allclose(a[0, :2], b[0, :2], rtol=1e-5, atol=1e-6)


def test_generate_square_subsequent_mask_and_is_causal():
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    assert mask.dtype == np.float32 and mask.shape == (4, 4)
    want = np.where(np.triu(np.ones((4, 4), bool), 1), -np.inf, 0.0)
    np.testing.assert_array_equal(mask.numpy(), want)
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype="float64").dtype == np.float64
    m = nn.MultiheadAttention(E, H)
    x = tg.randn(L, N, E)
    a = m(x, x, x, attn_mask=mask)
    b = m(x, x, x, is_causal=True)
    c = m(x, x, x, attn_mask=np.triu(np.ones((L, L), bool), 1), is_causal=True)
    for o in (b, c):
        np.testing.assert_array_equal(o[0].numpy(), a[0].numpy())
        np.testing.assert_array_equal(o[1].numpy(), a[1].numpy())
    assert (np.triu(a[1].numpy()[0], 1) == 0).all()


def test_dropout_acts_in_training_only():
    m = nn.MultiheadAttention(E, H, dropout=0.5)
    x = tg.randn(L, N, E)
    w_train = m(x, x, x, average_attn_weights=False)[1].numpy()
    assert (w_train == 0).any() and not np.allclose(w_train.sum(-1), 1)
    m.eval()
    o1, w1 = m(x, x, x)
    o2, _ = m(x, x, x)
    np.testing.assert_array_equal(o1.numpy(), o2.numpy())
    np.testing.assert_allclose(w1.numpy().sum(-1), 1, rtol=1e-5)


@pytest.mark.parametrize(
    "kw, call",
    [
        ({}, {"attn_mask": "bool", "key_padding_mask": "float"}),
        ({"kdim": 3, "vdim": 5}, {"key_padding_mask": "bool"}),
        ({"add_bias_kv": True, "add_zero_attn": True}, {"attn_mask": "float", "key_padding_mask": "bool"}),
        ({"bias": False, "batch_first": True}, {"is_causal": True}),
    ],
)
def test_mha_gradcheck(kw, call):
    m = _mha64(**kw)
    r = _rng(6)
    q = tg.Tensor(r.standard_normal((2, 2, E)), requires_grad=True)
    k = tg.Tensor(r.standard_normal((2, 2, m.kdim)), requires_grad=True)
    v = tg.Tensor(r.standard_normal((2, 2, m.vdim)), requires_grad=True)
    if call.get("is_causal"):
        k = v = q
    masks = {}
    if "attn_mask" in call:
        b = np.array([[False, True], [False, False]])
        masks["attn_mask"] = b if call["attn_mask"] == "bool" else np.where(b, -np.inf, r.standard_normal((2, 2)))
    if "key_padding_mask" in call:
        b = np.array([[False, True], [False, False]])
        masks["key_padding_mask"] = b if call["key_padding_mask"] == "bool" else np.where(b, -np.inf, 0.3)
    params = list(m.parameters())

    def f(q, k, v, *ps):
        out, w = m(q, k, v, is_causal=call.get("is_causal", False), average_attn_weights=False, **masks)
        return out, w

    assert tg.gradcheck(f, [q, k, v, *params], atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("norm_first", [False, True])
def test_layer_gradchecks(norm_first):
    tg.set_default_dtype("float64")
    enc = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu", norm_first=norm_first)
    dec = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first)
    r = _rng(7)
    x = tg.Tensor(r.standard_normal((3, 1, 4)), requires_grad=True)
    mem = tg.Tensor(r.standard_normal((2, 1, 4)), requires_grad=True)
    kpm = np.array([[False, False, True]])
    ps = [enc.linear1.weight, enc.norm1.weight, enc.self_attn.in_proj_weight]
    assert tg.gradcheck(lambda x, *p: enc(x, src_key_padding_mask=kpm, is_causal=True), [x, *ps], atol=1e-8, rtol=1e-6)
    ps = [dec.multihead_attn.in_proj_weight, dec.norm3.bias, dec.linear2.weight]
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype="float64")
    assert tg.gradcheck(lambda x, m, *p: dec(x, m, tgt_mask=mask), [x, mem, *ps], atol=1e-8, rtol=1e-6)


def test_layers_accept_activation_strings_callables_and_modules():
    x = tg.randn(L, N, E)
    layers = [nn.TransformerEncoderLayer(E, H, FF, activation=a) for a in ("relu", "gelu", nn.GELU(), tg.tanh)]
    assert "activation" in dict(layers[2].named_children()) and "activation" not in dict(layers[0].named_children())
    assert [list(lay.state_dict()) for lay in layers] == [ENC_LAYER] * 4
    for lay in layers:
        lay.eval()
        assert lay(x).shape == (L, N, E)
    ref = copy.deepcopy(layers[1])
    ref.activation = nn.GELU()
    np.testing.assert_array_equal(ref(x).numpy(), layers[1](x).numpy())


def test_transformer_shapes_and_custom_parts():
    t = nn.Transformer(E, H, 1, 1, FF, dropout=0.0, batch_first=True)
    src, tgt = tg.randn(N, S, E), tg.randn(N, L, E)
    assert t(src, tgt, tgt_mask=t.generate_square_subsequent_mask(L)).shape == (N, L, E)
    assert t(tg.randn(S, E), tg.randn(L, E)).shape == (L, E)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF), 1)
    custom = nn.Transformer(E, H, custom_encoder=enc, num_decoder_layers=1, dim_feedforward=FF)
    assert [k for k in custom.state_dict() if k.startswith("encoder.")] == [f"encoder.layers.0.{k}" for k in ENC_LAYER]


def test_errors_name_the_module():
    m = nn.MultiheadAttention(E, H)
    x = tg.randn(L, N, E)
    cases = [
        (
            lambda: nn.MultiheadAttention(5, 2),
            ValueError,
            r"MultiheadAttention: embed_dim \(5\) must be divisible by num_heads \(2\)",
        ),
        (lambda: nn.MultiheadAttention(0, 2), ValueError, "embed_dim and num_heads must be positive"),
        (
            lambda: m(x, x, x, attn_mask=np.zeros((L, L + 1), bool)),
            ValueError,
            r"MultiheadAttention: attn_mask must have shape \(L, S\) = \(4, 4\) or "
            r"\(N\*num_heads, L, S\) = \(6, 4, 4\), got \(4, 5\)",
        ),
        (
            lambda: m(x, x, x, key_padding_mask=np.zeros((L, N), bool)),
            ValueError,
            r"key_padding_mask must have shape \(N, S\) = \(3, 4\), got \(4, 3\)",
        ),
        (
            lambda: m(x, x, x, key_padding_mask=np.zeros((N, L), np.int64)),
            TypeError,
            "only bool and floating key_padding_mask",
        ),
        (lambda: m(tg.randn(L, N, E + 1), x, x), ValueError, "expected query with embedding dimension 6"),
        (lambda: m(x, tg.randn(S, N, 5), tg.randn(S, N, 5)), ValueError, r"expected key \(\*, 6\) and value \(\*, 6\)"),
        (lambda: m(x, tg.randn(S, N, E), tg.randn(S + 1, N, E)), ValueError, "must agree in batch size"),
        (lambda: m(tg.randn(1, L, N, E), x, x), ValueError, "query must be unbatched"),
        (lambda: m(x, tg.randn(S, E), tg.randn(S, E)), ValueError, "key and value must be 3-D too"),
        (
            lambda: m(tg.Tensor(np.zeros((L, N, E))), x, x),
            TypeError,
            "MultiheadAttention: query dtype float64 != parameter dtype float32",
        ),
        (lambda: m(x.numpy(), x, x), TypeError, "query must be a Tensor"),
        (
            lambda: nn.TransformerEncoderLayer(E, H, activation="swish"),
            ValueError,
            "TransformerEncoderLayer: activation should be 'relu', 'gelu'",
        ),
        (
            lambda: nn.TransformerDecoderLayer(E, H, activation=3),
            TypeError,
            "TransformerDecoderLayer: activation should be",
        ),
        (lambda: nn.TransformerEncoder(3, 2), TypeError, "TransformerEncoder: expected a layer Module"),
        (
            lambda: nn.Transformer(E, H, 1, 1, FF)(tg.randn(S, 2, E), tg.randn(L, 3, E)),
            ValueError,
            "Transformer: the batch sizes of src and tgt must be equal",
        ),
        (lambda: nn.Transformer(E, H, 1, 1, FF)(tg.randn(S, 2, E), tg.randn(L, 2, E + 1)), ValueError, "d_model=6"),
    ]
    for fn, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            fn()


def test_masked_attention_is_the_formula():
    r = _rng(8)
    q, k, v = (tg.Tensor(r.standard_normal(s)) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 3)])
    blocked = _bool_mask(r, (2, 3, 5))
    out, w = masked_attention(q, k, v, blocked)
    s = q.numpy() @ k.numpy().swapaxes(-1, -2) / 2.0
    e = np.where(blocked, 0, np.exp(s - s.max(-1, keepdims=True)))
    want_w = e / e.sum(-1, keepdims=True)
    np.testing.assert_allclose(w.numpy(), want_w, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out.numpy(), want_w @ v.numpy(), rtol=1e-5, atol=1e-6)


# ---- parity with PyTorch ----------------------------------------------------------------------------------
def _torch_and_ours(torch, name_or_pair, dtype="float64", perturb=True):
    """Build the torch module (random, non-zero biases), load its state_dict into ours; both in eval mode."""
    tg.set_default_dtype(dtype)
    make_t, make_o = name_or_pair
    torch.manual_seed(0)
    theirs = make_t(torch).to(getattr(torch, dtype))
    if perturb:
        with torch.no_grad():
            for p in theirs.parameters():
                p.add_(0.2 * torch.randn(p.shape, dtype=p.dtype))
    ours = make_o()
    assert [(k, p.shape) for k, p in ours.named_parameters()] == [
        (k, tuple(p.shape)) for k, p in theirs.named_parameters()
    ]
    res = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    return theirs.eval(), ours.eval()


def _parity(torch, theirs, ours, inputs, run_t, run_o, tol):
    """inputs: NumPy arrays that get gradients; run_*(*tensors) -> outputs (None entries skipped)."""
    tx = [torch.tensor(a, requires_grad=True) for a in inputs]
    ox = [tg.Tensor(a, requires_grad=True) for a in inputs]
    want = [w for w in run_t(*tx) if w is not None]
    got = [g for g in run_o(*ox) if g is not None]
    assert len(got) == len(want)
    r = _rng(99)
    for g, w in zip(got, want):
        assert g.shape == tuple(w.shape)
        np.testing.assert_allclose(g.numpy(), w.detach().numpy(), rtol=tol, atol=tol)
    seeds = [r.standard_normal(g.shape).astype(g.dtype) for g in got]
    sum((w * torch.tensor(s)).sum() for w, s in zip(want, seeds)).backward()
    total = None
    for g, s in zip(got, seeds):
        term = (g * tg.Tensor(s)).sum()
        total = term if total is None else total + term
    total.backward()
    for i, (o, t) in enumerate(zip(ox, tx)):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol, err_msg=f"input {i}")
    tp = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        assert p.grad is not None, k
        np.testing.assert_allclose(p.grad.numpy(), tp[k].grad.numpy(), rtol=tol, atol=tol, err_msg=k)


def _masks(r, kind, batched, Lq, Sk, dtype):
    """(ours, theirs) mask pair of a kind: None, bool2, float2, bool3, float3, causal, kpm_bool, kpm_float."""
    if kind is None:
        return None
    if kind.startswith("kpm"):
        b = _bool_mask(r, (N, Sk) if batched else (Sk,))
        a = b if kind == "kpm_bool" else np.where(b, -np.inf, 0.5 * r.standard_normal(b.shape)).astype(dtype)
    elif kind == "causal":
        a = np.triu(np.ones((Lq, Sk), bool), 1)
    else:
        shape = (Lq, Sk) if kind.endswith("2") else ((N * H if batched else H), Lq, Sk)
        b = _bool_mask(r, shape)
        a = b if kind.startswith("bool") else np.where(b, -np.inf, r.standard_normal(shape)).astype(dtype)
    return a


# name: (MHA kwargs, inputs: "self" | "kv" | "qkv", batched, attn_mask kind, key_padding_mask kind, call kwargs)
MHA_CASES = {
    "self": ({}, "self", True, None, None, {}),
    "self_batch_first": ({"batch_first": True}, "self", True, "bool2", "kpm_bool", {}),
    "cross_kv": ({}, "kv", True, "float2", "kpm_float", {}),
    "cross_qkv_per_head_weights": ({}, "qkv", True, "bool3", None, {"average_attn_weights": False}),
    "float3_and_kpm": ({"batch_first": True}, "qkv", True, "float3", "kpm_bool", {}),
    "kdim_vdim": ({"kdim": 3, "vdim": 5}, "qkv", True, "bool2", "kpm_bool", {}),
    "no_bias": ({"bias": False}, "kv", True, None, "kpm_bool", {}),
    "bias_kv": ({"add_bias_kv": True}, "self", True, "bool2", "kpm_bool", {}),
    "zero_attn": ({"add_zero_attn": True}, "kv", True, "float2", "kpm_float", {"average_attn_weights": False}),
    "bias_kv_zero_attn": (
        {"add_bias_kv": True, "add_zero_attn": True, "batch_first": True},
        "qkv",
        True,
        "bool3",
        None,
        {},
    ),
    "unbatched": ({}, "self", False, "bool3", "kpm_bool", {"average_attn_weights": False}),
    "unbatched_cross": ({"batch_first": True}, "kv", False, "float2", "kpm_float", {}),
    "causal_hint_weights": ({}, "self", True, "causal", None, {"is_causal": True}),
    "causal_hint_no_weights": (
        {"batch_first": True},
        "self",
        True,
        "causal",
        None,
        {"is_causal": True, "need_weights": False},
    ),
    "kpm_no_weights": ({}, "qkv", True, "bool2", "kpm_bool", {"need_weights": False}),
}


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-5)])
@pytest.mark.parametrize("case", list(MHA_CASES))
def test_mha_matches_pytorch(case, dtype, tol):
    torch = pytest.importorskip("torch")
    kw, inputs, batched, am_kind, kpm_kind, call = MHA_CASES[case]
    theirs, ours = _torch_and_ours(
        torch,
        (
            lambda t: t.nn.MultiheadAttention(E, H, dropout=0.3, **kw),
            lambda: nn.MultiheadAttention(E, H, dropout=0.3, **kw),
        ),
        dtype,
    )
    r = _rng(10)
    Sk = L if inputs == "self" else S
    bf = kw.get("batch_first", False)

    def arr(n, e):
        shape = ((N, n, e) if bf else (n, N, e)) if batched else (n, e)
        return r.standard_normal(shape).astype(dtype)

    xs = {"self": [arr(L, E)], "kv": [arr(L, E), arr(S, E)], "qkv": [arr(L, E), arr(S, ours.kdim), arr(S, ours.vdim)]}[
        inputs
    ]
    am, kpm = _masks(r, am_kind, batched, L, Sk, dtype), _masks(r, kpm_kind, batched, L, Sk, dtype)
    to_t = lambda a: None if a is None else torch.tensor(a)
    to_o = lambda a: None if a is None or a.dtype == bool else tg.Tensor(a)  # float masks as Tensors, bool as arrays
    o_am, o_kpm = (a if a is not None and a.dtype == bool else to_o(a) for a in (am, kpm))

    def qkv(ts):
        return (ts[0], ts[0], ts[0]) if inputs == "self" else (ts[0], ts[1], ts[1]) if inputs == "kv" else tuple(ts)

    _parity(
        torch,
        theirs,
        ours,
        xs,
        lambda *ts: theirs(*qkv(ts), key_padding_mask=to_t(kpm), attn_mask=to_t(am), **call),
        lambda *ts: ours(*qkv(ts), key_padding_mask=o_kpm, attn_mask=o_am, **call),
        tol,
    )


LAYER_CASES = {
    "post_norm": ({}, "bool2", None, False),
    "pre_norm_gelu": ({"norm_first": True, "activation": "gelu"}, "float2", "kpm_bool", False),
    "batch_first_kpm_float": ({"batch_first": True}, None, "kpm_float", False),
    "causal": ({"norm_first": True}, "causal", "kpm_bool", True),
    "no_bias_gelu_module": ({"bias": False, "activation": "gelu_module"}, "bool3", None, False),
    "unbatched": ({}, "float3", "kpm_bool", False),
}


def _act(kw, side, torch=None):
    if kw.get("activation") != "gelu_module":
        return kw
    return {**kw, "activation": torch.nn.GELU() if side == "torch" else nn.GELU()}


def _layer_case(torch, name, case):
    """PyTorch's layer class ``name`` and ours with the same weights, built with LAYER_CASES[case]'s options;
    then those options, the case's mask kinds and causality, and whether its input is batched."""
    kw, am_kind, kpm_kind, causal = LAYER_CASES[case]
    theirs, ours = _torch_and_ours(
        torch,
        (
            lambda t: getattr(t.nn, name)(E, H, FF, **_act(kw, "torch", t)),
            lambda: getattr(nn, name)(E, H, FF, **_act(kw, "ours")),
        ),
    )
    return theirs, ours, kw, am_kind, kpm_kind, causal, case != "unbatched"


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_encoder_layer_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    theirs, ours, kw, am_kind, kpm_kind, causal, batched = _layer_case(torch, "TransformerEncoderLayer", case)
    r = _rng(11)
    shape = ((N, L, E) if kw.get("batch_first") else (L, N, E)) if batched else (L, E)
    am, kpm = _masks(r, am_kind, batched, L, L, "float64"), _masks(r, kpm_kind, batched, L, L, "float64")
    to_t = lambda a: None if a is None else torch.tensor(a)
    _parity(
        torch,
        theirs,
        ours,
        [r.standard_normal(shape)],
        lambda x: [theirs(x, src_mask=to_t(am), src_key_padding_mask=to_t(kpm), is_causal=causal)],
        lambda x: [ours(x, src_mask=am, src_key_padding_mask=kpm, is_causal=causal)],
        1e-10,
    )


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_decoder_layer_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    theirs, ours, kw, am_kind, kpm_kind, causal, batched = _layer_case(torch, "TransformerDecoderLayer", case)
    r = _rng(12)
    bf = kw.get("batch_first")
    shape = lambda n: ((N, n, E) if bf else (n, N, E)) if batched else (n, E)
    tgt_mask, tgt_kpm = _masks(r, am_kind, batched, L, L, "float64"), _masks(r, kpm_kind, batched, L, L, "float64")
    mem_mask = _masks(r, "bool2" if am_kind != "causal" else None, batched, L, S, "float64")
    mem_kpm = _masks(r, "kpm_float", batched, L, S, "float64")
    to_t = lambda a: None if a is None else torch.tensor(a)
    args = lambda conv: dict(
        tgt_mask=conv(tgt_mask),
        memory_mask=conv(mem_mask),
        tgt_key_padding_mask=conv(tgt_kpm),
        memory_key_padding_mask=conv(mem_kpm),
        tgt_is_causal=causal,
    )
    _parity(
        torch,
        theirs,
        ours,
        [r.standard_normal(shape(L)), r.standard_normal(shape(S))],
        lambda t, m: [theirs(t, m, **args(to_t))],
        lambda t, m: [ours(t, m, **args(lambda a: a))],
        1e-10,
    )


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_and_decoder_stacks_match_pytorch(norm_first):
    torch = pytest.importorskip("torch")
    theirs, ours = _torch_and_ours(
        torch,
        (
            lambda t: t.nn.TransformerEncoder(
                t.nn.TransformerEncoderLayer(E, H, FF, norm_first=norm_first), 2, t.nn.LayerNorm(E)
            ),
            lambda: nn.TransformerEncoder(
                nn.TransformerEncoderLayer(E, H, FF, norm_first=norm_first), 2, nn.LayerNorm(E)
            ),
        ),
    )
    r = _rng(13)
    kpm = _bool_mask(r, (N, L))
    mask = np.triu(np.ones((L, L), bool), 1)
    _parity(
        torch,
        theirs,
        ours,
        [r.standard_normal((L, N, E))],
        lambda x: [theirs(x, mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(kpm), is_causal=True)],
        lambda x: [ours(x, mask=mask, src_key_padding_mask=kpm, is_causal=True)],
        1e-10,
    )
    theirs, ours = _torch_and_ours(
        torch,
        (
            lambda t: t.nn.TransformerDecoder(
                t.nn.TransformerDecoderLayer(E, H, FF, norm_first=norm_first, batch_first=True), 2, t.nn.LayerNorm(E)
            ),
            lambda: nn.TransformerDecoder(
                nn.TransformerDecoderLayer(E, H, FF, norm_first=norm_first, batch_first=True), 2, nn.LayerNorm(E)
            ),
        ),
    )
    tmask = np.where(mask, -np.inf, 0.0)
    mkpm = _bool_mask(r, (N, S))
    _parity(
        torch,
        theirs,
        ours,
        [r.standard_normal((N, L, E)), r.standard_normal((N, S, E))],
        lambda t, m: [theirs(t, m, tgt_mask=torch.tensor(tmask), memory_key_padding_mask=torch.tensor(mkpm))],
        lambda t, m: [ours(t, m, tgt_mask=tg.Tensor(tmask), memory_key_padding_mask=mkpm)],
        1e-10,
    )


@pytest.mark.parametrize(
    "kw, dtype, tol",
    [
        ({}, "float64", 1e-10),
        ({"batch_first": True, "norm_first": True, "activation": "gelu"}, "float64", 1e-10),
        ({"batch_first": True}, "float32", 1e-5),
    ],
)
def test_transformer_matches_pytorch(kw, dtype, tol):
    torch = pytest.importorskip("torch")
    theirs, ours = _torch_and_ours(
        torch,
        (lambda t: t.nn.Transformer(E, H, 2, 2, FF, **kw), lambda: nn.Transformer(E, H, 2, 2, FF, **kw)),
        dtype,
    )
    bf = kw.get("batch_first", False)
    r = _rng(14)
    src = r.standard_normal((N, S, E) if bf else (S, N, E)).astype(dtype)
    tgt = r.standard_normal((N, L, E) if bf else (L, N, E)).astype(dtype)
    skpm, tkpm = _bool_mask(r, (N, S)), _bool_mask(r, (N, L))
    t_mask = torch.nn.Transformer.generate_square_subsequent_mask(L, dtype=getattr(torch, dtype))
    o_mask = nn.Transformer.generate_square_subsequent_mask(L)
    np.testing.assert_array_equal(o_mask.numpy(), t_mask.numpy())

    def run_t(s, t):
        kpms = dict(src_key_padding_mask=torch.tensor(skpm), memory_key_padding_mask=torch.tensor(skpm))
        return [theirs(s, t, tgt_mask=t_mask, tgt_key_padding_mask=torch.tensor(tkpm), tgt_is_causal=True, **kpms)]

    def run_o(s, t):
        kpms = dict(src_key_padding_mask=skpm, memory_key_padding_mask=skpm)
        return [ours(s, t, tgt_mask=o_mask, tgt_key_padding_mask=tkpm, tgt_is_causal=True, **kpms)]

    _parity(torch, theirs, ours, [src, tgt], run_t, run_o, tol)
