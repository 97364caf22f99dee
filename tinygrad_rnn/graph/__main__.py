"""Command line: draw a recurrent model's unfolded computational graph to a file.

    python -m tinygrad_rnn.graph --model lstm --steps 3 --detail op --out lstm.svg
    python -m tinygrad_rnn.graph --model notes-rnn --highlight 'w^(x)' --copies --out wx.png --format png
    python -m tinygrad_rnn.graph --model gru --layers 2 --bidirectional --detail cell --format dot --out -

Exit status: 0 on success, 1 when the model cannot be drawn as asked (an unknown --highlight name, too
many nodes), 2 for a usage error or when Graphviz's `dot` program is missing (the .dot file is still
written; ``--format dot`` never needs Graphviz).
"""

from __future__ import annotations

import argparse
import contextlib
import sys

import numpy as np

from .. import nn
from ..tape import scope
from ..tensor import Tensor
from . import GraphvizMissing, gradient_path, graph, save, saved_line
from .dot import to_dot_text

MODELS = ("rnn", "lstm", "gru", "notes-rnn")
FORMATS = ("svg", "png", "pdf", "dot")


def notes_rnn(T: int, hidden: int, features: int, output_per_step: bool, rng: np.random.Generator) -> tuple:
    """The notes' vanilla RNN in their notation: a_t = tanh(w^(x)·x_t + w^(a)·a_(t-1) + b^(a)), one output
    o = w^(o)·a_T + b^(o) (or o_t at every step), C = squared error. Returns (C, {name: parameter})."""

    def param(*shape: int) -> nn.Parameter:
        return nn.Parameter((rng.standard_normal(shape) * 0.5).astype(np.float32))

    params = {
        "w^(x)": param(features, hidden),
        "w^(a)": param(hidden, hidden),
        "b^(a)": param(hidden),
        "w^(o)": param(hidden, 1),
        "b^(o)": param(1),
    }
    a = Tensor(np.zeros((1, hidden), np.float32))
    loss = None
    for t in range(1, T + 1):
        with scope(f"t={t}"):
            x = Tensor(rng.standard_normal((1, features)).astype(np.float32))
            a = (x @ params["w^(x)"] + a @ params["w^(a)"] + params["b^(a)"]).tanh()
            if output_per_step or t == T:
                y = Tensor(rng.standard_normal((1, 1)).astype(np.float32))
                o = a @ params["w^(o)"] + params["b^(o)"]
                term = ((o - y) ** 2).sum()
                loss = term if loss is None else loss + term
    return loss, params


