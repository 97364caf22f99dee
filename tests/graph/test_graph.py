"""Graph drawing: DOT structure of unfolded RNNs, gradient paths checked against the chain rule by hand,
cell detail, BPTT cuts, labels and escaping, real rendering with Graphviz's `dot`, and a missing `dot`.

The rendering tests need the `dot` binary and are never skipped: CI installs graphviz, so a missing
`dot` there is a CI bug that should show up as a red build.
"""

import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from viz.notes_models import output_recurrent_rnn, vanilla_rnn

NOTES_PARAMS = ["w^(x)", "w^(a)", "b^(a)", "w^(o)", "b^(o)"]
RECURRENT_COLOR = '"#08519c"'
HIGHLIGHT_COLOR = '"#e31a1c"'


# ---- a small DOT reader (enough for the text dot.py writes) -------------------------------------------
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_NODE = re.compile(r'(\w+) \[label=(' + _QUOTED + r')((?:[^\]"]|' + _QUOTED + r')*)\]')
_EDGE = re.compile(r'(\w+) -> (\w+) \[((?:[^\]"]|' + _QUOTED + r')*)\]')
_OPEN = re.compile(r'^\s*subgraph (cluster_\w+) \{\s*$')
_LABEL = re.compile(r'^\s*label=(' + _QUOTED + r')')


def unquote(q):
    """The text of a DOT double-quoted string."""
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), q[1:-1])


def parse_dot(text):
    """{'nodes': id -> {label, attrs, clusters}, 'edges': [(src, dst, attrs)], 'clusters': [(name, label, path)]}

    ``clusters`` lists the clusters in the order they are opened; ``path`` is the tuple of enclosing
    cluster labels (the cluster's own label last). A node's ``clusters`` is the path it sits in.
    """
    nodes, edges, clusters, stack = {}, [], [], []
    lines = text.splitlines()
    assert lines[0].startswith("digraph ") and lines[-1] == "}"
    for line in lines[1:-1]:
        m = _OPEN.match(line)
        if m:
            stack.append([m.group(1), None])
            continue
        if line.strip() == "}":
            stack.pop()
            continue
        m = _LABEL.match(line)
        if m and stack and stack[-1][1] is None:
            stack[-1][1] = unquote(m.group(1))
            clusters.append((stack[-1][0], stack[-1][1], tuple(s[1] for s in stack)))
            continue
        if "->" in line:
            for src, dst, attrs in _EDGE.findall(line):
                edges.append((src, dst, attrs))
            continue
        for nid, label, attrs in _NODE.findall(line):
            nodes[nid] = {"label": unquote(label), "attrs": attrs, "clusters": tuple(s[1] for s in stack)}
    assert not stack, "unbalanced braces in DOT text"
    return {"nodes": nodes, "edges": edges, "clusters": clusters}


def step_clusters(parsed):
    """Labels of the time-step clusters ('t = k') in order of appearance."""
    return [label for _, label, _ in parsed["clusters"] if label.startswith("t = ")]


def ops_in(parsed, *path):
    """Op node labels (first line) directly inside the cluster whose label path ends with ``path``."""
    return sorted(
        n["label"].split("\n")[0]
        for n in parsed["nodes"].values()
        if "shape=ellipse" in n["attrs"]
        and n["clusters"][-len(path) :] == path
        and not n["clusters"][0:1] == ("legend",)
    )


def steps(a, b):
    """'t=a' ... 't=b' (empty when b < a)."""
    return [f"t={k}" for k in range(a, b + 1)]


def param_nodes(g, name):
    return [n for n in g.nodes.values() if n.kind == "param" and n.name == name]


def rnn_forward(T, hidden=3, features=2, **kw):
    tg.manual_seed(0)
    rnn = nn.RNN(features, hidden, **kw)
    out, h = rnn(tg.randn(T, 1, features))
    return out.sum(), rnn


# ---- DOT structure of the unfolded network ---------------------------------------------------------------
STEP_OPS = ["add", "add", "matmul", "matmul", "tanh"]  # a_t = tanh(x_t w^(x) + a_{t-1} w^(a) + b^(a))
HEAD_OPS = ["add", "matmul", "powscalar", "sub", "sum"]  # C_t = sum((a_t w^(o) + b^(o) - y_t)^2)


@pytest.mark.parametrize("T", [1, 2, 3, 5])
@pytest.mark.parametrize("per_step", [False, True])
def test_vanilla_rnn_step_clusters_in_order_with_the_same_ops(T, per_step):
    loss, params = vanilla_rnn(T, output_per_step=per_step)
    d = parse_dot(tg.graph.to_dot(loss, params=params))
    assert step_clusters(d) == [f"t = {k}" for k in range(1, T + 1)]
    for k in range(1, T + 1):
        want = sorted(STEP_OPS + HEAD_OPS) if (per_step or k == T) else STEP_OPS
        assert ops_in(d, f"t = {k}") == want, k
    # the loss sum (C_1 + ... + C_T) is the only op outside every step
    outside = [n for n in d["nodes"].values() if "shape=ellipse" in n["attrs"] and not n["clusters"]]
    assert [n["label"] for n in outside] == ["add"] * ((T - 1) if per_step else 0)


