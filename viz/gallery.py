"""The gallery: the lecture notes' figures drawn from real forward passes.

Run ``python -m viz.gallery [--out viz/gallery] [--format svg]`` (or ``make gallery``). Every figure is
built from the framework's own ops or ``nn`` layers, turned into a :class:`tinygrad_rnn.graph.Graph`,
given the notes' names for its inputs and outputs (x₁, a₀, y₃, C ...), and rendered by Graphviz; an
``index.md`` lists the files with one-line captions. Seeds are fixed, so every run writes the same bytes.

Figures: the three seed computational graphs (z = x·y, y = σ(xᵀW + b), H = max{0, XW + b}); the unfolded
vanilla RNN with one output at the end and with an output per step, each also with the gradient path to
w^(x) and one copy of every weight per step (the notes' "which weights are used when computing ∂C/∂w^(x)"
question); the output-recurrent RNN; one step of an LSTM cell and of a GRU cell; a 2-layer and a
bidirectional ``nn.RNN``; an LSTM over 30 steps; truncated BPTT; the Euler-integrated spring; a
recursive net over a tree; one attention decoder step of a Seq2Seq; one transformer encoder block.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.graph import Graph, GraphvizMissing, Node, collapse_cells, gradient_path, graph, render, step_of
from tinygrad_rnn.graph import build as build_graph
from tinygrad_rnn.graph.dot import to_dot_text
from viz.notes_models import output_recurrent_rnn, vanilla_rnn

SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gallery")


@dataclass
class Figure:
    name: str  # file stem
    title: str  # drawn above the graph and used as the index heading
    caption: str  # one line for index.md
    dot: str  # DOT text


# ---- naming leaves and outputs (the drawing model is plain data: relabel it before emitting DOT) --------
def _shape(shape: tuple | None) -> str:
    shape = tuple(shape or ())
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def name_tensors(g: Graph, names: dict) -> Graph:
    """Relabel the leaf/output nodes holding the given tensors: ``{name: tensor}``."""
    by_id = {id(t): k for k, t in names.items()}
    for n in g.nodes.values():
        if n.kind != "op" and n.tensor is not None and id(n.tensor) in by_id:
            n.label = f"{by_id[id(n.tensor)]}\n{_shape(n.shape)}"
    return g


def name_leaves(g: Graph, rule: Callable[[Node, list, dict], str | None]) -> Graph:
    """Relabel unnamed leaves by what consumes them: ``rule(leaf, consumer_nodes, incoming) -> name``.

    Ops on data that needs no gradient are not recorded, so the leaf drawn for an input is often a
    reshaped or unbound copy of the tensor passed in; its consumers say what it is.
    """
    consumers: dict = {}
    for e in g.edges:
        consumers.setdefault(e.src, []).append(g.nodes[e.dst])
    inc = g.incoming()
    for n in list(g.nodes.values()):
        if n.kind in ("const", "input", "cut"):
            label = rule(n, consumers.get(n.id, []), inc)
            if label:
                n.label = f"{label}\n{_shape(n.shape)}"
    return g


def name_outputs(g: Graph, *names: str) -> Graph:
    for oid, name in zip(g.outputs, names):
        g.nodes[oid].label = f"{name}\n{_shape(g.nodes[oid].shape)}"
    return g


def name_notes_leaves(g: Graph, output: str = "C") -> Graph:
    """Name the inputs of the notes' models by what consumes them, and draw each inside its step.

    x_t feeds a product with w^(x); the zero initial state a₀ (o₀) one with w^(a) (w^(y)); the target y_t
    the subtraction of the squared error. The single output is the cost C.
    """

    def rule(n: Node, consumers: list, inc: dict) -> str | None:
        if len(consumers) != 1 or consumers[0].kind != "op":
            return None
        dst = consumers[0]
        k = (step_of(dst.scope) or "t=")[2:].translate(SUB)
        others = {g.nodes[e.src].name for e in inc[dst.id] if g.nodes[e.src].kind == "param"}
        label = (
            "x" + k
            if "w^(x)" in others
            else "a₀ = 0"
            if "w^(a)" in others
            else "o₀ = 0"
            if "w^(y)" in others
            else f"y{k} (target)"
            if dst.op == "Sub"
            else None
        )
        if label:
            n.scope = dst.scope  # drawn inside the step that reads it, as in the notes
        return label

    return name_outputs(name_leaves(g, rule), output)


def name_layer_leaves(g: Graph, lstm: bool = False, where: bool = False) -> Graph:
    """Name the leaves of an ``nn.RNN``/``LSTM``/``GRU`` graph (op level): the input sequence x₁…x_T feeds
    the input projection; the initial state feeds the first step of each layer and direction (``where``:
    say which)."""

    def rule(n: Node, consumers: list, inc: dict) -> str | None:
        steps = [c for c in consumers if step_of(c.scope)]
        if not steps:
            return f"x₁…x{str(n.shape[0]).translate(SUB)}" if consumers and consumers[0].op == "MatMul" else None
        who = ("a^(h)₀" if steps[0].op == "MatMul" else "a^(c)₀") if lstm else "a₀"
        label = f"{who} (detached)" if n.kind == "cut" else f"{who} = 0"
        return label + (f"\n{steps[0].scope[-2]}" if where and len(steps[0].scope) >= 2 else "")

    return name_leaves(g, rule)


def prepared(
    *outputs: tg.Tensor, namer: Callable[[Graph], Any], detail: str = "op", params: Any = None, copies: bool = False
) -> Graph:
    """:func:`graph` with the leaves named at op level before the steps are collapsed into cells."""
    g = build_graph(*outputs, params=params, copies=copies)
    namer(g)
    return collapse_cells(g) if detail == "cell" else g


def figure(name: str, title: str, caption: str, g: Graph, highlight: str | None = None, rankdir: str = "LR") -> Figure:
    """A figure of a prepared graph; ``highlight``: draw the gradient path to that parameter in red and
    append the weights it uses (with their copies) to the caption."""
    path = gradient_path(g, highlight) if highlight else None
    if path is not None:
        caption = f"{caption} {path.summary()}."
    return Figure(name, title, caption, to_dot_text(g, path, title=title, rankdir=rankdir))


# ---- the figures -----------------------------------------------------------------------------------------
def seed_graphs() -> list:
    """The three computational graphs of notes 003 with named leaves."""
    rng = np.random.default_rng(0)

    def t(*shape: int, grad: bool = True) -> tg.Tensor:
        return tg.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=grad)

    figs = []
    x, y = t(3), t(3)
    z = x @ y
    g = name_tensors(graph(z), {"x": x, "y": y, "z": z})
    figs.append(figure("seed_z_xy", "z = x·y", "`z = x·y`: the dot product of two vectors, one op node.", g))

    x, W, b = t(3, grad=False), nn.Parameter(t(3, 2).data), nn.Parameter(t(2).data)
    out = (x @ W + b).sigmoid()
    g = name_tensors(graph(out, params={"W": W, "b": b}), {"x": x, "y": out})
    figs.append(
        figure(
            "seed_sigmoid", "y = σ(xᵀW + b)", "`y = σ(xᵀW + b)`: a single sigmoid unit layer, parameters W and b.", g
        )
    )

    X, W, b = t(4, 3, grad=False), nn.Parameter(t(3, 2).data), nn.Parameter(t(2).data)
    H = (X @ W + b).relu()
    g = name_tensors(graph(H, params={"W": W, "b": b}), {"X": X, "H": H})
    figs.append(
        figure(
            "seed_relu",
            "H = max{0, XW + b}",
            "`H = max{0, XW + b}`: a ReLU layer on a batch X of 4 examples (relu = max{0, ·}).",
            g,
        )
    )
    return figs


def notes_rnn() -> list:
    """The notes' vanilla RNN unfolded for T = 3, plus the ∂C/∂w^(x) gradient-path variants."""
    figs = []
    for per_step, stem, what in (
        (False, "rnn_unfolded_T3", "one output o = w^(o)·a₃ + b^(o) at the end"),
        (True, "rnn_per_step_T3", "an output o_t at every step"),
    ):
        for copies in (False, True):
            loss, params = vanilla_rnn(T=3, output_per_step=per_step, seed=0)
            g = name_notes_leaves(graph(loss, params=params, copies=copies))
            if copies:
                title = f"∂C/∂w^(x): the weights used in one BPTT step (vanilla RNN, T = 3, {what})"
                caption = (
                    f"Unfolded vanilla RNN ({what}) with one copy of each weight per step; red: the "
                    "gradient path to w^(x)."
                )
                figs.append(figure(stem + "_wx", title, caption, g, highlight="w^(x)"))
            else:
                title = f"vanilla RNN unfolded, T = 3, {what}: a_t = tanh(w^(x)·x_t + w^(a)·a_(t-1) + b^(a))"
                caption = (
                    f"The notes' vanilla RNN unfolded for T = 3 with {what}; each weight is one shared "
                    "node with an edge into every step; blue: the recurrent edges a_(t-1) → a_t."
                )
                figs.append(figure(stem, title, caption, g))
    return figs


