"""Gallery figures of the models in ``tinygrad_rnn.models``: a recursive tree net, one attention decoder
step and a Transformer encoder block (built on the helpers of :mod:`viz.gallery`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.graph import Graph, Node, graph
from tinygrad_rnn.models.attention import Memory
from tinygrad_rnn.models.recursive import RecursiveNet, Tree
from tinygrad_rnn.models.seq2seq import Seq2Seq
from tinygrad_rnn.models.transformer import TransformerEncoderBlock
from viz.gallery import _shape, figure, name_tensors


def name_constants(g: Graph, names: Callable[[Node, list], str | None]) -> Graph:
    """Relabel constant leaves: ``names(leaf, consumer_nodes) -> name`` (the masks' fill values ...)."""
    consumers: dict = {}
    for e in g.edges:
        consumers.setdefault(e.src, []).append(g.nodes[e.dst])
    for n in g.nodes.values():
        if n.kind in ("const", "input"):
            label = names(n, consumers.get(n.id, []))
            if label:
                n.label = f"{label}\n{_shape(n.shape)}"
    return g


def _scalar(n: Node) -> float | None:
    if n.tensor is None or tuple(n.shape or ()) != ():
        return None
    return float(np.asarray(n.tensor.numpy() if hasattr(n.tensor, "numpy") else n.tensor.data))


def recursive_tree() -> list:
    """A RecursiveNet over the balanced tree ((0, 1), (2, 3)): the composition W, b shared by every node."""
    tg.manual_seed(0)
    net = RecursiveNet(vocab=4, dim=2)
    tree = Tree.from_nested(((0, 1), (2, 3)))
    with tg.scope("encode: leaves, then one matmul per height"):
        h = net.encode(tree)
    with tg.scope("head"):
        y = net.head(h)
    g = name_tensors(graph(y, params=net), {"h(root)": h, "y": y})
    for n in g.nodes.values():
        if n.kind == "param" and (n.name or "").startswith("embed.weight"):
            n.label = f"E[leaf tokens 0, 1, 2, 3]\n{_shape(n.shape)}"
    return [
        figure(
            "recursive_tree",
            "RecursiveNet(vocab=4, dim=2) on the tree ((0, 1), (2, 3)): h(node) = tanh(W [h_left; h_right] + b)",
            "A recursive (tree-structured) net over a balanced tree of 4 leaves, at op detail: the two "
            "internal nodes of height 1 are composed in one matmul, then the root; the same composition "
            "weights W = compose.weight and b = compose.bias (one shared node each) are used at every "
            "internal node, as an RNN ties its weights across time.",
            g,
        )
    ]


def seq2seq_attention_step() -> list:
    """One decoder step of a tiny Seq2Seq with additive attention over a 3-token source."""
    tg.manual_seed(0)
    model = Seq2Seq(src_vocab=6, tgt_vocab=5, emb=2, hidden=2, attention="additive")
    dec = model.decoder
    with tg.no_grad():  # the encoder has run: its outputs are the decoder's inputs here
        memory, s0 = model.encode(np.array([[3], [4], [5]]), np.array([3]))
    keys, mask = memory.keys, memory.mask
    prev = np.array([model.bos])
    # Decoder.step, with one scope per part (attention recomputes W_k H^enc + b_k itself: projected=None)
    with tg.scope("additive attention"):
        c, _ = dec.attention(s0, keys, mask)
    with tg.scope("GRU cell"):
        s1 = dec.cell(tg.concat([dec.embed(prev), c], axis=-1), s0)
    with tg.scope("output layer"):
        logits = dec.out(tg.concat([s1, c], axis=-1))
    ref, s_ref, _ = dec.step(prev, s0, Memory(keys, mask, None, memory.context))
    assert np.allclose(ref.numpy(), logits.numpy()) and np.allclose(s_ref.numpy(), s1.numpy())
    g = name_tensors(
        graph(logits, s1, params=dec),
        {"s₀ (decoder state)": s0, "H^enc = h₁…h₃ (keys)": keys, "logits": logits, "s₁": s1},
    )
    for n in g.nodes.values():
        if n.kind == "param" and (n.name or "").startswith("embed.weight"):
            n.label = f"embed.weight[<bos>]\n{_shape(n.shape)}"

    def const(n: Node, consumers: list) -> str | None:
        v = _scalar(n)
        if v is not None and consumers and consumers[0].op == "Where":
            return "-1e9 (padded source)" if v < -1e8 else "0 (padding row)"
        return None

    name_constants(g, const)
    return [
        figure(
            "seq2seq_attention_step",
            "Seq2Seq(attention='additive'), one decoder step over a 3-token source: score_j = vᵀ tanh(W_q s₀ + "
            "W_k h_j + b_k), α = softmax(score), c₁ = Σ α_j h_j, s₁ = GRUCell([E[<bos>]; c₁], s₀)",
            "One decoder step of a tiny `Seq2Seq` (emb = hidden = 2) with additive (Bahdanau) attention "
            "over the encoder outputs h₁…h₃: the scores vᵀ tanh(W_q s₀ + W_k h_j + b_k), their masked "
            "softmax α, the weighted sum c₁ = Σ α_j h_j (a batched matmul), then the GRU cell and the "
            "output layer; parameters are named relative to `model.decoder`.",
            g,
            rankdir="TB",
        )
    ]


def transformer_block() -> list:
    """One pre-norm TransformerEncoderBlock(dim=4, heads=2) on 3 positions, the last one padding."""
    tg.manual_seed(0)
    block = TransformerEncoderBlock(dim=4, heads=2, ff=4)
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((1, 3, 4)).astype(np.float32))
    pad = np.array([[False, False, True]])  # True = padding: position 3 is hidden as a key
    # the block's pre-norm forward (dropout 0), with one scope per sublayer
    with tg.scope("h = x + MHA(LN₁(x), mask)"):
        n1 = block.norm1(x)
        h = x + block.self_attn(n1, n1, n1, key_padding_mask=pad, need_weights=False)[0]
    with tg.scope("out = h + FF(LN₂(h))"):
        out = h + block._ff_block(block.norm2(h))
    assert np.allclose(block(x, key_padding_mask=pad).numpy(), out.numpy())
    g = name_tensors(graph(out, params=block), {"x": x, "h": h, "out": out})

    def const(n: Node, consumers: list) -> str | None:
        if consumers and consumers[0].op == "MaskedSoftmax":
            return "padded key (True = blocked)"
        v = _scalar(n)
        if v is None or not consumers:
            return None
        if consumers[0].op == "Mul" and abs(v - 1 / np.sqrt(2)) < 1e-6:
            return "1/√d_h"
        if consumers[0].op == "Div" and v == 1.0:
            return "1 (1/σ of LN₂)"
        return "ε" if consumers[0].op == "Add" and 0 < v < 1e-3 else None

    name_constants(g, const)
    for n in g.nodes.values():  # x needs no gradient, so LN₁'s normalisation of it is recorded as data
        if n.kind in ("const", "input") and n.label.startswith("constant") and tuple(n.shape or ()) == (1, 3, 4):
            n.label = f"(x - μ)/σ of LN₁\n{_shape(n.shape)}"
    return [
        figure(
            "transformer_block",
            "TransformerEncoderBlock(dim=4, heads=2), pre-norm, on 3 positions with a key-padding mask",
            "One pre-norm transformer encoder block on a length-3 input whose last position is padding: "
            "one in_proj_weight matmul split into q, k, v and into 2 heads, scores (q/√d_h) kᵀ, a masked "
            "softmax that gives the padded key weight exactly 0, the heads merged by out_proj, then the "
            "feed-forward sublayer; each sublayer is a residual around a LayerNorm.",
            g,
            rankdir="TB",
        )
    ]


BUILDERS: list = [recursive_tree, seq2seq_attention_step, transformer_block]