@pytest.mark.parametrize("T", [1, 4])
def test_nn_rnn_clusters_layer_and_step_nesting(T):
    loss, rnn = rnn_forward(T)
    d = parse_dot(tg.graph.to_dot(loss, params=rnn))
    paths = [p for _, _, p in d["clusters"] if p[0] != "legend"]
    assert paths[:2] == [("RNN",), ("RNN", "layer 0")]
    assert paths[2:] == [("RNN", "layer 0", f"t = {k}") for k in range(1, T + 1)]
    for k in range(1, T + 1):
        assert ops_in(d, "RNN", "layer 0", f"t = {k}") == ["add", "matmul", "tanh"]


def test_bidirectional_two_layer_rnn_clusters_and_recurrent_edges():
    T = 4
    loss, rnn = rnn_forward(T, num_layers=2, bidirectional=True)
    g = tg.graph.graph(loss, params=rnn)
    d = parse_dot(tg.graph.to_dot(loss, params=rnn))
    layers = [p for _, _, p in d["clusters"] if len(p) == 2 and p[0] == "RNN"]
    assert layers == [("RNN", "layer 0"), ("RNN", "layer 0 reverse"), ("RNN", "layer 1"), ("RNN", "layer 1 reverse")]
    for _, layer in layers:
        got = [p[2] for _, _, p in d["clusters"] if len(p) == 3 and p[1] == layer]
        want = [f"t = {k}" for k in range(1, T + 1)]
        assert got == (want[::-1] if layer.endswith("reverse") else want)  # the order the steps ran in
        for k in range(1, T + 1):
            assert ops_in(d, "RNN", layer, f"t = {k}") == ["add", "matmul", "tanh"]
    rec = [e for e in g.edges if e.recurrent]
    assert len(rec) == 4 * (T - 1)  # T-1 per layer and direction, none across layers or directions
    for e in rec:
        a, b = g.nodes[e.src].scope, g.nodes[e.dst].scope
        assert a[:-1] == b[:-1]
        ka, kb = int(a[-1][2:]), int(b[-1][2:])
        assert kb - ka == (-1 if b[1].endswith("reverse") else 1)


@pytest.mark.parametrize("per_step", [False, True])
def test_shared_parameters_drawn_once_and_copies_drawn_per_step(per_step):
    T = 4
    loss, params = vanilla_rnn(T, output_per_step=per_step)
    shared = tg.graph.graph(loss, params=params)
    for name in NOTES_PARAMS:
        (node,) = param_nodes(shared, name)
        uses = [e for e in shared.edges if e.src == node.id]
        n_steps = T if name in ("w^(x)", "w^(a)", "b^(a)") or per_step else 1
        assert len(uses) == n_steps, name  # one shared node feeding every step that uses it
        assert node.scope == ()  # drawn outside the step clusters

    copies = tg.graph.graph(loss, params=params, copies=True)
    for name in NOTES_PARAMS:
        nodes = param_nodes(copies, name)
        want = steps(1, T) if name in ("w^(x)", "w^(a)", "b^(a)") or per_step else [f"t={T}"]
        assert [n.scope[-1] for n in nodes] == want, name
        assert [n.label.split("\n")[-1] for n in nodes] == [f"copy at {s}" for s in want]
        for n in nodes:  # each copy feeds exactly one op, in its own step
            (e,) = [e for e in copies.edges if e.src == n.id]
            assert copies.nodes[e.dst].scope == n.scope
    d = parse_dot(tg.graph.to_dot(loss, params=params, copies=True))
    wx = [n for n in d["nodes"].values() if n["label"].startswith("w^(x)")]
    assert sorted(n["clusters"] for n in wx) == [(f"t = {k}",) for k in range(1, T + 1)]


def test_nn_rnn_copies_only_for_weights_used_inside_steps():
    T = 5
    loss, rnn = rnn_forward(T)
    shared = tg.graph.graph(loss, params=rnn)
    copies = tg.graph.graph(loss, params=rnn, copies=True)
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        assert len(param_nodes(shared, name)) == 1
    assert len(param_nodes(copies, "weight_hh_l0")) == T  # W_hh enters every step
    for name in ("weight_ih_l0", "bias_ih_l0", "bias_hh_l0"):  # one projection for the whole sequence
        assert len(param_nodes(copies, name)) == 1