def notes_output_recurrent() -> list:
    loss, params = output_recurrent_rnn(T=3, seed=0)
    g = name_notes_leaves(graph(loss, params=params))
    title = "output-recurrent RNN, T = 3: a_t = tanh(w^(x)·x_t + w^(y)·o_(t-1) + b^(a)), o_t = w^(o)·a_t + b^(o)"
    caption = (
        "The notes' second model: the recurrence runs from the output o_(t-1) to the next hidden "
        "unit (through w^(y)), not from hidden to hidden."
    )
    return [figure("rnn_output_recurrent_T3", title, caption, g)]


def cells() -> list:
    tg.manual_seed(0)
    rng = np.random.default_rng(1)
    figs = []
    lstm = nn.LSTMCell(2, 2)
    x, h, c = (tg.tensor(rng.standard_normal((1, 2)).astype(np.float32)) for _ in range(3))
    with tg.scope("LSTMCell"):
        h1, c1 = lstm(x, (h, c))
    g = name_tensors(
        graph(h1, c1, params=lstm), {"x_t": x, "a^(h)_(t-1)": h, "a^(c)_(t-1)": c, "a^(h)_t": h1, "a^(c)_t": c1}
    )
    figs.append(
        figure(
            "lstm_cell",
            "one LSTM step: gates i, f, g, o; a^(c)_t = a^(f)·a^(c)_(t-1) + a^(i)·a^(g), a^(h)_t = a^(o)·tanh(a^(c)_t)",
            "One step of `nn.LSTMCell(2, 2)` at op detail: one matmul per weight, the split into the gates "
            "i, f, g, o (#0-#3), the cell update and the new hidden state.",
            g,
        )
    )

    gru = nn.GRUCell(2, 2, reset_after=False)
    x, h = (tg.tensor(rng.standard_normal((1, 2)).astype(np.float32)) for _ in range(2))
    with tg.scope("GRUCell"):
        h1 = gru(x, h)
    g = name_tensors(graph(h1, params=gru), {"x_t": x, "a_(t-1)": h, "a_t": h1})
    figs.append(
        figure(
            "gru_cell",
            "one GRU step (the notes' formula, reset_after=False): gates r, z, candidate g",
            "One step of `nn.GRUCell(2, 2, reset_after=False)`: the reset gate r scales a_(t-1) before the "
            "candidate's matmul (weight_hh[4:]ᵀ), and a_t = g + z·(a_(t-1) - g).",
            g,
        )
    )
    return figs


