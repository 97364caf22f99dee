"""Checks of values that live on the device, made without stalling it.

Some inputs can only be validated by looking at their values: class targets and embedding ids must lie
in range, index tensors must point inside the dimension they index. On NumPy the values are in host
memory and a failed check raises at the op, as it always has. Under CuPy, reading a value back to the
host waits for every kernel queued before it, so a check that did so at every op would serialise the
GPU with Python several times per training step.

There, a check instead computes a 0-d boolean flag on the device and records it here; nothing is read
back. The flags travel to the host with the next array the program itself reads back (``item()``,
``numpy()``, ``tolist()``, ``print``, ``bool()``; see :func:`..backend.to_numpy`), in the same transfer,
and the first failed check then raises its error there, naming the op that failed. Data from a failed
op is never silently used: the error comes before the value that reached the host is returned.
``TINYGRAD_RNN_SYNC_CHECKS=1`` makes the GPU raise at the op itself (one sync per check), for debugging,
as ``CUDA_LAUNCH_BLOCKING`` does for kernels.

Pending flags belong to the thread that recorded them (like the grad mode). A check made again by the
same op with the same message ORs its flag into the pending one, so a loop that never reads a value back
holds one flag per kind of check, not one per step.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

SYNC_CHECKS = os.environ.get("TINYGRAD_RNN_SYNC_CHECKS", "0").strip().lower() not in ("", "0", "false", "no", "off")


class _Pending(threading.local):
    def __init__(self) -> None:
        self.flags: dict[tuple, list] = {}  # key -> [device flag, error factory]


_pending = _Pending()


def deferred(a: Any) -> bool:
    """Whether a check on array ``a`` is deferred (``a`` is on a device and sync checks are off)."""
    from .backend import name  # noqa: PLC0415  (backend imports this module)

    return name == "cupy" and not SYNC_CHECKS and not isinstance(a, np.ndarray)


def expect_not(key: tuple, bad: Any, error: Callable[[], Exception]) -> None:
    """Fail with ``error()`` if the 0-d device boolean ``bad`` is true, at the next read-back.

    ``key`` identifies the check (op and message); ``error`` builds the exception without reading any
    device value, since it may run long after the arrays it could read have changed.
    """
    entry = _pending.flags.get(key)
    if entry is None:
        _pending.flags[key] = [bad, error]
    else:
        entry[0] = entry[0] | bad


def waiting() -> bool:
    return bool(_pending.flags)


def take() -> list:
    """The pending checks, as ``[(device flag, error factory)]``, and none left pending."""
    items = list(_pending.flags.values())
    _pending.flags.clear()
    return items


def raise_failed(checks: list, failed: Any) -> None:
    """Raise the first check whose host flag in ``failed`` (a sequence of bools, one per check) is set."""
    for (_, error), bad in zip(checks, failed):
        if bad:
            raise error()


def later(op: str) -> str:
    """The end of a deferred check's message: where it was found, and how to find it at the op."""
    return (
        f". The check ran on the GPU and is reported at the first read-back to the host after {op} "
        f"(set TINYGRAD_RNN_SYNC_CHECKS=1 to raise at {op} itself)"
    )


def index_range(op: str, index: Any, size: int, dim: Any = None, low: int = 0) -> None:
    """Raise ``IndexError`` unless every entry of the integer array ``index`` lies in ``[low, size)``.

    ``low`` is 0 for ops that take only non-negative indices, ``-size`` for Python-style indexing.
    On the host (NumPy arrays) the message gives the offending value and the span of the indices; on a
    device the check is deferred (see the module docstring) and the message gives the op and the range.
    """
    if index.size == 0:
        return
    where = "" if dim is None else f" for dimension {dim}"
    if deferred(index):
        span = f"[{low}, {size - 1}]" if size else "empty (the size is 0)"

        def error() -> Exception:
            return IndexError(f"{op}: an index is out of range{where} of size {size}: valid is {span}{later(op)}")

        expect_not((op, "range", size, low, dim), ((index < low) | (index >= size)).any(), error)
        return
    from .backend import to_numpy, xp  # noqa: PLC0415

    lo, hi = (int(v) for v in to_numpy(xp.stack([index.min(), index.max()])))
    if lo < low or hi >= size:
        bad = lo if lo < low else hi
        raise IndexError(
            f"{op}: index {bad} is out of range{where} of size {size}: the indices span [{lo}, {hi}], "
            f"valid is [{low}, {size - 1}]"
            if size
            else f"{op}: index {bad} is out of range{where} of size 0 (no index is valid)"
        )