@pytest.mark.parametrize("T", [1, 2, 5])
@pytest.mark.parametrize("per_step", [False, True])
def test_recurrent_edges_join_consecutive_steps(T, per_step):
    loss, params = vanilla_rnn(T, output_per_step=per_step)
    g = tg.graph.graph(loss, params=params)
    rec = [e for e in g.edges if e.recurrent]
    assert len(rec) == T - 1  # a_{t-1} -> the matmul a_{t-1} w^(a) of step t
    for e in rec:
        src, dst = g.nodes[e.src], g.nodes[e.dst]
        assert src.op == "Tanh" and dst.op == "MatMul"
        assert int(dst.scope[-1][2:]) == int(src.scope[-1][2:]) + 1
        assert any(g.nodes[f.src].name == "w^(a)" for f in g.edges if f.dst == dst.id)
    d = parse_dot(tg.graph.to_dot(loss, params=params))
    drawn = [e for e in d["edges"] if RECURRENT_COLOR in e[2]]
    assert {(s, t) for s, t, _ in drawn if not s.startswith("legend")} == {(e.src, e.dst) for e in rec}
    assert ("recurrent edge" in tg.graph.to_dot(loss, params=params)) == (T > 1)


def test_recurrent_edges_through_the_output_and_in_an_lstm():
    T = 4
    loss, params = output_recurrent_rnn(T)
    g = tg.graph.graph(loss, params=params)
    rec = [e for e in g.edges if e.recurrent]
    assert len(rec) == T - 1  # o_{t-1} -> the matmul o_{t-1} w^(y) of step t
    for e in rec:
        assert g.nodes[e.src].op == "Add"  # o = a w^(o) + b^(o)
        assert any(g.nodes[f.src].name == "w^(y)" for f in g.edges if f.dst == e.dst)
    tg.manual_seed(0)
    lstm = nn.LSTM(2, 3)
    out, _ = lstm(tg.randn(T, 1, 2))
    g = tg.graph.graph(out.sum(), params=lstm)
    assert sum(e.recurrent for e in g.edges) == 2 * (T - 1)  # h and c


def test_recurrent_only_between_adjacent_steps_of_the_same_scope():
    w = nn.Parameter(np.ones((2,), np.float32))
    with tg.scope("enc"):
        with tg.scope("t=1"):
            a1 = w * 2.0
        with tg.scope("t=2"):
            a2 = a1 * 3.0  # t=1 -> t=2 of enc: recurrent
        with tg.scope("t=4"):
            a4 = a1 * a2  # t=1 -> t=4 (skip) not; t=2 -> t=4 not
        with tg.scope("t=3"):
            a3 = a4 + 1.0  # t=4 -> t=3 of the same scope: recurrent (a reverse direction)
    with tg.scope("dec"), tg.scope("t=2"):
        b = a1 - a3  # enc t=1 -> dec t=2: another scope, not recurrent
    g = tg.graph.graph(b.sum(), params={"w": w})
    step = {id_: (n.scope, n.op) for id_, n in g.nodes.items()}
    rec = sorted((step[e.src][0], step[e.dst][0]) for e in g.edges if e.recurrent)
    assert rec == [(("enc", "t=1"), ("enc", "t=2")), (("enc", "t=4"), ("enc", "t=3"))]


def _counts(build, T, **kw):
    loss, params = build(T)
    g = tg.graph.graph(loss, params=params, **kw)
    return len(g.nodes), len(g.edges)


@pytest.mark.parametrize(
    "build",
    [
        lambda T: vanilla_rnn(T),
        lambda T: vanilla_rnn(T, output_per_step=True),
        lambda T: output_recurrent_rnn(T),
        rnn_forward,
    ],
    ids=["notes-end", "notes-per-step", "output-recurrent", "nn.RNN"],
)
@pytest.mark.parametrize("copies", [False, True])
def test_node_and_edge_counts_grow_linearly_in_T(build, copies):
    counts = np.array([_counts(build, T, copies=copies) for T in range(2, 7)])
    diffs = np.diff(counts, axis=0)
    assert (diffs == diffs[0]).all(), counts
    assert (diffs[0] > 0).all()


def test_per_step_counts_by_hand():
    """Notes' model, shared weights, output per step: per step 10 ops, 2 constants (x_t, y_t) and one
    loss add (after the first step); plus a_0, 5 parameters and the output node."""
    for T in range(1, 6):
        nodes, edges = _counts(lambda t: vanilla_rnn(t, output_per_step=True), T)
        assert nodes == 10 * T + 2 * T + (T - 1) + 1 + 5 + 1
        assert edges == 17 * T + 2 * (T - 1) + 1  # 7 binary ops (2 in-edges), tanh/pow/sum (1); out edge


# ---- gradient paths by hand -----------------------------------------------------------------------------
def expected_vanilla(weight, T, per_step):
    """Copies of each weight used when computing ∂C/∂weight, worked out from the chain rule.

    a_t = tanh(x_t w^(x) + a_{t-1} w^(a) + b^(a)) for t = 1..T, a_0 = 0; o_t = a_t w^(o) + b^(o);
    C = C_T (one output at the end) or C_1 + ... + C_T (an output per step).
    ∂C/∂θ = Σ_s Σ_{t≤s} ∂C_s/∂o_s · ∂o_s/∂a_s · ∂a_s/∂a_{s-1} ⋯ ∂a_{t+1}/∂a_t · ∂a_t/∂θ_t, where
    ∂o_s/∂a_s = w^(o) (copy at s) and ∂a_k/∂a_{k-1} = diag(1 - a_k²) w^(a)ᵀ (copy at k, k ≥ 2).
    """
    out = steps(1, T) if per_step else [f"t={T}"]
    through_a = {"w^(a)": steps(2, T), "w^(o)": out}  # factors from a_t up to the output(s)
    table = {
        "w^(x)": {"w^(x)": steps(1, T), **through_a},
        "b^(a)": {"b^(a)": steps(1, T), **through_a},
        "w^(a)": {"w^(a)": steps(1, T), "w^(o)": out},  # its own copies at 1..T ⊇ the Jacobians' 2..T
        "w^(o)": {"w^(o)": out},  # ∂o_s/∂w^(o) = a_s: nothing else multiplies in
        "b^(o)": {"b^(o)": out},
    }
    return {k: v for k, v in table[weight].items() if v}


