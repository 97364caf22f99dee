"""Views, version counters and rewritten histories: what in-place ops need from the tape.

* A **version counter** is a one-element list shared by every tensor over the same memory (a tensor,
  its views, its ``detach()``). In-place writes bump it. A recorded node keeps the versions its inputs had
  (``Function.versions``), so backward can tell that a value it needs was overwritten and say so.
* A **view** (the output of a ``Function`` with ``is_view``, when it shares memory with its input, e.g.
  basic indexing, reshape, permute, split) remembers its root ``base`` and the ``steps`` that rebuild it
  from the base. An in-place op on a view rewrites the base's history; the view's own history is
  rebuilt from the base (lazily, the next time it is used) whenever the shared version has moved on.
* A tensor whose history an in-place op replaced keeps the earlier ones in ``_hist``, keyed by the
  version at which each began, so nodes recorded before the write still route gradients to the history
  they saw (the tape stores tensors, not edges).

Nothing here imports the Tensor class: it works on whatever ``Function.apply`` produced.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from typing import Any

from .backend import xp
from .modes import MODES

SEQ = itertools.count()  # the tape's clock: recorded nodes take their ``seq`` from it
LAST_WRITE = [-1]  # the clock at the latest in-place write: older nodes must check their inputs' versions


class ViewInfo:
    """Where a view's memory comes from: output ``i`` of op ``cls`` (with ``params``) applied to the view
    ``parent`` (None: to ``base`` itself). ``steps`` spells the chain out, only when it is needed."""

    __slots__ = ("base", "parent", "cls", "params", "i", "ver")

    def __init__(self, base: Any, parent: Any, cls: Any, params: dict, i: int, ver: int) -> None:
        self.base, self.parent, self.cls, self.params, self.i, self.ver = base, parent, cls, params, i, ver

    @property
    def steps(self) -> tuple:
        """``(FunctionClass, params)`` pairs that rebuild the view from ``base``, first to last."""
        out = []
        v: Any = self
        while v is not None:
            out.append(v.cls.view_step(v.params, v.i))
            v = v.parent
        return tuple(reversed(out))


def counter(t: Any) -> list:
    """``t``'s version counter, created (at 0) the first time something shares or writes its memory."""
    c = t._ver
    if c is None:
        c = t._ver = [0]
    return c


def version(t: Any) -> int:
    c = t._ver
    return 0 if c is None else c[0]


def bump(t: Any) -> None:
    """Count one in-place write to ``t``'s memory."""
    counter(t)[0] += 1
    LAST_WRITE[0] = next(SEQ)


def write(t: Any, values: Any) -> None:
    """Write backend array ``values`` into ``t``'s own memory and bump its version: how optimizers and
    initialisers update parameters (under ``no_grad``), so every view and holder sees the new values and
    a node that saved the old ones refuses to run backward. A read-only array (a broadcast) is rebound."""
    dst = t.array
    if getattr(dst.flags, "writeable", True):  # CuPy arrays have no such flag and are always writable
        dst[...] = values
    else:
        t.array = values.copy()
    bump(t)


def mark(cls: Any, params: dict, src: Any, outs: Any) -> None:
    """Tag the outputs of view op ``cls`` that share ``src``'s memory as views of ``src``'s root."""
    sv = src._view
    base = src if sv is None else sv.base
    c = counter(base) if sv is None else src._ver
    a = src.array
    for i, o in enumerate(outs):
        if o.array.size and xp.may_share_memory(o.array, a):
            o._view = ViewInfo(base, sv, cls, params, i, c[0])
            o._ver = c


def replay(steps: tuple, x: Any) -> Any:
    """Rebuild a view from its base: on a Tensor (recorded when grad mode is on) or on a backend array."""
    if hasattr(x, "_fn"):
        for cls, params in steps:
            x = cls.apply(x, **params)
        return x
    for cls, params in steps:
        x = cls().forward(x, **params)
    return x


def set_history(t: Any, fn: Any, idx: int, requires_grad: bool, start: Any = None) -> None:
    """Give ``t`` a new history from version ``start`` (default: now) on, keeping the old one for nodes
    recorded before. A ``retain_grad()`` moves to the new history, as in PyTorch."""
    h = t._hist
    if h is None:
        h = t._hist = ([-1], [(t._fn, t._idx)])
    h[0].append(version(t) if start is None else start)
    h[1].append((fn, idx))
    old = t._fn
    if old is not None and old.retained:
        ref = old.retained.get(t._idx)
        if ref is not None and ref() is t:
            del old.retained[t._idx]
            if fn is not None:
                if fn.retained is None:
                    fn.retained = {}
                fn.retained[idx] = ref
    t._fn, t._idx, t._requires_grad = fn, idx, requires_grad


def edge_at(t: Any, v: Any) -> tuple:
    """The ``(fn, idx)`` history that ``t`` had when a node recorded it at version ``v``."""
    starts, edges = t._hist
    return edges[max(bisect_right(starts, v or 0) - 1, 0)]


def parents(fn: Any) -> tuple:
    """``fn``'s input tensors as the node saw them (for walkers of the tape other than backward, e.g.
    drawings): a tensor whose history was replaced since is stood in for by an alias with the old one."""
    ps = fn.parents
    if all(p._hist is None for p in ps):
        return ps
    out = []
    for p, v in zip(ps, fn.versions):
        f, i = (p._fn, p._idx) if p._hist is None else edge_at(p, v)
        out.append(p if (f is p._fn and i == p._idx) or f is None else type(p)._make(p.array, True, f, i))
    return tuple(out)


def refresh(t: Any) -> None:
    """Rebuild a stale view's history from its base (the base was written since it was last set)."""
    v = t._view
    now = t._ver[0]
    if v.ver == now:
        return
    state = MODES
    was = state.grad_enabled
    state.grad_enabled = True  # the history is rebuilt whatever mode the caller is in
    try:
        x = replay(v.steps, v.base)
    finally:
        state.grad_enabled = was
    v.ver = now
    if x._fn is not t._fn or x._requires_grad != t._requires_grad:
        set_history(t, x._fn, x._idx, x._requires_grad)
