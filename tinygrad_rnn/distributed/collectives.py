"""Collectives with PyTorch's names: ``all_reduce`` and ``broadcast`` write into the tensor (in place, as
PyTorch's do; the version counter moves, and autograd does not record them), ``barrier``, and the
object collectives ``all_gather_object`` / ``broadcast_object_list`` (which pickle, as PyTorch's do:
use them between trusted ranks of one job only).

Each collective is started non-blocking and waited for through :class:`~.group.Work`, so a wait can
give up on a peer that stopped answering instead of hanging; ``async_op=True`` returns the ``Work``.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from .. import backend, views
from .group import Work, current


class ReduceOp:
    """PyTorch's reduction names."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


_OPS = {ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX}


def _finish(work: Work, async_op: bool) -> Any:
    if async_op:
        return work
    work.wait()
    return None


def _buffer(op: str, tensor: Any) -> Any:
    a = tensor.array
    if not backend.is_array(a):
        tensor.array = a = backend.xp.array(a)  # a NumPy scalar result: give it memory of its own
    return a if a.flags.c_contiguous else backend.xp.ascontiguousarray(a)


def _written(tensor: Any, buf: Any) -> None:
    if buf is not tensor.array:
        tensor.array[...] = buf
    views.bump(tensor)


def all_reduce(tensor: Any, op: str = ReduceOp.SUM, group: Any = None, async_op: bool = False) -> Any:
    """Reduce ``tensor`` over all ranks; every rank's tensor then holds the result."""
    if op not in _OPS:
        raise ValueError(f"all_reduce: op must be one of ReduceOp.SUM/AVG/PRODUCT/MIN/MAX, got {op!r}")
    g = current()
    if op == ReduceOp.AVG and tensor.dtype.kind != "f":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating-point tensor, got {tensor.dtype}")
    buf = _buffer("all_reduce", tensor)
    req = g.iallreduce(buf, op)

    def after() -> None:
        if op == ReduceOp.AVG:
            buf[...] = buf / g.size
        _written(tensor, buf)

    return _finish(Work(g, req, "all_reduce", after), async_op)


def broadcast(tensor: Any, src: int = 0, group: Any = None, async_op: bool = False) -> Any:
    """Every rank's ``tensor`` gets rank ``src``'s values (same shape and dtype on every rank)."""
    g = current()
    if not 0 <= src < g.size:
        raise ValueError(f"broadcast: src={src} is not a rank of this world of {g.size}")
    buf = _buffer("broadcast", tensor)
    req = g.ibcast(buf, src)
    return _finish(Work(g, req, "broadcast", lambda: _written(tensor, buf)), async_op)


def barrier(group: Any = None, async_op: bool = False) -> Any:
    """Wait until every rank has reached this point."""
    g = current()
    return _finish(Work(g, g.ibarrier(), "barrier"), async_op)


def _wait(g: Any, req: Any, what: str) -> None:
    Work(g, req, what).wait()


def broadcast_object_list(object_list: list, src: int = 0, group: Any = None, device: Any = None) -> None:
    """Replace ``object_list``'s items, on every rank, with rank ``src``'s (picklable objects)."""
    g = current()
    if g.size == 1:
        return
    payload = np.frombuffer(pickle.dumps(list(object_list)), dtype=np.uint8) if g.rank == src else None
    n = np.array([0 if payload is None else payload.size], dtype=np.int64)
    _wait(g, g.ibcast(n, src), "broadcast_object_list")
    buf = payload.copy() if payload is not None else np.empty(int(n[0]), dtype=np.uint8)
    _wait(g, g.ibcast(buf, src), "broadcast_object_list")
    if g.rank != src:
        received = pickle.loads(buf.tobytes())
        if len(received) != len(object_list):
            raise ValueError(
                f"broadcast_object_list: rank {src} sent {len(received)} objects, "
                f"this rank's list has {len(object_list)}"
            )
        object_list[:] = received


def all_gather_object(object_list: list, obj: Any, group: Any = None) -> None:
    """``object_list[r]`` becomes rank r's ``obj`` on every rank (``object_list`` has world-size items)."""
    g = current()
    if len(object_list) != g.size:
        raise ValueError(f"all_gather_object: object_list has {len(object_list)} items for a world of {g.size}")
    data = np.frombuffer(pickle.dumps(obj), dtype=np.uint8)
    sizes = np.zeros(g.size, dtype=np.int64)
    _wait(g, g.iallgather(np.array([data.size], dtype=np.int64), sizes), "all_gather_object")
    recv = np.empty(int(sizes.sum()), dtype=np.uint8)
    _wait(g, g.iallgatherv(data, recv, sizes), "all_gather_object")
    start = 0
    for r, n in enumerate(sizes.tolist()):
        object_list[r] = pickle.loads(recv[start : start + n].tobytes())
        start += n