@pytest.mark.parametrize("T", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("per_step", [False, True], ids=["output-at-end", "output-per-step"])
@pytest.mark.parametrize("copies", [False, True], ids=["shared", "copies"])
@pytest.mark.parametrize("weight", NOTES_PARAMS)
def test_gradient_path_copies_match_the_chain_rule(weight, T, per_step, copies):
    loss, params = vanilla_rnn(T, output_per_step=per_step)
    g = tg.graph.graph(loss, params=params, copies=copies)
    path = tg.graph.gradient_path(g, weight)
    want = expected_vanilla(weight, T, per_step)
    assert path.weight == weight
    assert path.copies == want
    for name in NOTES_PARAMS:
        assert path.count(name) == len(want.get(name, []))
    assert path.summary().startswith(f"∂C/∂{weight} uses ")
    # the same path by tensor instead of name
    assert tg.graph.gradient_path(g, params[weight]).copies == want


def _consumers(g, name):
    """Op nodes fed directly by (a copy of) parameter ``name``, keyed by step."""
    ids = {n.id for n in param_nodes(g, name)}
    return {g.nodes[e.dst].scope[-1]: e.dst for e in g.edges if e.src in ids}


@pytest.mark.parametrize("T", [1, 3, 5])
@pytest.mark.parametrize("per_step", [False, True])
def test_gradient_path_nodes_on_and_off_the_path(T, per_step):
    loss, params = vanilla_rnn(T, output_per_step=per_step)
    g = tg.graph.graph(loss, params=params)
    xw, aw, ow = _consumers(g, "w^(x)"), _consumers(g, "w^(a)"), _consumers(g, "w^(o)")
    tanh = {n.scope[-1]: n.id for n in g.nodes.values() if n.op == "Tanh"}

    p = tg.graph.gradient_path(g, "w^(a)")
    assert not set(xw.values()) & p.nodes  # x_t·w^(x) does not depend on w^(a)
    assert set(aw.values()) <= p.nodes and set(tanh.values()) <= p.nodes
    assert g.outputs[0] in p.nodes
    for n in g.nodes.values():
        if n.kind in ("const", "input") or (n.kind == "param" and n.name != "w^(a)"):
            assert n.id not in p.nodes, n.label

    p = tg.graph.gradient_path(g, "w^(x)")
    assert set(xw.values()) <= p.nodes
    assert aw["t=1"] not in p.nodes  # a_0·w^(a): a_0 is a constant
    assert {aw[s] for s in steps(2, T)} <= p.nodes
    assert all((param_nodes(g, "w^(x)")[0].id, xw[s]) in p.edges for s in steps(1, T))

    p = tg.graph.gradient_path(g, "w^(o)")
    assert not set(tanh.values()) & p.nodes  # the hidden states do not depend on w^(o)
    assert set(ow.values()) <= p.nodes

    # drawn in red: exactly the path's nodes and edges
    dot = parse_dot(tg.graph.to_dot(loss, params=params, highlight="w^(x)"))
    red = {nid for nid, n in dot["nodes"].items() if HIGHLIGHT_COLOR in n["attrs"] and not nid.startswith("legend")}
    p = tg.graph.gradient_path(g, "w^(x)")
    assert red == p.nodes
    assert {(s, d) for s, d, a in dot["edges"] if HIGHLIGHT_COLOR in a and not s.startswith("legend")} == p.edges


@pytest.mark.parametrize("T", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("weight", ["w^(x)", "w^(y)", "b^(a)", "w^(o)", "b^(o)"])
def test_gradient_path_through_the_output_recurrence(weight, T):
    """a_t = tanh(x_t w^(x) + o_{t-1} w^(y) + b^(a)), o_t = a_t w^(o) + b^(o), o_0 = 0, C = Σ_t o_t·o_t.

    Going forward from θ at step t: ∂o_s/∂a_s = w^(o) (copy at s), ∂a_s/∂o_{s-1} = diag(1 - a_s²) w^(y)ᵀ
    (copy at s ≥ 2), and every o_s feeds the loss.
    """
    loss, params = output_recurrent_rnn(T)
    g = tg.graph.graph(loss, params=params)
    want = {
        "w^(x)": {"w^(x)": steps(1, T), "w^(o)": steps(1, T), "w^(y)": steps(2, T)},
        "b^(a)": {"b^(a)": steps(1, T), "w^(o)": steps(1, T), "w^(y)": steps(2, T)},
        "w^(y)": {"w^(y)": steps(1, T), "w^(o)": steps(1, T)},
        # o_1 depends on w^(o) directly; o_2 through a_2 = tanh(.. o_1 w^(y) ..), then ∂o_2/∂a_2 = w^(o)
        "w^(o)": {"w^(o)": steps(1, T), "w^(y)": steps(2, T)},
        "b^(o)": {"b^(o)": steps(1, T), "w^(y)": steps(2, T), "w^(o)": steps(2, T)},
    }[weight]
    assert tg.graph.gradient_path(g, weight).copies == {k: v for k, v in want.items() if v}


@pytest.mark.parametrize("T", [1, 2, 4])
@pytest.mark.parametrize("detail", ["op", "cell"])
def test_nn_rnn_gradient_paths_by_hand_at_both_detail_levels(T, detail):
    """h_t = tanh(X W_ihᵀ + b_ih + b_hh [row t] + h_{t-1} W_hhᵀ), h_0 = 0, C = Σ_t sum(h_t).

    The input projection runs once for the whole sequence (outside every step: label ''); W_hh enters
    the Jacobian ∂h_t/∂h_{t-1} for t ≥ 2 only, since h_0 is a constant. Collapsing the steps into cells
    must not change which copies are used.
    """
    loss, rnn = rnn_forward(T)
    g = tg.graph.graph(loss, params=rnn, detail=detail)
    hh = {"weight_hh_l0": steps(2, T)} if T > 1 else {}
    assert tg.graph.gradient_path(g, "weight_ih_l0").copies == {"weight_ih_l0": [""], **hh}
    assert tg.graph.gradient_path(g, "bias_hh_l0").copies == {"bias_hh_l0": [""], **hh}
    assert tg.graph.gradient_path(g, "weight_hh_l0").copies == {"weight_hh_l0": steps(1, T)}
    if detail == "cell":
        p = tg.graph.gradient_path(g, "weight_ih_l0")
        cells = [n.id for n in g.nodes.values() if n.kind == "cell"]
        assert len(cells) == T and set(cells) <= p.nodes
        assert all(s in g.nodes and d in g.nodes for s, d in p.edges)
        assert {(e.src, e.dst) for e in g.edges} >= p.edges


def test_unknown_highlight_lists_the_parameters():
    loss, params = vanilla_rnn(2)
    with pytest.raises(ValueError, match=r"w\^\(z\) is not a parameter.*\['b\^\(a\)', 'b\^\(o\)', 'w\^\(a\)'"):
        tg.graph.to_dot(loss, params=params, highlight="w^(z)")
    with pytest.raises(ValueError, match="that tensor is not a parameter"):
        tg.graph.to_dot(loss, params=params, highlight=nn.Parameter(np.zeros(2, np.float32)))


# ---- cell detail ----------------------------------------------------------------------------------------
def test_lstm_cell_detail_one_node_per_step():
    T = 30
    tg.manual_seed(0)
    lstm = nn.LSTM(3, 4)
    out, _ = lstm(tg.randn(T, 2, 3))
    loss = out.sum()
    g = tg.graph.graph(loss, params=lstm, detail="cell")
    cells = [n for n in g.nodes.values() if n.kind == "cell"]
    assert len(cells) == T
    assert len(g.nodes) < 150
    assert not [n for n in g.nodes.values() if n.kind == "op" and tg.graph.step_of(n.scope)]
    for k, c in enumerate(cells, start=1):
        assert f"step t={k}" in c.label and "LSTM / layer 0" in c.label
        assert "sigmoid×3" in c.label and "matmul" in c.label
    rec = [(g.nodes[e.src].label, g.nodes[e.dst].label) for e in g.edges if e.recurrent]
    assert len(rec) == T - 1  # h and c between the same two cells: one edge
    op_graph = tg.graph.graph(loss, params=lstm)
    assert len(op_graph.nodes) > 10 * T  # what 'cell' saves
    d = parse_dot(tg.graph.to_dot(loss, params=lstm, detail="cell"))
    assert step_clusters(d) == [f"t = {k}" for k in range(1, T + 1)]
    assert sum("shape=box3d" in n["attrs"] for n in d["nodes"].values()) == T + 1  # + the legend entry


def test_bad_detail_and_max_nodes_guard():
    loss, params = vanilla_rnn(3)
    with pytest.raises(ValueError, match=r"detail must be 'op' or 'cell', got 'ops'"):
        tg.graph.to_dot(loss, params=params, detail="ops")
    with pytest.raises(ValueError, match=r"20 op nodes exceed max_nodes=10.*detail='cell'.*larger max_nodes"):
        tg.graph.to_dot(loss, params=params, max_nodes=10)
    with pytest.raises(ValueError, match=r"\d+ nodes exceed max_nodes=5; use detail='cell'"):
        tg.graph.graph(loss, params=params, detail="cell", max_nodes=5)
    assert len(tg.graph.graph(loss, params=params, max_nodes=len(tg.graph.graph(loss).nodes)).nodes) > 0


# ---- truncated BPTT: the cut ----------------------------------------------------------------------------
def _notes_tbptt(T=6, k=3):
    """The notes' RNN run window by window; the state leaving a window is detached."""
    rng = np.random.default_rng(0)
    w = {
        n: nn.Parameter(rng.standard_normal(s).astype(np.float32))
        for n, s in [("w^(x)", (1, 2)), ("w^(a)", (2, 2)), ("b^(a)", (2,))]
    }
    a = tg.zeros(1, 2)
    losses = []
    for start in range(0, T, k):
        loss = None
        for t in range(start + 1, start + k + 1):
            with tg.scope(f"t={t}"):
                x = tg.Tensor(rng.standard_normal((1, 1)).astype(np.float32))
                a = (x @ w["w^(x)"] + a @ w["w^(a)"] + w["b^(a)"]).tanh()
                loss = a.sum() if loss is None else loss + a.sum()
        losses.append(loss)
        a = a.detach()
    return losses, w


def test_detached_state_is_drawn_as_a_cut():
    (first, second), w = _notes_tbptt()
    g1 = tg.graph.graph(first, params=w)
    assert not [n for n in g1.nodes.values() if n.kind == "cut"]
    g2 = tg.graph.graph(second, params=w)
    (cut,) = [n for n in g2.nodes.values() if n.kind == "cut"]
    assert cut.label == "detached state\n(1, 2) float32"
    (e,) = [e for e in g2.edges if e.src == cut.id]
    assert g2.nodes[e.dst].op == "MatMul" and g2.nodes[e.dst].scope == ("t=4",)
    assert step_clusters(parse_dot(tg.graph.to_dot(second, params=w))) == ["t = 4", "t = 5", "t = 6"]
    text = tg.graph.to_dot(second, params=w)
    d = parse_dot(text)
    assert 'style="filled,dashed"' in d["nodes"][cut.id]["attrs"]
    (edge,) = [a for s, _, a in d["edges"] if s == cut.id]
    assert "style=dashed" in edge and "arrowhead=tee" in edge
    assert "detached state (✂ BPTT cut)" in text  # legend entry
    assert "detached state" not in tg.graph.to_dot(first, params=w)
    # the path to w^(a) stops at the cut: nothing from the first window
    p = tg.graph.gradient_path(g2, "w^(a)")
    assert cut.id not in p.nodes and p.copies == {"w^(a)": ["t=4", "t=5", "t=6"]}


def test_detached_state_of_an_lstm_window_is_drawn_as_a_cut():
    """The layer unbinds the detached (h, c) per layer before the first step: the slices are still the cut."""
    tg.manual_seed(0)
    lstm = nn.LSTM(2, 3)
    state, losses = None, []
    for (xw,) in nn.utils.windows(tg.randn(6, 1, 2), k=3):
        out, state = lstm(xw, state)
        losses.append(out.sum())
        state = nn.utils.detach_state(state)
    assert not [n for n in tg.graph.graph(losses[0], params=lstm).nodes.values() if n.kind == "cut"]
    g = tg.graph.graph(losses[1], params=lstm)
    cuts = [n for n in g.nodes.values() if n.kind == "cut"]
    assert [n.label for n in cuts] == ["detached state\n(1, 3) float32"] * 2  # h and c
    consumers = sorted((g.nodes[e.dst].op, g.nodes[e.dst].scope[-1]) for n in cuts for e in g.edges if e.src == n.id)
    assert consumers == [("MatMul", "t=1"), ("Mul", "t=1")]  # h_0 W_hhᵀ and f ⊙ c_0 of the window's first step
    d = parse_dot(tg.graph.to_dot(losses[1], params=lstm))
    assert sum("arrowhead=tee" in a for s, _, a in d["edges"] if s in {n.id for n in cuts}) == 2


# ---- labels ---------------------------------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(2, 3)
        self.head = nn.Linear(3, 4)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out)


def test_op_attribute_labels():
    x = tg.Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4), requires_grad=True)
    y = x.softmax(axis=-1)[:, 0, 1:3].reshape(2, 2, 1).sum(axis=1) ** 2
    parts = tg.unbind(x, 0)
    z = y.sum() + parts[1].sum()
    labels = [n.label for n in tg.graph.graph(z).ops()]
    assert "softmax\naxis=-1" in labels
    assert "getitem\n[:, 0, 1:3]" in labels
    assert "reshape\n→(2, 2, 1)" in labels
    assert "sum\naxis=1" in labels
    assert "powscalar\np=2" in labels
    assert "unbind\naxis=0" in labels
    assert labels.count("sum") == 2  # a full sum has no attribute line
    g = tg.graph.graph(z)
    (e,) = [e for e in g.edges if g.nodes[e.src].op == "Unbind"]
    assert e.label == "(3, 4) #1"  # which output of a multi-output op


