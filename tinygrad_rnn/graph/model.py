"""The graph model: walk the tape behind some outputs into nodes and edges (no recursion).

Nodes are ops (one per tape node), leaves (inputs, parameters, constants, detached state) and outputs.
Ids are deterministic: ops are numbered in creation order, leaves in order of first use. Parameters
that are only transposed/reshaped/sliced before use (``W.T`` computed once per sequence) are folded
into one parameter node, so a shared weight shows as one node with an edge into every step using it;
``copies=True`` instead draws one copy per time step, as the lecture notes draw the unfolded network.

Nothing here knows an op by its name: each op class says how it is drawn through the class attributes
of :class:`~tinygrad_rnn.tape.Function` (``param_suffix``: folded into a parameter's node;
``label_params``: what its label prints; ``multiplies_inputs``: read by :mod:`.paths`). The label rules
go by a param's name and value for every op; array-valued params print as dtype and shape only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import backend
from ..modes import MODES
from ..nn.module import Parameter, registered_names
from ..tensor import Tensor
from ..views import parents

# the suffix of a matrix transpose, written as the notes write it
TRANSPOSE = (".permute(1, 0)", "ᵀ")


@dataclass
class Node:
    id: str
    kind: str  # op | param | input | const | cut | output | cell
    label: str
    scope: tuple = ()
    shape: tuple | None = None
    dtype: str | None = None
    op: str | None = None  # Function class name for op nodes
    op_type: Any = None  # the Function class of an op node: what it declares about itself (multiplies_inputs)
    name: str | None = None  # parameter name for param nodes
    aliases: tuple = ()  # the parameter's other names (tied weights), when named by module registration
    tensor: Any = None  # the leaf/output tensor (values and grads), if any
    members: list = field(default_factory=list)  # op ids collapsed into a cell node


@dataclass
class Edge:
    src: str
    dst: str
    label: str = ""
    recurrent: bool = False


@dataclass
class Graph:
    nodes: dict  # id -> Node, in drawing order
    edges: list  # Edge
    outputs: list  # output node ids
    source: Any = None  # detail='cell': the op-level graph this one collapses
    cell_of: dict = field(default_factory=dict)  # detail='cell': op id -> the cell node holding it

    def ops(self) -> list:
        return [n for n in self.nodes.values() if n.kind == "op"]

    def incoming(self) -> dict:
        inc: dict = {i: [] for i in self.nodes}
        for e in self.edges:
            inc[e.dst].append(e)
        return inc


def step_of(scope: tuple) -> str | None:
    """The innermost time-step label ('t=3') of a scope, if any."""
    for s in reversed(scope):
        if s.startswith("t="):
            return s
    return None


def _step_key(scope: tuple) -> tuple | None:
    """(scope prefix before the step, step number) for recurrence detection."""
    for i in range(len(scope) - 1, -1, -1):
        if scope[i].startswith("t="):
            try:
                return scope[:i], int(scope[i][2:])
            except ValueError:
                return None
    return None


def _fmt_shape(shape: tuple) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _fmt_index(idx: Any) -> str:
    parts = idx if isinstance(idx, tuple) else (idx,)
    out = []
    for p in parts:
        if isinstance(p, slice):
            out.append(
                f"{'' if p.start is None else p.start}:{'' if p.stop is None else p.stop}"
                + ("" if p.step is None else f":{p.step}")
            )
        elif p is None:
            out.append("None")
        elif p is Ellipsis:
            out.append("...")
        elif _is_array(p):
            out.append(_fmt_value(p))
        else:
            out.append(repr(p))
    return "[" + ", ".join(out) + "]"


def _is_array(v: Any) -> bool:
    return isinstance(v, (np.ndarray, np.generic)) or backend.is_array(v)


def _fmt_value(v: Any) -> str:
    """A param's value as a label prints it. An array is printed by its dtype and shape, never by its
    values (a length mask holds T x N of them), except a 0-d one, which is one number."""
    if _is_array(v):
        return str(backend.to_numpy(v)) if v.ndim == 0 else f"<{v.dtype} {_fmt_shape(tuple(v.shape))}>"
    if isinstance(v, tuple):
        return _fmt_shape(tuple(_fmt_value(x) for x in v))
    if isinstance(v, list):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    return str(v)


def _fmt_param(key: str, v: Any) -> str:
    """Param ``key`` as labels and parameter suffixes print it: the rules go by name and value, for any op."""
    if key == "index":
        return _fmt_index(v)
    if key in ("shape", "axes") and isinstance(v, (tuple, list)):
        return _fmt_shape(tuple(v))
    return _fmt_value(v)


def _label(cls: Any, params: dict) -> str:
    """Op name plus the params that matter (axis, slice, shape, exponent ...): ``cls.label_params``."""
    bits = []
    keys = params if cls.label_params is None else cls.label_params
    for k in keys:
        v = params.get(k)
        if v is None or v is False:
            continue
        if k == "index":
            bits.append(_fmt_index(v))
        elif k == "shape":
            bits.append("→" + _fmt_param(k, v))
        elif k == "steps":  # ViewAssign: which region of the base an in-place op wrote
            bits.append(" ".join(_label(c, q).replace("\n", " ") for c, q in v))
        elif k in ("lo", "hi"):
            bits.append(f"{'min' if k == 'lo' else 'max'}={v:g}")
        else:
            bits.append(f"{k}={_fmt_param(k, v)}")
    return cls.op_name() + ("\n" + " ".join(bits) if bits else "")


def op_label(fn: Any) -> str:
    """The label of tape node ``fn``: its op name and the params its class says to print."""
    return _label(type(fn), getattr(fn, "params", None) or {})


def _names(params: Any) -> dict:
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = dict(params.named_parameters(remove_duplicate=False))
    out: dict = {}
    for k, t in dict(params).items():
        out.setdefault(id(t), k)
    return out


def _collect(outputs: Iterable[Tensor], expand: bool) -> tuple:
    """Every node behind ``outputs`` in a topological order, and the substitutions for fused nodes.

    With ``expand``, a fused sequence node (ops/recurrent.py) is replaced by its composed definition,
    recomputed here on the node's own inputs with a scope per time step, so a layer that trained fused
    is still drawn unfolded. Returns (nodes, {(id(fused node), output index): composed output tensor}).
    """
    from ..autograd import enable_grad  # noqa: PLC0415  (graph builds on the tape, not the reverse)

    seen, sub, key, expanded = {}, {}, {}, set()
    stack = [t._fn for t in outputs if t._fn is not None]
    while stack:
        fn = stack.pop()
        if id(fn) in seen or id(fn) in expanded:
            continue
        if expand and hasattr(fn, "composed"):
            expanded.add(id(fn))
            prev, MODES.scope = MODES.scope, fn.scope
            try:
                with enable_grad():
                    outs = fn.composed(*parents(fn))
            finally:
                MODES.scope = prev
            for i, o in enumerate(outs):
                sub[(id(fn), i)] = o
            inner = [o._fn for o in outs]
            while inner:  # the composed nodes take the fused node's place in the order
                f = inner.pop()
                if f is None or id(f) in key or f.seq < fn.seq:  # stop at the fused node's own inputs
                    continue
                key[id(f)] = (fn.seq, f.seq)
                inner.extend(p._fn for p in parents(f) if p._fn is not None)
            stack.extend(o._fn for o in outs if o._fn is not None)
            continue
        seen[id(fn)] = fn
        key.setdefault(id(fn), (fn.seq, -1))
        stack.extend(p._fn for p in parents(fn) if p._fn is not None and id(p._fn) not in seen)
    return sorted(seen.values(), key=lambda f: key[id(f)]), sub


def build(
    *outputs: Tensor, params: Any = None, copies: bool = False, max_nodes: int = 2000, expand_fused: bool = True
) -> Graph:
    """Walk the tape behind ``outputs`` into a :class:`Graph`.

    ``params``: a Module or a {name: tensor} dict naming parameters (``lstm.weight_hh_l0``). Without it
    a parameter that a live Module holds is named by its ``state_dict`` key in the outermost module
    holding it (:func:`tinygrad_rnn.nn.module.registered_names`); a tied weight shows every such name,
    the first (``named_parameters()``'s) as the node's ``name``, the others as ``aliases``.
    ``copies``: one node per time step for each shared parameter instead of one shared node.
    ``expand_fused``: draw fused sequence nodes as the cell steps they compute (default) or as one box.
    """
    out_tensors = list(outputs)
    for o in out_tensors:
        if not isinstance(o, Tensor):
            raise TypeError(f"graph: outputs must be Tensors, got {type(o).__name__}")
    fns, sub = _collect(out_tensors, expand_fused)
    names, aliases = _names(params), {}
    if params is None:  # no names given: the module paths the parameters were registered under
        leaves = [p for fn in fns for p in parents(fn) if p._fn is None] + [o for o in out_tensors if o._fn is None]
        for key, found in registered_names(leaves).items():
            names[key], aliases[key] = found[0], tuple(found[1:])

    def resolve(t: Tensor) -> Tensor:
        """A fused node's output is drawn as the matching output of its composed expansion."""
        return sub.get((id(t._fn), t._idx), t) if t._fn is not None and sub else t

    out_tensors = [resolve(o) for o in out_tensors]
    if len(fns) > max_nodes:
        raise ValueError(
            f"graph: {len(fns)} op nodes exceed max_nodes={max_nodes}; draw with detail='cell', "
            "use fewer time steps or a smaller model, or pass a larger max_nodes"
        )
    nodes: dict = {}
    edges: list = []
    folded: dict = {}  # id(fn) of a parameter view -> (leaf key, label suffix)
    leaf_ids: dict = {}  # leaf key (+ scope in copies mode) -> node id
    leaf_info: dict = {}  # leaf key -> (kind, label, name, tensor)

    def leaf_kind(t: Tensor) -> tuple:
        if id(t) in names:
            return "param", names[id(t)]
        if getattr(t, "_cut", False):
            return "cut", None
        if t.requires_grad:
            return ("param" if isinstance(t, Parameter) else "input"), None
        return "const", None

    for fn in fns:  # fold views of parameters (W.T, W[:2H], ...) into the parameter node
        if type(fn).param_suffix is not None and len(fn.parents) == 1:
            p = resolve(parents(fn)[0])
            base = folded.get(id(p._fn)) if p._fn is not None else None
            if p._fn is None and leaf_kind(p)[0] == "param":
                folded[id(fn)] = (id(p), _view_suffix(fn))
                leaf_info.setdefault(id(p), (p,))
            elif base is not None:
                folded[id(fn)] = (base[0], base[1] + _view_suffix(fn))

    op_ids: dict[int, str] = {}
    for fn in fns:
        if id(fn) in folded:
            continue
        op_ids[id(fn)] = f"op{len(op_ids)}"

    def leaf_node(key: Any, t: Any, suffix: str, consumer_scope: tuple) -> str:  # t: Tensor | None
        kind, name = leaf_kind(t)
        if kind == "param" and name is None:
            name = f"param {_fmt_shape(t.shape)}"
        slot = (key, suffix, step_of(consumer_scope) if copies and kind == "param" else None)
        nid = leaf_ids.get(slot)
        if nid is None:
            nid = leaf_ids[slot] = f"v{len(leaf_ids)}"
            base = {"param": name, "input": "input", "const": "constant", "cut": "detached state"}[kind]
            label = (
                f"{base}{suffix}\n{_fmt_shape(t.shape)} {t.dtype}"
                if kind != "param"
                else f"{name}{suffix}"
                + "".join(f"\n= {a}{suffix}" for a in aliases.get(id(t), ()))
                + f"\n{_fmt_shape(t.shape)}"
            )
            if slot[2] is not None:
                label += f"\ncopy at {slot[2]}"
            nodes[nid] = Node(
                nid,
                kind,
                label,
                scope=consumer_scope if slot[2] else (),
                shape=t.shape,
                dtype=str(t.dtype),
                name=name,
                aliases=aliases.get(id(t), ()) if kind == "param" else (),
                tensor=t,
            )
        return nid

    for fn in fns:
        nid = op_ids.get(id(fn))
        if nid is None:
            continue
        cls = type(fn)
        nodes[nid] = Node(nid, "op", op_label(fn), scope=fn.scope, op=cls.__name__, op_type=cls)
        for p in map(resolve, parents(fn)):
            if p._fn is not None and id(p._fn) in folded:
                key, suffix = folded[id(p._fn)]
                leaf = next(q for q in _leaves_of(p._fn) if id(q) == key)
                src = leaf_node(key, leaf, suffix, fn.scope)
            elif p._fn is not None:
                src = op_ids[id(p._fn)]
            else:
                src = leaf_node(id(p), p, "", fn.scope)
            label = _fmt_shape(p.shape) + (f" #{p._idx}" if p._fn is not None and p._fn.n_out > 1 else "")
            edges.append(Edge(src, nid, label, _recurrent(nodes[src].scope if src.startswith("op") else (), fn.scope)))
    outs = []
    for i, o in enumerate(out_tensors):
        oid = f"out{i}"
        nodes[oid] = Node(
            oid, "output", f"output {i}\n{_fmt_shape(o.shape)} {o.dtype}", shape=o.shape, dtype=str(o.dtype), tensor=o
        )
        if o._fn is not None and id(o._fn) in op_ids:
            edges.append(Edge(op_ids[id(o._fn)], oid, _fmt_shape(o.shape)))
        elif o._fn is None:
            edges.append(Edge(leaf_node(id(o), o, "", ()), oid, _fmt_shape(o.shape)))
        outs.append(oid)
    return Graph(nodes, edges, outs)


def _leaves_of(fn: Any) -> list:
    out, stack = [], [fn]
    while stack:
        f = stack.pop()
        for p in parents(f):
            (out.append(p) if p._fn is None else stack.append(p._fn))
    return out


def _view_suffix(fn: Any) -> str:
    """What an op folded into a parameter's node appends to its name: the op's ``param_suffix``."""
    template = type(fn).param_suffix
    try:
        text = template.format(**{k: _fmt_param(k, v) for k, v in fn.params.items()})
    except KeyError as e:
        raise ValueError(
            f"graph: {type(fn).__name__}.param_suffix {template!r} names param {e}, which the op was not "
            f"given (its params: {sorted(fn.params)})"
        ) from None
    return TRANSPOSE[1] if text == TRANSPOSE[0] else text


def _recurrent(src_scope: tuple, dst_scope: tuple) -> bool:
    """An edge from step t-1 to step t (t+1 to t for a reverse direction) of the same layer."""
    a, b = _step_key(src_scope), _step_key(dst_scope)
    return a is not None and b is not None and a[0] == b[0] and abs(a[1] - b[1]) == 1


def collapse_cells(g: Graph) -> Graph:
    """Detail level 'cell': every op inside one time step becomes a single cell node."""
    group: dict = {}
    nodes: dict = {}
    for n in g.nodes.values():
        st = _step_key(n.scope) if n.kind == "op" else None
        if st is None:
            nodes[n.id] = n
            continue
        gkey = n.scope[: n.scope.index(f"t={st[1]}", len(st[0])) + 1]
        cid = group.get(gkey)
        if cid is None:
            cid = group[gkey] = f"cell{len(group)}"
            where = " / ".join(s for s in gkey[:-1])
            nodes[cid] = Node(cid, "cell", "", scope=gkey)
            nodes[cid].label = (where + "\n" if where else "") + f"step {gkey[-1]}"
        nodes[cid].members.append(n.op)
        group[n.id] = cid
    for n in nodes.values():
        if n.kind == "cell":
            counts: dict = {}
            for op in n.members:
                counts[op] = counts.get(op, 0) + 1
            n.label += "\n" + ", ".join(f"{k.lower()}×{v}" if v > 1 else k.lower() for k, v in sorted(counts.items()))
    seen, edges = set(), []
    for e in g.edges:
        s, d = group.get(e.src, e.src), group.get(e.dst, e.dst)
        if s == d or (s, d) in seen:
            continue
        seen.add((s, d))
        edges.append(
            Edge(
                s,
                d,
                e.label,
                _recurrent(
                    nodes[s].scope if nodes[s].kind == "cell" else (), nodes[d].scope if nodes[d].kind == "cell" else ()
                ),
            )
        )
    return Graph(nodes, edges, g.outputs, source=g, cell_of={k: v for k, v in group.items() if isinstance(k, str)})
