"""The backward pass: grad mode, anomaly mode, ``backward`` and ``grad``.

Ordering: from the outputs we collect every reachable node once with an explicit stack and count, for
each node, the edges from its consumers. A node runs when all its consumers have run (Kahn's
algorithm), so gradients for a node's outputs are complete before its derivative is taken. Both passes
touch each node and edge once: O(nodes + edges), no recursion, no sorting.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

from .backend import ndarray, xp
from .modes import MODES, Switch
from .tape import check_finite, describe
from .tensor import Tensor
from .views import LAST_WRITE, edge_at


class _GradMode(Switch):
    mode = "grad_enabled"
    _flag = True

    def value(self, old: bool) -> bool:
        return self._flag

    def __call__(self, f: Callable) -> Callable:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return f(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801  (used like PyTorch's context manager)
    """Ops run inside record nothing (inference, optimizer updates). Also usable as a decorator. Like
    every mode (see :mod:`tinygrad_rnn.modes`) it holds for the calling thread only."""

    _flag = False


class enable_grad(_GradMode):  # noqa: N801
    _flag = True


def is_grad_enabled() -> bool:
    return MODES.grad_enabled


class detect_anomaly(Switch):  # noqa: N801
    """Raise ``FloatingPointError`` at the first op whose forward or backward yields NaN/Inf (in the
    calling thread)."""

    mode = "anomaly"

    def value(self, old: bool) -> bool:
        return True


def _seed_grad(t: Tensor, g: Any, create_graph: bool, op: str) -> Any:
    if g is None:
        if t.array.size != 1:
            raise RuntimeError(
                f"{op}: gradient can be implied only for a scalar (one-element) output; "
                f"this one has shape {t.shape}: pass grad / grad_outputs of that shape"
            )
        g = xp.ones(t.array.shape, dtype=t.array.dtype)
    elif isinstance(g, Tensor):
        if g.shape != t.shape:
            raise ValueError(f"{op}: grad of shape {g.shape} does not match the output's shape {t.shape}")
        g = g if create_graph else g.array
    else:
        g = xp.asarray(g, dtype=t.array.dtype)
        if g.shape != t.array.shape:
            raise ValueError(f"{op}: grad of shape {tuple(g.shape)} does not match the output's shape {t.shape}")
    if g.dtype != t.array.dtype:
        raise TypeError(f"{op}: grad has dtype {g.dtype} but the output is {t.array.dtype}")
    if create_graph and not isinstance(g, Tensor):
        g = Tensor._make(g, False, None, 0)
    return g


def _add(acc: Any, g: Any) -> Any:
    return g if acc is None else acc + g


def _run(
    roots: Sequence[Tensor], grads: Sequence[Any], targets: dict | None, retain_graph: bool, create_graph: bool
) -> dict:
    """Backpropagate ``grads`` from ``roots``.

    With ``targets`` (id(tensor) -> tensor) gradients are returned for those tensors only and nothing
    is written to ``.grad``; without, leaves accumulate into ``.grad`` and retain_grad tensors are set.
    """
    # 1. discover the graph; count consumer edges per node
    deps: dict = {}
    stack = []
    for r in roots:
        fn = r._fn
        if fn is not None and fn not in deps:
            deps[fn] = 0
            stack.append(fn)
    hooked = _POST_HOOKS if targets is None and len(_POST_HOOKS) else None
    pending: dict = {}  # id(leaf with a post-accumulate hook) -> consumer edges still to run
    while stack:
        fn = stack.pop()
        for p, v in zip(fn.parents, fn.versions):
            pf = p._fn if p._hist is None else edge_at(p, v)[0]
            if pf is not None:
                if pf in deps:
                    deps[pf] += 1
                else:
                    deps[pf] = 1
                    stack.append(pf)
            elif hooked is not None and p._requires_grad and id(p) in hooked:
                pending[id(p)] = pending.get(id(p), 0) + 1
    needed = None if targets is None else _prune(deps, targets)
    inner: dict = {}  # (node, output index) -> non-leaf targets made there
    for t in (targets or {}).values():
        if t._fn is not None:
            inner.setdefault((t._fn, t._idx), []).append(t)

    # 2. seed the output gradients
    found: dict = {}  # id(leaf or target) -> summed gradient
    leaves: dict = {}  # id(leaf) -> leaf, for the final write into .grad
    owned: set = set()  # keys of found whose array this pass allocated (safe to add into in place)
    buf: dict = {}

    def deliver(t: Tensor, g: Any) -> None:
        fn = t._fn
        if fn is None:
            key = id(t)
            if targets is None:
                if not t._requires_grad:
                    return
                leaves[key] = t
            elif key not in targets:
                return
            prev = found.get(key)
            if prev is None:
                found[key] = g
            elif key in owned:  # our own sum from an earlier contribution: add in place
                prev += g
            else:  # the first contribution may be shared with other tensors: sum into a new array
                found[key] = total = prev + g
                if not create_graph and type(total) is ndarray and total.ndim:  # not a NumPy scalar
                    owned.add(key)
            return
        slots = buf.get(fn)
        if slots is None:
            slots = buf[fn] = [None] * fn.n_out
        slots[t._idx] = _add(slots[t._idx], g)

    for r, g in zip(roots, grads):
        deliver(r, g)
    ready = [fn for fn in dict.fromkeys(r._fn for r in roots if r._fn is not None) if deps[fn] == 0]

    # 3. run nodes once all their consumers have run (the hot loop: deliveries are inlined)
    anomaly = MODES.anomaly
    last_write = LAST_WRITE[0]
    fast_leaves = targets is None  # (a leaf's key is in owned only once it holds our own summed array)
    while ready:
        fn = ready.pop()
        slots = buf.pop(fn, None)
        in_grads: Any = None
        if slots is not None:  # at least one output received a gradient
            if inner:
                for i, g in enumerate(slots):
                    for t in inner.get((fn, i), ()):
                        if g is not None:
                            found[id(t)] = _add(found.get(id(t)), g)
            if targets is None and fn.retained:
                for i, ref in fn.retained.items():
                    t = ref()
                    if t is not None and slots[i] is not None:  # accumulates across calls, like a leaf's
                        g = slots[i] if create_graph else Tensor._make(_owned(slots[i]), False, None, 0)
                        t.grad = g if t.grad is None else t.grad + g
            if needed is None or fn in needed:
                if fn.reads_inputs and fn.seq < last_write:  # written in place since: check the versions
                    for p, v in zip(fn.parents, fn.versions):
                        c = p._ver
                        if c is not None and c[0] != (v or 0):
                            _check_versions(fn)
                    if fn.needs_output:
                        for c in fn.out_versions:
                            if c[0]:
                                _check_versions(fn)
                if create_graph:
                    in_grads = _backward_recorded(fn, slots)
                else:
                    saved = fn.saved
                    if saved is None:
                        raise RuntimeError(_FREED.format(op=fn.op_name()))
                    in_grads = fn.backward(slots if fn.multi_output else slots[0], *saved)
                    if type(in_grads) is not tuple:
                        in_grads = (in_grads,)
                if anomaly:
                    check_finite(
                        fn.op_name(),
                        "backward",
                        [o.array if isinstance(o, Tensor) else o for o in in_grads],
                        fn.parents,
                    )
                if not retain_graph:
                    fn.saved = None
                    if fn.buffers:  # a fused op's per-step activations
                        fn.buffers = None
        if in_grads is None:  # not run (pruned, or no output got a gradient): only count the edges
            in_grads = repeat(None)
        for p, v, need, g in zip(fn.parents, fn.versions, fn.needs_input_grad, in_grads):
            if p._hist is None:
                pf, k = p._fn, p._idx
            else:  # written in place since this node ran: its gradient goes to the history it saw
                pf, k = edge_at(p, v)
            if need and g is not None:
                if pf is None:
                    key = id(p)
                    if fast_leaves and key in owned:  # the hot case of a shared weight: add in place
                        found[key] += g
                    else:
                        deliver(p, g)
                else:
                    s = buf.get(pf)
                    if s is None:
                        s = buf[pf] = [None] * pf.n_out
                    s[k] = g if s[k] is None else s[k] + g
            if pf is not None:
                d = deps[pf] - 1
                deps[pf] = d
                if d == 0:
                    ready.append(pf)
            elif pending and id(p) in pending:
                key = id(p)
                pending[key] -= 1
                if not pending[key] and key in leaves:  # its gradient is final: write it, run the hooks now
                    del leaves[key]
                    _accumulate_leaf(p, found[key], create_graph)
                    _run_post_hooks(p)
    for key, t in leaves.items():
        _accumulate_leaf(t, found[key], create_graph)
        if hooked is not None and key in hooked:
            _run_post_hooks(t)
    if targets is None:
        _run_callbacks()
    return found


# ---- hooks for gradient communication (DistributedDataParallel) -----------------------------------------
# id(leaf) -> [hook(leaf)]; keyed by id because a Tensor's == is elementwise. An entry goes when its
# tensor is collected (a weakref callback), so a new tensor reusing the id never inherits its hooks.
_POST_HOOKS: dict = {}
_LOCAL = threading.local()  # callbacks queued by hooks during this thread's backward


def register_post_accumulate_grad_hook(t: Tensor, hook: Callable[[Tensor], Any]) -> Any:
    """Call ``hook(t)`` during ``backward()`` as soon as leaf ``t``'s ``.grad`` holds this pass's
    complete gradient (before the rest of the backward pass has run). Returns a handle whose
    ``remove()`` unregisters it."""
    if t._fn is not None:
        raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors get their .grad accumulated")
    key = id(t)
    entry = _POST_HOOKS.get(key)
    if entry is None:
        hooks: list = []
        entry = _POST_HOOKS[key] = (weakref.ref(t, lambda _: _POST_HOOKS.pop(key, None)), hooks)
    entry[1].append(hook)
    return _HookHandle(key, hook)


class _HookHandle:
    def __init__(self, key: int, hook: Callable) -> None:
        self._key, self._hook = key, hook

    def remove(self) -> None:
        entry = _POST_HOOKS.get(self._key)
        if entry is not None and self._hook in entry[1]:
            entry[1].remove(self._hook)
            if not entry[1]:
                del _POST_HOOKS[self._key]


def _run_post_hooks(t: Tensor) -> None:
    entry = _POST_HOOKS.get(id(t))
    for hook in list(entry[1]) if entry is not None else ():
        hook(t)


def queue_callback(callback: Callable[[], Any]) -> None:
    """Run ``callback()`` once the current ``backward()`` has written every ``.grad`` (from a hook)."""
    if not hasattr(_LOCAL, "callbacks"):
        _LOCAL.callbacks = []
    _LOCAL.callbacks.append(callback)


def _run_callbacks() -> None:
    cbs = getattr(_LOCAL, "callbacks", None)
    while cbs:
        cbs.pop(0)()


def _check_versions(fn: Any) -> None:
    """Raise if a value this node's derivative reads was written in place after the node was recorded."""
    for i, (p, v) in enumerate(zip(fn.parents, fn.versions)):
        c = p._ver
        if c is not None and c[0] != (v or 0):
            raise RuntimeError(
                f"backward: input {i} of op '{fn.op_name()}' ({describe([p])}) was modified by an in-place "
                f"operation after the op used it (it is at version {c[0]}; the op saw version {v or 0}), and the "
                "op's derivative needs its value. Make the in-place change on a copy (.clone()), or out of place"
            )
    for i, c in enumerate(fn.out_versions if fn.needs_output else ()):
        if c[0]:
            raise RuntimeError(
                f"backward: output {i} of op '{fn.op_name()}' was modified by an in-place operation (it is at "
                f"version {c[0]}), and the op's derivative needs its value. Modify a copy (.clone()) instead"
            )