def test_leaf_and_edge_labels_show_shapes_and_dtypes():
    tg.set_default_dtype("float64")
    x = tg.Tensor(np.ones((3, 2)), requires_grad=True)
    c = tg.Tensor(np.ones((2, 5)))
    w = nn.Parameter(np.ones((5,)))
    y = ((x @ c) * w).sum(axis=0)
    g = tg.graph.graph(y)
    kinds = {n.kind: n for n in g.nodes.values()}
    assert kinds["input"].label == "input\n(3, 2) float64"
    assert kinds["const"].label == "constant\n(2, 5) float64"
    assert kinds["param"].label == "param (5,)\n(5,)"  # unnamed parameter: its shape
    assert kinds["output"].label == "output 0\n(5,) float64"
    assert sorted(e.label for e in g.edges) == ["(2, 5)", "(3, 2)", "(3, 5)", "(3, 5)", "(5,)", "(5,)"]
    d = parse_dot(tg.graph.to_dot(y))
    assert "(3, 2) float64" in d["nodes"][kinds["input"].id]["label"]
    assert sum('label="(3, 5)"' in a for _, _, a in d["edges"]) == 2


def test_parameter_names_by_module_path():
    tg.manual_seed(0)
    net = Net()
    loss = net(tg.randn(3, 1, 2)).sum()
    g = tg.graph.graph(loss, params=net)
    names = sorted(n.name for n in g.nodes.values() if n.kind == "param")
    assert names == [
        "head.bias",
        "head.weight",
        "lstm.bias_hh_l0",
        "lstm.bias_ih_l0",
        "lstm.weight_hh_l0",
        "lstm.weight_ih_l0",
    ]
    (hh,) = param_nodes(g, "lstm.weight_hh_l0")
    assert hh.label == "lstm.weight_hh_l0ᵀ\n(12, 3)"  # drawn as used: W_hh transposed, folded in
    text = tg.graph.to_dot(loss, params=net, highlight="lstm.weight_hh_l0")
    assert "lstm.weight_hh_l0ᵀ" in text and "gradient path to lstm.weight_hh_l0" in text
    assert tg.graph.gradient_path(g, "lstm.weight_hh_l0").copies["lstm.weight_hh_l0"] == steps(1, 3)
    # a {name: tensor} dict works the same; without names parameters are labelled by shape
    g = tg.graph.graph(loss, params={"W": net.head.weight})
    assert [n.name for n in g.nodes.values() if n.kind == "param"].count("W") == 1
    assert "param (12, 3)" in {n.name for n in g.nodes.values() if n.kind == "param"}


