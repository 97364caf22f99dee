"""DOT text for a :class:`~.model.Graph`: clusters per scope, a colour per node kind, a legend. No dependency."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import to_numpy
from .model import Graph
from .paths import GradientPath

STYLE = {  # kind -> DOT node attributes
    "op": 'shape=ellipse style=filled fillcolor="#eeeeee" color="#666666"',
    "cell": 'shape=box3d style=filled fillcolor="#e8e0f4" color="#6a51a3"',
    "param": 'shape=box style="filled,rounded" fillcolor="#fdd49e" color="#d94801"',
    "input": 'shape=box style=filled fillcolor="#c6dbef" color="#2171b5"',
    "const": 'shape=box style="filled,dotted" fillcolor="#f7f7f7" color="#969696"',
    "cut": 'shape=box style="filled,dashed" fillcolor="#fee0d2" color="#cb181d"',
    "output": 'shape=doubleoctagon style=filled fillcolor="#c7e9c0" color="#238b45"',
}
LEGEND = [
    ("param", "parameter"),
    ("input", "input (requires grad)"),
    ("const", "constant input"),
    ("op", "op"),
    ("cell", "cell step (collapsed)"),
    ("cut", "detached state (✂ BPTT cut)"),
    ("output", "output"),
]
HIGHLIGHT = "#e31a1c"
RECURRENT = "#08519c"


def escape(text: str) -> str:
    """A DOT double-quoted string body: backslashes, quotes and newlines escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _values(t: Any, what: str, limit: int = 6) -> str:
    if t is None:
        return ""
    a = to_numpy(t.array if hasattr(t, "data") else t)
    if a.size > limit:
        flat = np.array2string(a.ravel()[:limit], precision=3, separator=", ")[:-1] + ", …]"
    else:
        flat = np.array2string(a, precision=3, separator=", ").replace("\n", "")
    return f"\n{what}={flat}"


def to_dot_text(
    g: Graph,
    path: GradientPath | None = None,
    show_values: bool = False,
    show_grad: bool = False,
    legend: bool = True,
    title: str | None = None,
    rankdir: str = "LR",
) -> str:
    lines = [
        "digraph tinygrad_rnn {",
        f'  graph [rankdir={rankdir} fontname="Helvetica" fontsize=11 newrank=true compound=true'
        + (f' label="{escape(title)}" labelloc=t' if title else "")
        + "];",
        '  node [fontname="Helvetica" fontsize=10];',
        '  edge [fontname="Helvetica" fontsize=8 color="#555555"];',
    ]
    on_nodes = path.nodes if path else set()
    on_edges = path.edges if path else set()

    def node_line(n: Any, indent: str) -> str:
        label = n.label
        if show_values and n.tensor is not None:
            label += _values(n.tensor, "value")
        if show_grad and n.tensor is not None and getattr(n.tensor, "grad", None) is not None:
            label += _values(n.tensor.grad, "grad")
        style = STYLE[n.kind]
        if n.id in on_nodes:  # the gradient path: red outline instead of the kind's colour
            style = style[: style.index(" color=")] + f' color="{HIGHLIGHT}" penwidth=2.5'
        return f'{indent}{n.id} [label="{escape(label)}" {style}];'

    # clusters: a tree of scopes, emitted in order of first appearance
    tree: dict = {(): {"nodes": [], "children": []}}
    for n in g.nodes.values():
        scope = tuple(n.scope)
        for i in range(1, len(scope) + 1):
            if scope[:i] not in tree:
                tree[scope[:i]] = {"nodes": [], "children": []}
                tree[scope[: i - 1]]["children"].append(scope[:i])
        tree[scope]["nodes"].append(n)
    counter = [0]

    def emit(scope: tuple, depth: int) -> None:
        indent = "  " * depth
        if scope:
            counter[0] += 1
            label = scope[-1].replace("t=", "t = ")
            lines.append(f"{indent}subgraph cluster_{counter[0]} {{")
            lines.append(f'{indent}  label="{escape(label)}" style="rounded" color="#9e9ac8" fontcolor="#54278f";')
        for n in tree[scope]["nodes"]:
            lines.append(node_line(n, indent + ("  " if scope else "")))
        for child in tree[scope]["children"]:
            emit(child, depth + 1)
        if scope:
            lines.append(f"{indent}}}")

    emit((), 1)
    for e in g.edges:
        attrs = [f'label="{escape(e.label)}"'] if e.label else []
        if (e.src, e.dst) in on_edges:
            attrs.append(f'color="{HIGHLIGHT}" penwidth=2.5')
        elif e.recurrent:
            attrs.append(f'color="{RECURRENT}" penwidth=2 style=bold')
        if g.nodes[e.src].kind == "cut":
            attrs.append("style=dashed arrowhead=tee")
        lines.append(f"  {e.src} -> {e.dst} [{' '.join(attrs)}];")
    if legend:
        kinds = {n.kind for n in g.nodes.values()}
        lines.append("  subgraph cluster_legend {")
        lines.append('    label="legend" style="rounded,dashed" color="#bdbdbd" fontcolor="#737373";')
        shown = [(k, text) for k, text in LEGEND if k in kinds]
        for k, text in shown:
            lines.append(f'    legend_{k} [label="{escape(text)}" {STYLE[k]}];')
        extras = []
        if any(e.recurrent for e in g.edges):
            extras.append(("recurrent edge a(t-1) → a(t)", RECURRENT))
        if path:
            extras.append((f"gradient path to {path.weight}", HIGHLIGHT))
        for i, (text, color) in enumerate(extras):
            lines.append(f'    legend_e{i}a [label="" shape=point]; legend_e{i}b [label="{escape(text)}" shape=plain];')
            lines.append(f'    legend_e{i}a -> legend_e{i}b [color="{color}" penwidth=2.5];')
        for (a, _), (b, _) in zip(shown, shown[1:]):
            lines.append(f"    legend_{a} -> legend_{b} [style=invis];")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