def _prune(deps: dict, targets: dict) -> set:
    """Nodes from which some target can be reached: only those need their derivative taken."""
    needed: set = set()
    for fn in sorted(deps, key=lambda f: f.seq):  # creation order is a topological order
        for p, v in zip(fn.parents, fn.versions):
            if id(p) in targets or (p._fn if p._hist is None else edge_at(p, v)[0]) in needed:
                needed.add(fn)
                break
    return needed


_FREED = (
    "backward: the graph through op '{op}' was already freed by an earlier backward(). Pass "
    "retain_graph=True to the first backward() to backpropagate through it again, or detach() the state "
    "you carry from one step to the next (truncated BPTT)."
)


def _backward_recorded(fn: Any, slots: list) -> tuple:
    """create_graph=True: run the derivative on the input Tensors so that it is itself recorded."""
    if hasattr(fn, "composed"):  # a fused op: differentiate its composed definition instead
        with enable_grad():
            outs = fn.composed(*fn.parents)
            live = [(o, g) for o, g in zip(outs, slots) if g is not None]
            wanted = [p for p, need in zip(fn.parents, fn.needs_input_grad) if need]
            gs = iter(grad([o for o, _ in live], wanted, [g for _, g in live], create_graph=True, allow_unused=True))
        return tuple(next(gs) if need else None for need in fn.needs_input_grad)
    with enable_grad():
        args = fn.parents
        if fn.needs_output:  # nodes do not keep their outputs: recompute them on the tape
            args = args + (type(fn).apply(*fn.parents, **fn.params),)
        out = fn.backward(slots if fn.multi_output else slots[0], *args)
    return out if isinstance(out, tuple) else (out,)