def composed() -> Any:
    """Run the sequence layers op by op (one cluster per time step) even where they default to a fused
    sequence op, which the tape records as a single node per layer and direction."""
    use_fused = getattr(nn, "use_fused", None)
    return use_fused(False) if use_fused is not None else contextlib.nullcontext()


def _sequence(model: nn.Module, T: int, input_size: int = 1, seed: int = 0) -> tuple:
    """Run ``model`` on a (T, 1, input_size) sequence; returns (output, final state)."""
    rng = np.random.default_rng(seed)
    x = tg.tensor(rng.standard_normal((T, 1, input_size)).astype(np.float32))
    with composed():
        return model(x)


def layers() -> list:
    figs = []
    tg.manual_seed(0)
    rnn = nn.RNN(1, 2, num_layers=2)
    for detail, rankdir in (("cell", "LR"), ("op", "TB")):
        out, _ = _sequence(rnn, 3)
        loss = (out[-1] ** 2).sum()
        g = prepared(
            loss, namer=lambda g: name_layer_leaves(name_outputs(g, "C"), where=True), detail=detail, params=rnn
        )
        what = (
            "each time step of each layer collapsed into one cell box"
            if detail == "cell"
            else "every op, top to bottom; each layer projects all 3 inputs with one matmul before its time loop"
        )
        figs.append(
            figure(
                f"rnn_2layer_T3_{detail}",
                f"nn.RNN(1, 2, num_layers=2), T = 3, detail='{detail}'",
                f"A 2-layer `nn.RNN` over 3 steps, C = (last output)²: {what}; layer 1 reads layer 0's outputs.",
                g,
                rankdir=rankdir,
            )
        )

    tg.manual_seed(0)
    birnn = nn.RNN(1, 2, bidirectional=True)
    out, _ = _sequence(birnn, 3)
    loss = (out[-1] ** 2).sum()
    g = prepared(loss, namer=lambda g: name_layer_leaves(name_outputs(g, "C"), where=True), detail="cell", params=birnn)
    figs.append(
        figure(
            "rnn_bidirectional_T3_cell",
            "nn.RNN(1, 2, bidirectional=True), T = 3, detail='cell'",
            "A bidirectional `nn.RNN`: the forward direction runs t = 1 → 3, the reverse one t = 3 → 1, "
            "and their outputs are concatenated.",
            g,
        )
    )

    tg.manual_seed(0)
    lstm = nn.LSTM(1, 2)
    _, (h_n, _) = _sequence(lstm, 30)
    loss = (h_n**2).sum()
    g = prepared(loss, namer=lambda g: name_layer_leaves(name_outputs(g, "C"), lstm=True), detail="cell", params=lstm)
    n_op = len(graph(loss, params=lstm).nodes)
    figs.append(
        figure(
            "lstm_T30_cell",
            "nn.LSTM(1, 2) unrolled over T = 30, detail='cell', C = |h_T|²",
            "An `nn.LSTM` over 30 steps at cell detail (sequence-to-one, C = |h_T|²): one box per step, "
            f"the (h, c) recurrence in blue; {len(g.nodes)} nodes instead of {n_op} at op detail.",
            g,
            rankdir="TB",
        )
    )
    return figs