WEIRD = 'a"b\\c'


def _weird_graph():
    w = nn.Parameter(np.ones((2,), np.float32))
    v = nn.Parameter(np.ones((2,), np.float32))
    with tg.scope('say "hi"\\now'):
        y = (w * v).sum()
    return y, {WEIRD: w, "two\nlines": v}


def test_dot_escaping_of_quotes_backslashes_newlines():
    y, params = _weird_graph()
    text = tg.graph.to_dot(y, params=params, title='the "graph" \\ title', highlight=WEIRD)
    assert 'label="a\\"b\\\\c\\n(2,)"' in text
    assert 'label="two\\nlines\\n(2,)"' in text
    assert 'label="say \\"hi\\"\\\\now"' in text
    assert 'label="the \\"graph\\" \\\\ title"' in text
    assert "gradient path to a\\\"b\\\\c" in text
    d = parse_dot(text)
    assert {n["label"] for n in d["nodes"].values()} >= {WEIRD + "\n(2,)", "two\nlines\n(2,)"}
    assert ('say "hi"\\now',) in [p for _, _, p in d["clusters"]]
    assert tg.graph.escape('x"\\\n') == 'x\\"\\\\\\n'


def test_dot_escaping_renders_with_dot(tmp_path):
    y, params = _weird_graph()
    tg.graph.draw(y, params=params, path=tmp_path / "weird", format="svg", highlight=WEIRD)
    texts = _svg_texts(tmp_path / "weird.svg")
    assert WEIRD in texts and "two" in texts and "lines" in texts and 'say "hi"\\now' in texts