def _owned(g: Any) -> Any:
    """A gradient as a real array: broadcast views (from the backward of sum/mean/expand) are copied."""
    g = xp.asarray(g)
    return g if g.flags.c_contiguous else g.copy()


def _accumulate_leaf(t: Tensor, g: Any, create_graph: bool) -> None:
    if create_graph:
        t.grad = g if t.grad is None else t.grad + g
        return
    g = _owned(g)
    if g.shape != t.array.shape:  # an op returned a gradient of the wrong shape: a bug, say so loudly
        raise RuntimeError(f"backward: gradient of shape {g.shape} for a leaf of shape {t.shape}")
    t.grad = Tensor._make(g if t.grad is None else t.grad.array + g, False, None, 0)


def backward(tensor: Tensor, grad: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
    tensor._fresh()  # a view whose base was written since: its history is rebuilt first
    if not tensor._requires_grad:
        raise RuntimeError(
            f"backward: this tensor (shape {tensor.shape}) does not require grad and has no "
            "graph; did you forget requires_grad=True, or run the forward under no_grad()?"
        )
    g = _seed_grad(tensor, grad, create_graph, "backward")
    _run([tensor], [g], None, create_graph if retain_graph is None else retain_graph, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """d(outputs)/d(inputs) weighted by ``grad_outputs``, returned (not accumulated into ``.grad``)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for t in outputs + inputs:
        if isinstance(t, Tensor):
            t._fresh()
    if not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t._requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad ({describe([t])})")
    for i, t in enumerate(outputs):
        if not t._requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad and has no graph ({describe([t])})")
    seeds = [_seed_grad(t, g, create_graph, "grad") for t, g in zip(outputs, grad_outputs)]
    targets = {id(t): t for t in inputs}
    found = _run(outputs, seeds, targets, create_graph if retain_graph is None else retain_graph, create_graph)
    result: list[Tensor | None] = []
    for i, t in enumerate(inputs):
        g = found.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} ({describe([t])}) is not used in the graph of the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(None)
        else:
            if g.shape != t.shape:  # an op returned a gradient of the wrong shape: a bug, say so loudly
                raise RuntimeError(f"grad: gradient of shape {tuple(g.shape)} for input {i} of shape {t.shape}")
            result.append(g if isinstance(g, Tensor) else Tensor._make(_owned(g), False, None, 0))
    return tuple(result)


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Tensor:  # noqa: N802
    """PyTorch's deprecated ``autograd.Variable``, kept so older programs run: a Variable *is* a Tensor.

    Returns ``data`` itself when it is a Tensor and ``requires_grad`` asks for nothing; otherwise a
    Tensor of it (sharing memory) with ``requires_grad`` set. ``volatile`` is accepted and ignored, as
    PyTorch has done since 0.4 (use ``no_grad()``).
    """
    t = data if isinstance(data, Tensor) else Tensor(data)
    if requires_grad and not t.requires_grad:
        t = t.detach().requires_grad_()
    return t
