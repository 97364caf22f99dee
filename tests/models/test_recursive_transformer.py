"""Tree-structured recursive nets and the Transformer encoder: gradchecks, masks, errors, learning."""

import numpy as np
import pytest
from example_loader import load_example

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models.recursive import RecursiveNet, Tree
from tinygrad_rnn.models.transformer import (
    LayerNorm,
    MultiHeadAttention,
    TransformerEncoder,
    TransformerEncoderBlock,
    lengths_to_padding_mask,
    positional_encoding,
)


def _load(name):
    return load_example(name)


# ---- trees -------------------------------------------------------------------------------------------
def test_tree_from_nested_postorder_and_depth():
    t = Tree.from_nested((1, (2, (3, 4))))
    assert t.depth() == 3 and t.leaves() == [1, 2, 3, 4]
    assert [n.token for n in t.postorder()][:2] == [1, 2]
    with pytest.raises(AttributeError, match="immutable"):
        t.token = 5


def test_shared_and_cyclic_nodes_are_rejected():
    a = Tree.leaf(1)
    with pytest.raises(ValueError, match="shared by two parents"):
        Tree.node(a, a).validate()
    with pytest.raises(ValueError, match="shared by two parents"):
        RecursiveNet(3, 2)(Tree.node(Tree.node(a, Tree.leaf(0)), a))  # the model validates too
    with pytest.raises(ValueError, match="shared by two parents"):
        Tree.from_nested((a, (a, 2)))  # Tree objects inside nested tuples
    cyc = [1]
    cyc.append(cyc)
    with pytest.raises(ValueError, match="cycle"):
        Tree.from_nested(cyc)
    inner = Tree.node(Tree.leaf(0), Tree.leaf(1))
    outer = Tree.node(inner, Tree.leaf(2))
    object.__setattr__(inner, "children", (outer, Tree.leaf(1)))  # force a cycle past immutability
    with pytest.raises(ValueError, match="cycle"):
        outer.validate()


@pytest.mark.parametrize(
    "bad, exc, msg",
    [
        ((), ValueError, "empty"),
        ((1, "x"), TypeError, "int id"),
        ((1, 2.5), TypeError, "int id"),
        ((1, True), TypeError, "int id"),
        ((1, -3), ValueError, "non-negative"),
    ],
)
def test_malformed_nested_input(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        Tree.from_nested(bad)


def test_recursive_net_input_errors():
    net = RecursiveNet(4, 3, arity=2)
    with pytest.raises(ValueError, match="exactly arity=2"):
        net((1, 2, 3))
    with pytest.raises(IndexError, match="out of range for vocab 4"):
        net((1, 7))
    with pytest.raises(ValueError, match=r"leaf_vectors must have shape \(2, 3\)"):
        net((1, 2), leaf_vectors=tg.zeros(3, 3))
    with pytest.raises(ValueError, match="leaf with a token id or an internal node"):
        Tree()


def test_recursive_net_matches_the_equations_and_batches_trees():
    """h(node) = tanh(W [h_l; h_r] + b), checked by hand; a batch equals the trees one at a time."""
    net = RecursiveNet(5, 3)
    E, W, b = net.embed.weight.numpy(), net.compose.weight.numpy(), net.compose.bias.numpy()
    h = lambda l, r: np.tanh(W @ np.concatenate([l, r]) + b)
    want = h(E[1], h(E[2], E[3]))
    got = net.encode((1, (2, 3))).numpy()[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    trees = [((1, 2), (3, 4)), (0, 1), (((1, 2), 3), 4)]
    batched = net.encode(list(trees)).numpy()
    single = np.concatenate([net.encode(t).numpy() for t in trees])
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-6)
    t = Tree.from_nested(trees[2])  # the same tree twice in one batch
    np.testing.assert_allclose(net.encode([t, t]).numpy(), single[[2, 2]], rtol=1e-5, atol=1e-6)


def test_gradcheck_through_depth3_tree_params_and_leaves():
    tg.set_default_dtype("float64")
    net = RecursiveNet(6, 3, out_features=2)
    tree = Tree.from_nested(((0, (1, 2)), 3))  # depth 3, 4 leaves
    assert tree.depth() == 3
    leaves = tg.randn(4, 3, requires_grad=True)
    params = list(net.compose.parameters()) + list(net.head.parameters())
    assert tg.gradcheck(lambda lv, *p: net(tree, leaf_vectors=lv), [leaves, *params])
    # the embedding path: gradients reach E only through the rows the leaves use
    assert tg.gradcheck(lambda E: net(tree), [net.embed.weight])


def test_deep_chain_tree_has_no_recursion_error():
    t = 0
    for i in range(2000):
        t = (t, i % 3)  # a left chain of depth 2000
    tree = Tree.from_nested(t)
    assert tree.depth() == 2000
    net = RecursiveNet(3, 4)
    out = net(tree).sum()
    out.backward()
    assert np.isfinite(out.item()) and np.abs(net.compose.weight.grad.numpy()).sum() > 0


def test_balanced_tree_depth_is_logarithmic():
    level = [Tree.leaf(i % 3) for i in range(256)]
    while len(level) > 1:
        level = [Tree.node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    assert level[0].depth() == 8  # log2(256)
    assert RecursiveNet(3, 4)(level[0]).shape == (1, 1)


def test_recursive_net_learns_expressions_mod_3():
    """Arity-3 nodes (left, op, right) over digits 0..2 with + and ×, value mod 3; 200 Adam steps."""
    ex = _load("recursive_expressions")
    net, _ = ex.train(modulus=3, max_depth=2, dim=24, steps=200, seed=0)
    acc1, acc2 = ex.accuracy(net, 3, 1), ex.accuracy(net, 3, 2)
    assert acc1 >= 0.95, acc1
    assert acc2 >= 0.85, acc2  # chance is 1/3


# ---- transformer pieces ------------------------------------------------------------------------------
def test_layernorm_normalises_and_gradchecks():
    tg.set_default_dtype("float64")
    ln = LayerNorm(5)
    x = tg.randn(2, 3, 5) * 3 + 1
    y = ln(x).numpy()
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-10)
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-4)
    ln.weight.data = ln.weight.data + tg.randn(5).data * 0.3  # non-trivial γ, β for the check
    ln.bias.data = tg.randn(5).data
    x.requires_grad = True
    assert tg.gradcheck(lambda x, w, b: ln(x), [x, ln.weight, ln.bias])


