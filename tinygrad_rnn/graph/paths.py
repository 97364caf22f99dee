"""Gradient paths: through which nodes and edges does the loss gradient reach a given weight?

Answers the notes' question "which weights (including copies of the same weight) are used in one BPTT
step when computing ∂C/∂w^(x)?". A node is on the path when it depends on the weight (it is reached
from the weight's node going forward); every such node also reaches the outputs, because the graph
holds only what the outputs were computed from. A copy of a weight W at step t is *used* when

* W is the weight asked about and an op at step t consumes it (∂op/∂W is a factor of the gradient), or
* an op at step t on the path multiplies an on-path quantity by W (a product's derivative with respect
  to one factor is the other factor, so W appears in a Jacobian such as ∂a_t/∂a_{t-1} or ∂o/∂a_T);
  an op says it is such a product by its class attribute ``multiplies_inputs`` (matmul, mul, div, pow).

Use is structural: the copy of w^(a) at t = 1 counts for ∂C/∂w^(a) even though it multiplies a_0 = 0.
Ops in which a weight only selects a branch (maximum, minimum, where, clip) do not use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import Graph, step_of


@dataclass
class GradientPath:
    weight: str
    nodes: set  # node ids on the path (the weight's nodes included)
    edges: set  # (src, dst) pairs on the path
    copies: dict  # weight name -> sorted list of step labels ('t=1', ...; '' outside any step)

    def count(self, name: str) -> int:
        return len(self.copies.get(name, []))

    def summary(self) -> str:
        parts = [f"{k}: {len(v)} ({', '.join(s or 'shared' for s in v)})" for k, v in sorted(self.copies.items())]
        return f"∂C/∂{self.weight} uses " + "; ".join(parts)


def _step_order(label: str) -> tuple:
    return (0, int(label[2:])) if label.startswith("t=") and label[2:].isdigit() else (1, label)


def gradient_path(g: Graph, weight: Any) -> GradientPath:
    """Path from ``weight`` (a parameter name or tensor) to the outputs of graph ``g``."""
    if g.source is not None:  # collapsed cells: trace the ops inside them, then map the path onto the cells
        p = gradient_path(g.source, weight)
        cell = g.cell_of.get
        edges = {(cell(s, s), cell(d, d)) for s, d in p.edges if cell(s, s) != cell(d, d)}
        return GradientPath(p.weight, {cell(n, n) for n in p.nodes}, edges, p.copies)
    sources = [
        n
        for n in g.nodes.values()
        if n.kind == "param"
        and ((weight == n.name or weight in n.aliases) if isinstance(weight, str) else n.tensor is weight)
    ]
    if not sources:
        names = sorted({n.name for n in g.nodes.values() if n.kind == "param"})
        raise ValueError(
            f"gradient_path: {weight if isinstance(weight, str) else 'that tensor'} is not a "
            f"parameter of this graph; its parameters are {names}"
        )
    name = sources[0].name
    on = {n.id for n in sources}
    edges = set()
    inc = g.incoming()
    copies: dict = {}
    for nid, n in g.nodes.items():  # nodes are stored in creation order: a topological order
        if n.kind in ("param", "input", "const", "cut"):
            continue
        hits = [e for e in inc[nid] if e.src in on]
        if not hits:
            continue
        on.add(nid)
        edges.update((e.src, e.dst) for e in hits)
        if n.kind == "output":
            continue
        step = step_of(n.scope) or ""
        for e in inc[nid]:
            src = g.nodes[e.src]
            if src.kind != "param":
                continue
            uses = src.id in on or n.kind == "cell" or (n.op_type is not None and n.op_type.multiplies_inputs)
            if uses and (e.src not in on or src.name == name):
                copies.setdefault(src.name, set()).add(step)
    return GradientPath(name, on, edges, {k: sorted(v, key=_step_order) for k, v in copies.items()})