def layer_model(
    kind: str,
    T: int,
    hidden: int,
    features: int,
    layers: int,
    bidirectional: bool,
    output_per_step: bool,
    rng: np.random.Generator,
) -> tuple:
    """An ``nn.RNN``/``LSTM``/``GRU`` with a linear head ``head`` on a (T, 1, features) sequence; the cost is
    the squared error of the last output (or of every output). Returns (C, {name: parameter})."""
    cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
    layer = cls(features, hidden, num_layers=layers, bidirectional=bidirectional)
    head = nn.Linear(hidden * (2 if bidirectional else 1), 1)
    x = Tensor(rng.standard_normal((T, 1, features)).astype(np.float32))
    y = Tensor(rng.standard_normal((T, 1, 1)).astype(np.float32))
    use_fused = getattr(nn, "use_fused", None)  # draw the per-step ops, not a fused sequence op
    with use_fused(False) if use_fused is not None else contextlib.nullcontext():
        out, _ = layer(x)
    with scope("head"):
        if output_per_step:
            loss = ((head(out) - y) ** 2).sum()
        else:
            loss = ((head(out[-1]) - y[-1]) ** 2).sum()
    params = dict(layer.named_parameters())
    params.update({f"head.{k}": v for k, v in head.named_parameters()})
    return loss, params


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m tinygrad_rnn.graph",
        description="Draw the unfolded computational graph of a small recurrent model (one forward pass on a\n"
        "random sequence, cost C = squared error) with Graphviz, or write its DOT text.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m = ap.add_argument_group("model")
    m.add_argument(
        "--model",
        choices=MODELS,
        default="rnn",
        help="nn.RNN / nn.LSTM / nn.GRU with a linear head, or the lecture notes' vanilla RNN "
        "written with ops (parameters w^(x), w^(a), b^(a), w^(o), b^(o)); default: rnn",
    )
    m.add_argument("--steps", "-T", type=int, default=3, metavar="T", help="sequence length (default: 3)")
    m.add_argument(
        "--layers", type=int, default=1, metavar="N", help="stacked recurrent layers (nn models; default: 1)"
    )
    m.add_argument("--bidirectional", action="store_true", help="add a reverse direction (nn models)")
    m.add_argument("--hidden", type=int, default=2, metavar="H", help="hidden size (default: 2)")
    m.add_argument("--input-size", type=int, default=1, metavar="I", help="input features per step (default: 1)")
    m.add_argument(
        "--output-per-step",
        action="store_true",
        help="an output and a cost term at every step instead of one output at the end",
    )
    m.add_argument("--seed", type=int, default=0, help="seed for parameters and data (default: 0)")
    d = ap.add_argument_group("drawing")
    d.add_argument(
        "--detail",
        choices=("op", "cell"),
        default="op",
        help="'op': every op; 'cell': one box per layer, direction and time step (default: op)",
    )
    d.add_argument(
        "--highlight",
        metavar="NAME",
        help="a parameter name (e.g. weight_ih_l0, head.weight, 'w^(x)'): draw the gradient path "
        "from it to the cost in red and print which weights (and copies) ∂C/∂NAME uses",
    )
    d.add_argument(
        "--copies",
        action="store_true",
        help="one copy of each shared weight per time step, as the notes draw the unfolded network",
    )
    d.add_argument("--list-params", action="store_true", help="print the model's parameter names and exit")
    d.add_argument("--title", help="title drawn above the graph (default: a description of the model)")
    d.add_argument("--rankdir", choices=("LR", "TB"), default="LR", help="layout direction (default: LR)")
    d.add_argument("--max-nodes", type=int, default=2000, metavar="N", help="refuse larger graphs (default: 2000)")
    o = ap.add_argument_group("output")
    o.add_argument(
        "--format",
        choices=FORMATS,
        default="svg",
        help="svg, png, pdf (need Graphviz's `dot` program) or dot (DOT text, needs nothing); default: svg",
    )
    o.add_argument(
        "--out",
        metavar="PATH",
        help="output file (default: MODEL_T<steps>.FORMAT); for svg/png/pdf the DOT text is also "
        "written next to it as .dot; '-' writes DOT text to stdout",
    )
    return ap


def _describe(a: argparse.Namespace) -> str:
    if a.model == "notes-rnn":
        what = "the notes' vanilla RNN"
    else:
        extra = (f", num_layers={a.layers}" if a.layers > 1 else "") + (
            ", bidirectional=True" if a.bidirectional else ""
        )
        what = f"nn.{a.model.upper()}({a.input_size}, {a.hidden}{extra}) + linear head"
    return (
        f"{what}, T = {a.steps}, "
        + ("an output per step" if a.output_per_step else "one output at the end")
        + (f", detail='{a.detail}'" if a.detail != "op" else "")
    )


def main(argv: list | None = None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    for what in ("steps", "layers", "hidden", "input_size", "max_nodes"):
        if getattr(a, what) < 1:
            ap.error(f"--{what.replace('_', '-')} must be a positive integer, got {getattr(a, what)}")
    if a.model == "notes-rnn" and (a.layers != 1 or a.bidirectional):
        ap.error("--layers and --bidirectional apply to the nn models (rnn, lstm, gru), not notes-rnn")
    if a.out == "-" and a.format != "dot":
        ap.error("--out - (stdout) needs --format dot")

    from .. import backend  # noqa: PLC0415

    backend.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    if a.model == "notes-rnn":
        loss, params = notes_rnn(a.steps, a.hidden, a.input_size, a.output_per_step, rng)
    else:
        loss, params = layer_model(
            a.model, a.steps, a.hidden, a.input_size, a.layers, a.bidirectional, a.output_per_step, rng
        )
    if a.list_params:
        for name, p in params.items():
            print(f"{name}  {tuple(p.shape)}")
        return 0

    prog = ap.prog
    try:
        g = graph(loss, detail=a.detail, params=params, copies=a.copies, max_nodes=a.max_nodes)
        path = gradient_path(g, a.highlight) if a.highlight else None
    except ValueError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    if path is not None:
        print(path.summary())
    text = to_dot_text(g, path, title=a.title if a.title is not None else _describe(a), rankdir=a.rankdir)

    if a.out == "-":
        sys.stdout.write(text)
        return 0
    try:
        written = save(text, a.out or f"{a.model.replace('-', '_')}_T{a.steps}.{a.format}", a.format)
    except GraphvizMissing as e:
        print(f"{prog}: {e}", file=sys.stderr)
        print(f"{prog}: --format dot writes the DOT text without Graphviz", file=sys.stderr)
        return 2
    print(saved_line(written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