def test_positional_encoding_values():
    pe = positional_encoding(7, 5).numpy()
    assert pe.shape == (7, 5)
    np.testing.assert_allclose(pe[0], [0, 1, 0, 1, 0], atol=1e-7)
    np.testing.assert_allclose(pe[3, 2], np.sin(3 / 10000 ** (2 / 5)), rtol=1e-6)


def test_attention_masks_zero_weights_rows_sum_to_one_and_no_nan():
    m = MultiHeadAttention(8, 2)
    x = tg.randn(3, 5, 8)
    pad = lengths_to_padding_mask([5, 3, 1], 5)
    out, w = m(x, key_padding_mask=pad, causal=True, need_weights=True)
    w = w.numpy()
    assert w.shape == (3, 2, 5, 5)
    # the mask is a backend array (on the GPU under CuPy): read it back to index the host weights
    blocked = tg.backend.to_numpy(pad)[:, None, None, :] | np.triu(np.ones((5, 5), bool), 1)[None, None]
    assert (w[np.broadcast_to(blocked, w.shape)] == 0).all()
    np.testing.assert_allclose(w.sum(-1), 1, rtol=1e-5)  # causal: key 0 is always allowed here
    # every key padded: weights 0 and output finite (equal to the output bias), not NaN
    full = np.ones((1, 5), bool)
    out, w = m(x[:1], key_padding_mask=full, need_weights=True)
    assert np.isfinite(out.numpy()).all() and (w.numpy() == 0).all()
    np.testing.assert_allclose(out.numpy()[0, 0], m.out_proj.bias.numpy(), rtol=1e-6)


def test_attention_padding_does_not_change_real_positions():
    """Outputs at real positions do not depend on what sits at padded positions."""
    m = MultiHeadAttention(4, 2)
    x = tg.randn(1, 4, 4).numpy()
    x2 = x.copy()
    x2[0, 2:] = 100.0
    pad = lengths_to_padding_mask([2], 4)
    a, b = m(tg.Tensor(x), pad).numpy(), m(tg.Tensor(x2), pad).numpy()
    np.testing.assert_allclose(a[0, :2], b[0, :2], rtol=1e-5, atol=1e-6)