def test_show_values_and_grads():
    w = nn.Parameter(np.array([1.0, 2.0], np.float32))
    big = nn.Parameter(np.arange(12, dtype=np.float32).reshape(3, 4))
    y = (w * 3).sum() + (big @ tg.ones(4)).sum()
    plain = tg.graph.to_dot(y, params={"w": w})
    assert "value=" not in plain and "grad=" not in plain
    before = tg.graph.to_dot(y, params={"w": w}, show_values=True, show_grad=True)
    assert "w\\n(2,)\\nvalue=[1., 2.]\"" in before and "grad=" not in before  # no grad before backward
    assert "value=75." in before  # the output
    assert "value=[0., 1., 2., 3., 4., 5., …]" in before  # long tensors truncated
    y.backward()
    after = tg.graph.to_dot(y, params={"w": w}, show_values=True, show_grad=True)
    assert "w\\n(2,)\\nvalue=[1., 2.]\\ngrad=[3., 3.]\"" in after
    assert "grad=[1., 1., 1., 1., 1., 1., …]" in after
    assert "grad=" not in tg.graph.to_dot(y, params={"w": w}, show_grad=False, show_values=True)


def test_legend_present_or_absent():
    loss, params = vanilla_rnn(2)
    with_legend = tg.graph.to_dot(loss, params=params, highlight="w^(a)")
    d = parse_dot(with_legend)
    assert ("legend",) in [p for _, _, p in d["clusters"]]
    legend = {n["label"] for n in d["nodes"].values() if n["clusters"] == ("legend",)}
    assert {
        "parameter",
        "constant input",
        "op",
        "output",
        "recurrent edge a(t-1) → a(t)",
        "gradient path to w^(a)",
    } <= legend
    assert "input (requires grad)" not in legend and "cell step (collapsed)" not in legend  # kinds not drawn
    without = tg.graph.to_dot(loss, params=params, highlight="w^(a)", legend=False)
    assert "legend" not in without
    assert ("legend",) not in [p for _, _, p in parse_dot(without)["clusters"]]