def tbptt() -> list:
    """Two windows of 3 steps; the state leaving window 1 is detached, so window 2's loss stops there."""
    tg.manual_seed(0)
    rnn = nn.RNN(1, 2)
    rng = np.random.default_rng(0)
    xs = tg.tensor(rng.standard_normal((6, 1, 1)).astype(np.float32))
    state, losses = None, []
    for w, (xw,) in enumerate(nn.utils.windows(xs, k=3)):
        with tg.scope(f"window {w + 1} (steps {3 * w + 1}-{3 * w + 3})"), composed():
            out, state = rnn(xw, state)
            losses.append((out[-1] ** 2).sum())
        state = nn.utils.detach_state(state)  # the values carry over, the tape does not
    g = prepared(losses[1], namer=lambda g: name_layer_leaves(name_outputs(g, "C₂")), params=rnn)
    for n in g.nodes.values():
        if n.kind == "cut":
            n.label = n.label.replace("a₀", "a₃")
    return [
        figure(
            "tbptt_window2",
            "truncated BPTT, k = 3: the loss of window 2 (steps 4-6)",
            "Truncated BPTT with windows of 3 steps: window 2's loss C₂ reaches back only to the detached "
            "state a₃ (dashed ⊣ edge), never into window 1.",
            g,
        )
    ]