def test_attention_gradcheck_with_masks():
    tg.set_default_dtype("float64")
    m = MultiHeadAttention(4, 2)
    x = tg.randn(2, 3, 4, requires_grad=True)
    pad = lengths_to_padding_mask([3, 2], 3)
    ps = [m.in_proj_weight, m.in_proj_bias, m.out_proj.weight]
    assert tg.gradcheck(lambda x, *p: m(x, key_padding_mask=pad, causal=True), [x, *ps])
    # a fully blocked item (every key padded): finite, and no gradient reaches q/k through it
    full = np.array([[False, False, True], [True, True, True]])
    assert tg.gradcheck(lambda x, *p: m(x, key_padding_mask=full), [x, *ps])
    m(x, key_padding_mask=full).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_block_gradcheck(norm_first):
    tg.set_default_dtype("float64")
    blk = TransformerEncoderBlock(4, 2, 6, norm_first=norm_first)
    x = tg.randn(1, 3, 4, requires_grad=True)
    pad = lengths_to_padding_mask([2], 3)
    ps = [blk.linear1.weight, blk.linear2.bias, blk.norm1.weight, blk.self_attn.in_proj_bias]
    assert tg.gradcheck(lambda x, *p: blk(x, key_padding_mask=pad), [x, *ps])


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_block_loads_a_pytorch_encoder_layer(norm_first):
    """The block is nn.TransformerEncoderLayer: PyTorch's weights give PyTorch's outputs."""
    torch = pytest.importorskip("torch")
    tg.set_default_dtype("float64")
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True, norm_first=norm_first).double()
    blk = TransformerEncoderBlock(4, 2, 6, norm_first=norm_first)
    blk.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    pad = lengths_to_padding_mask([3, 2], 3)
    tpad = torch.tensor(tg.backend.to_numpy(pad))  # torch on the CPU gets the mask from the host
    want = tl.eval()(torch.tensor(x, requires_grad=True), src_key_padding_mask=tpad).detach().numpy()
    np.testing.assert_allclose(blk.eval()(tg.Tensor(x), key_padding_mask=pad).numpy(), want, rtol=1e-12, atol=1e-12)


def test_transformer_errors():
    with pytest.raises(ValueError, match=r"dim \(6\) must be divisible by heads \(4\)"):
        MultiHeadAttention(6, 4)
    m = MultiHeadAttention(4, 2)
    x = tg.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"shape \(N, T\) = \(2, 3\), got \(2, 4\)"):
        m(x, key_padding_mask=np.zeros((2, 4), bool))
    with pytest.raises(TypeError, match="must be boolean"):
        m(x, key_padding_mask=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"expected x of shape \(N, T, 4\)"):
        m(tg.randn(3, 4))
    enc = TransformerEncoder(5, 4, 2, 1, 8, max_len=4)
    with pytest.raises(ValueError, match="exceeds max_len 4"):
        enc(np.zeros((1, 5), np.int64))
    with pytest.raises(ValueError, match=r"ints in \[1, 3\]"):
        enc(np.zeros((2, 3), np.int64), lengths=[0, 3])
    with pytest.raises(ValueError, match="expected input"):
        LayerNorm(3)(tg.randn(2, 4))


def test_transformer_learns_token_count_comparison():
    """Is token 1 more frequent than token 2 in a padded sequence? One block, 150 Adam steps."""
    ex = _load("transformer_vs_lstm")
    tg.manual_seed(0)
    acc = ex.train_and_eval(ex.TransformerClassifier(), steps=150, seed=0)
    assert acc >= 0.9, acc  # majority class is about 0.6


def test_transformer_copies_earlier_token_with_causal_mask():
    """Tag each position with the token at position 0: attention must look back (causal mask allows it)."""
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    enc, head = TransformerEncoder(4, 16, 2, 1, 32, max_len=8), nn.Linear(16, 4)
    params = list(enc.parameters()) + list(head.parameters())
    opt = optim.Adam(params, lr=1e-2)

    def batch(r, n):
        ids = r.integers(0, 4, (n, 8))
        return ids, np.repeat(ids[:, :1], 8, axis=1)

    for _ in range(150):
        ids, y = batch(rng, 32)
        loss = F.cross_entropy(head(enc(ids, causal=True)).reshape(-1, 4), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    ids, y = batch(np.random.default_rng(1), 300)
    with tg.no_grad():
        acc = (head(enc(ids, causal=True)).numpy().argmax(-1) == y).mean()
    assert acc >= 0.95, acc  # chance 0.25 (position 0 itself is free)


def test_examples_run_and_print(capsys):
    res = _load("recursive_expressions").main(["--modulus", "3", "--max-depth", "1", "--steps", "60"])
    assert res[1] >= 0.8
    res = _load("transformer_vs_lstm").main(["--steps", "60"])
    out = capsys.readouterr().out
    assert "transformer" in out and "lstm" in out and set(res) == {"transformer", "lstm"}
    assert all(0.0 <= v <= 1.0 for v in res.values())