# ---- rendering with Graphviz ----------------------------------------------------------------------------
def _svg_texts(path):
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    return {"".join(el.itertext()) for el in root.iter() if el.tag.endswith("text")}


def test_draw_svg_png_pdf(tmp_path):
    loss, params = vanilla_rnn(3)
    src = tg.graph.draw(loss, params=params, path=tmp_path / "g", format="svg", highlight="w^(x)")
    text = tg.graph.to_dot(loss, params=params, highlight="w^(x)")
    assert src.source == text
    assert (tmp_path / "g.dot").read_text(encoding="utf-8") == text
    texts = _svg_texts(tmp_path / "g.svg")
    assert {"w^(x)", "w^(a)", "w^(o)", "t = 1", "t = 2", "t = 3", "tanh"} <= texts
    tg.graph.draw(loss, params=params, path=tmp_path / "p.png", format="png")  # extension given: not doubled
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "p.dot").exists() and not (tmp_path / "p.png.dot").exists()
    tg.graph.draw(loss, params=params, path=tmp_path / "sub" / "d", format="pdf", detail="cell")
    assert (tmp_path / "sub" / "d.pdf").read_bytes()[:5] == b"%PDF-"
    assert "box3d" in (tmp_path / "sub" / "d.dot").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="format must be 'svg', 'png' or 'pdf'"):
        tg.graph.draw(loss, params=params, path=tmp_path / "x", format="jpg")


def test_missing_dot_binary(tmp_path, monkeypatch):
    loss, params = vanilla_rnn(2)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(tg.graph.GraphvizMissing, match="apt-get install graphviz") as info:
        tg.graph.draw(loss, params=params, path=tmp_path / "g", format="svg")
    assert isinstance(info.value, RuntimeError)
    assert str(tmp_path / "g.dot") in str(info.value)
    assert (tmp_path / "g.dot").read_text(encoding="utf-8") == tg.graph.to_dot(loss, params=params)
    assert not (tmp_path / "g.svg").exists()
    with pytest.raises(tg.graph.GraphvizMissing, match="brew install graphviz"):
        tg.graph.draw(loss, params=params)  # no path: nothing written, same message
    assert tg.graph.to_dot(loss, params=params).startswith("digraph ")


# ---- determinism and scale ------------------------------------------------------------------------------
def test_same_model_twice_gives_identical_dot():
    def build():
        loss, params = vanilla_rnn(4, output_per_step=True)
        return tg.graph.to_dot(loss, params=params, highlight="w^(a)", copies=True, show_values=True)

    def build_net():
        tg.manual_seed(3)
        net = Net()
        loss = net(tg.randn(3, 2, 2)).sum()
        return tg.graph.to_dot(loss, params=net, detail="cell", highlight="lstm.weight_ih_l0")

    assert build() == build()
    assert build_net() == build_net()
    loss, params = vanilla_rnn(4, output_per_step=True, seed=1)  # different values: the values differ
    assert tg.graph.to_dot(loss, params=params, highlight="w^(a)", copies=True, show_values=True) != build()


def test_long_chain_without_recursion():
    limit = sys.getrecursionlimit()
    assert limit <= 3000  # the chain is longer than the recursion limit would allow
    w = nn.Parameter(np.ones((2,), np.float32))
    y = w
    for _ in range(3000):
        y = y * 1.0001
    with pytest.raises(ValueError, match="3000 op nodes exceed max_nodes=2000"):
        tg.graph.to_dot(y, params={"w": w})
    text = tg.graph.to_dot(y, params={"w": w}, max_nodes=7000, highlight="w")
    g = tg.graph.graph(y, params={"w": w}, max_nodes=7000)
    assert len(g.ops()) == 3000 and len(g.nodes) == 3000 + 3000 + 2  # + a constant per mul, w, output
    assert len(tg.graph.gradient_path(g, "w").nodes) == 3000 + 2
    assert text.count(" -> ") >= 6000
    assert sys.getrecursionlimit() == limit
