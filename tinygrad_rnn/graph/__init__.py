"""Draw what you computed: the computational graph, the unfolded BPTT graph, gradient paths.

``to_dot`` returns DOT text and needs nothing installed; ``draw`` renders it through the ``graphviz``
package and the ``dot`` binary (SVG/PNG/PDF) and returns a ``graphviz.Source``, which Jupyter shows
inline. The recurrent layers record a scope per layer, direction and time step while they run, so an
unfolded network is drawn as clusters ``t = 1 … T``; ``detail="cell"`` collapses each step into one box.
Parameters are named by the module path they were registered under (``state_dict`` keys), or by ``params=``.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from ..tape import scope
from ..tensor import Tensor
from .dot import escape, to_dot_text
from .model import Edge, Graph, Node, build, collapse_cells, step_of
from .paths import GradientPath, gradient_path

INSTALL_HINT = (
    "install Graphviz's `dot` program: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), or `conda install -c conda-forge graphviz`"
)


class GraphvizMissing(RuntimeError):
    """Rendering needs the Graphviz `dot` binary (the DOT file was written anyway)."""


def graph(
    *outputs: Tensor, detail: str = "op", params: Any = None, copies: bool = False, max_nodes: int = 2000
) -> Graph:
    """The :class:`Graph` model behind ``outputs`` at the given level of detail ('op' or 'cell')."""
    if detail not in ("op", "cell"):
        raise ValueError(f"graph: detail must be 'op' or 'cell', got {detail!r}")
    g = build(*outputs, params=params, copies=copies, max_nodes=max_nodes if detail == "op" else 10 * max_nodes)
    if detail == "cell":
        g = collapse_cells(g)
    n = len(g.nodes)
    if n > max_nodes:
        raise ValueError(
            f"graph: {n} nodes exceed max_nodes={max_nodes}; use detail='cell', fewer time "
            "steps or a smaller model, or pass a larger max_nodes"
        )
    return g


def to_dot(
    *outputs: Tensor,
    detail: str = "op",
    highlight: Any = None,
    params: Any = None,
    copies: bool = False,
    show_values: bool = False,
    show_grad: bool = False,
    legend: bool = True,
    title: str | None = None,
    rankdir: str = "LR",
    max_nodes: int = 2000,
) -> str:
    """DOT text of the graph behind ``outputs``.

    ``highlight``: a parameter (tensor or name) whose gradient path is drawn in red. ``params``: a Module
    or {name: tensor} naming parameters; without it a parameter that a live Module holds is named by its
    ``state_dict`` key in the outermost module holding it (``encoder.rnn.weight_hh_l0``; a tied weight
    shows each of its names), others by shape. ``copies``: one copy of each shared weight per time step.
    ``show_values`` / ``show_grad``: print (a few) values and ``.grad`` of leaves and outputs.
    """
    g = graph(*outputs, detail=detail, params=params, copies=copies, max_nodes=max_nodes)
    path = gradient_path(g, highlight) if highlight is not None else None
    return to_dot_text(
        g, path, show_values=show_values, show_grad=show_grad, legend=legend, title=title, rankdir=rankdir
    )


def draw(
    *outputs: Tensor,
    path: str | os.PathLike | None = None,
    format: str = "svg",  # noqa: A002
    **options: Any,
) -> Any:
    """Render with Graphviz; returns a ``graphviz.Source`` (shown inline by Jupyter).

    With ``path`` (a file name without extension) the DOT text is written to ``path + '.dot'`` and the
    drawing to ``path + '.' + format``. Without the `dot` binary the .dot file is still written and
    :class:`GraphvizMissing` says how to install Graphviz.
    """
    text = to_dot(*outputs, **options)
    return render(text, path=path, format=format)


def _without(ext: str, path: str) -> str:
    return path[: -len(ext)] if path.endswith(ext) else path


def render(text: str, path: str | os.PathLike | None = None, format: str = "svg") -> Any:  # noqa: A002
    """Render DOT text (see :func:`draw`)."""
    if format not in ("svg", "png", "pdf"):
        raise ValueError(f"draw: format must be 'svg', 'png' or 'pdf', got {format!r}")
    base = None if path is None else _without("." + format, os.fspath(path))
    if base is not None:
        os.makedirs(os.path.dirname(os.path.abspath(base)) or ".", exist_ok=True)
        with open(base + ".dot", "w", encoding="utf-8") as f:
            f.write(text)
    try:
        import graphviz  # noqa: PLC0415  (optional: the `viz` extra)
    except ImportError:
        raise GraphvizMissing(
            "draw: the `graphviz` Python package is missing (pip install 'tinygrad_rnn[viz]')"
            + (f"; the DOT text was written to {base}.dot" if base else "")
        ) from None
    if shutil.which("dot") is None:
        raise GraphvizMissing(
            "draw: the Graphviz `dot` program was not found on PATH; "
            + INSTALL_HINT
            + (f". The DOT text was written to {base}.dot" if base else "")
        )
    src = graphviz.Source(text, format=format)
    if base is not None:
        out = src.pipe(format=format)
        with open(f"{base}.{format}", "wb") as f:
            f.write(out)
    return src


def save(text: str, out: str | os.PathLike, format: str = "svg") -> list[str]:  # noqa: A002
    """Write DOT ``text`` to the file ``out`` as a drawing; returns the paths written, the drawing first.

    ``format='dot'`` writes the DOT text itself (``.dot`` is added to ``out`` when missing) and needs
    nothing installed. ``svg``/``png``/``pdf`` render through Graphviz (:func:`render`) to ``out`` (with
    or without the extension) and write the DOT text next to it as ``.dot``; without Graphviz the .dot
    file is still written and :class:`GraphvizMissing` is raised. Missing folders are created.
    """
    if format not in ("svg", "png", "pdf", "dot"):
        raise ValueError(f"save: format must be 'svg', 'png', 'pdf' or 'dot', got {format!r}")
    path = os.fspath(out)
    if format != "dot":
        base = _without("." + format, path)
        render(text, path=base, format=format)
        return [f"{base}.{format}", f"{base}.dot"]
    path = _without(".dot", path) + ".dot"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return [path]


def saved_line(paths: list[str]) -> str:
    """The line a command prints after :func:`save`: ``wrote lstm.svg (and lstm.dot)``."""
    return f"wrote {paths[0]}" + "".join(f" (and {p})" for p in paths[1:])


__all__ = [
    "to_dot",
    "draw",
    "render",
    "save",
    "saved_line",
    "graph",
    "build",
    "collapse_cells",
    "gradient_path",
    "GradientPath",
    "Graph",
    "Node",
    "Edge",
    "scope",
    "escape",
    "step_of",
    "GraphvizMissing",
]