def spring() -> list:
    """Notes 003: m s'' = -k s + A cos t, Euler's method with step size h, over 3 steps."""
    vals = {"k": 2.0, "m": 1.0, "h": 0.1, "A": 0.5}
    p = {k: nn.Parameter(np.array(v, dtype=np.float32)) for k, v in vals.items()}
    s0, v0 = tg.tensor(1.0), tg.tensor(0.0)
    s, v = s0, v0
    cos = []
    for t in range(1, 4):
        with tg.scope(f"t={t}"):
            c = tg.tensor(np.float32(np.cos(t - 1)))
            cos.append(c)
            s, v = s + p["h"] * v, v + p["h"] * (p["A"] / p["m"] * c - p["k"] / p["m"] * s)
    g = graph(s, v, params=p)
    name_tensors(g, {"s₀": s0, "v₀": v0, "s₃": s, "v₃": v})
    name_tensors(g, {f"cos({t})": c for t, c in enumerate(cos)})
    for e in g.edges:  # draw each cos(t) inside its step
        src = g.nodes[e.src]
        if src.label.startswith("cos("):
            src.scope = g.nodes[e.dst].scope
    return [
        figure(
            "spring_euler_T3",
            "Euler's method for m s'' = -k s + A cos t: s_(t+1) = s_t + h v_t, v_(t+1) = v_t + h (A/m cos t - k/m s_t)",
            "The spring of notes 003 integrated by Euler's method over 3 steps: a recurrence with "
            "parameters k, m, A and step size h shared by every step.",
            g,
        )
    ]


# ---- beyond the chain: trees, attention, transformers ----------------------------------------------------
BUILDERS: list = [
    seed_graphs,
    notes_rnn,
    notes_output_recurrent,
    cells,
    layers,
    tbptt,
    spring,
]


def figures() -> list:
    """Every gallery figure (DOT text only: needs no Graphviz)."""
    tg.set_default_dtype("float32")
    tg.manual_seed(0)
    from viz import gallery_models  # the model figures build on the helpers above

    out: list = []
    for make in BUILDERS + gallery_models.BUILDERS:
        out.extend(make())
    return out


def write_index(figs: list, out_dir: str, fmt: str) -> str:
    lines = [
        "# Gallery",
        "",
        "The lecture notes' figures drawn from real forward passes by `python -m viz.gallery` "
        "(`make gallery`). Orange: parameters; grey ellipses: ops; purple boxes: collapsed time steps; "
        "blue edges: the recurrence; red: the gradient path to the highlighted weight.",
        "",
    ]
    for f in figs:
        lines += [f"## {f.title}", "", f"![{f.name}]({f.name}.{fmt})", "", f.caption, ""]
    path = os.path.join(out_dir, "index.md")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    return path


def build(out_dir: str = DEFAULT_OUT, fmt: str = "svg", echo: Callable[[str], Any] | None = None) -> list:
    """Render every figure into ``out_dir``; returns the paths written (the figures, then index.md)."""
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"gallery: format must be 'svg', 'png' or 'pdf', got {fmt!r}")
    figs = figures()
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for f in figs:
        data = render(f.dot, format=fmt).pipe(format=fmt)
        path = os.path.join(out_dir, f"{f.name}.{fmt}")
        with open(path, "wb") as fh:
            fh.write(data)
        written.append(path)
        if echo:
            echo(os.path.relpath(path))
    written.append(write_index(figs, out_dir, fmt))
    if echo:
        echo(os.path.relpath(written[-1]))
    return written


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m viz.gallery", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: viz/gallery next to this file)")
    ap.add_argument("--format", default="svg", choices=["svg", "png", "pdf"], help="image format (default: svg)")
    args = ap.parse_args(argv)
    try:
        build(args.out, args.format, echo=print)
    except GraphvizMissing as e:
        print(f"viz.gallery: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
