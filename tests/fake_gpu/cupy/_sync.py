"""Counting device->host synchronisations (the stand-in's one piece of state that tests read).

Real CuPy blocks the host whenever a value must come back from the GPU (``item()``, ``float()``,
``bool()``, ``get()``, printing) or when an output's shape depends on data (a boolean mask,
``nonzero``, ``unique``...). Each such point in the stand-in calls :func:`record`. Recording is an
integer increment unless a :func:`counting` block is open or ``CUPY_STANDIN_TRACE_SYNCS=1`` is set;
only then is the caller's frame looked up, so the common path stays cheap.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_PKG_DIRS = tuple(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), d) + os.sep for d in ("cupy", "cupyx")
)
_TRACE = os.environ.get("CUPY_STANDIN_TRACE_SYNCS", "") not in ("", "0")

_lock = threading.Lock()
_total = 0
_watchers: list[Counter] = []


class SyncForbidden(RuntimeError):
    """A device->host synchronisation happened inside a ``forbidding()`` block."""


@dataclass
class Counter:
    """What one ``counting()`` block saw: ``n`` syncs, each as ``(kind, "file:line function")``."""

    n: int = 0
    events: list[tuple[str, str]] = field(default_factory=list)
    forbid: bool = False

    def where(self) -> str:
        """The events as lines, for an assertion message."""
        return "\n".join(f"  {k} at {w}" for k, w in self.events) or "  (none)"


def _caller() -> tuple[str, list[str]]:
    """The first frame outside the stand-in, as 'file:line function', and the stack summary."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIRS):
        f = f.f_back
    if f is None:
        return "?", []
    here = f"{os.path.relpath(f.f_code.co_filename)}:{f.f_lineno} {f.f_code.co_name}"
    return here, traceback.format_stack(f, limit=8) if _TRACE else []


_thread = threading.local()  # cupyx.allow_synchronize(False) sets .allowed = False


def allowed() -> bool:
    return getattr(_thread, "allowed", True)


def set_allowed(allow: bool, exc: type) -> None:
    _thread.allowed, _thread.exc = allow, exc


def record(kind: str) -> None:
    """Count one device->host synchronisation of the given kind ('item', 'get', 'mask', ...)."""
    global _total
    _total += 1
    if not getattr(_thread, "allowed", True):
        raise _thread.exc()
    if not _watchers and not _TRACE:
        return
    here, stack = _caller()
    if _TRACE:
        sys.stderr.write(f"[cupy stand-in] sync #{_total} ({kind}) at {here}\n{''.join(stack)}")
    with _lock:
        watchers = list(_watchers)
    for w in watchers:
        w.n += 1
        w.events.append((kind, here))
    for w in watchers:
        if w.forbid:
            raise SyncForbidden(f"device synchronisation ({kind}) at {here} inside cupy._standin.forbidding()")


def syncs() -> int:
    return _total


def reset() -> None:
    global _total
    _total = 0


@contextmanager
def counting(forbid: bool = False) -> Iterator[Counter]:
    c = Counter(forbid=forbid)
    with _lock:
        _watchers.append(c)
    try:
        yield c
    finally:
        with _lock:
            _watchers.remove(c)
