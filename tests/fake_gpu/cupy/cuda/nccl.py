"""A fake NCCL (cupy_backends/cuda/libs/nccl.pyx API, v13.6.0) over mpi4py on the host.

Pointers are ``ndarray.data.ptr`` values, turned back into memory through ``cupy._memory``. As in
NCCL, a call only queues the collective on ``stream``: it is a non-blocking MPI request, and the
result lands in the receive buffer when the request completes, which an ``Event`` recorded on that
stream afterwards observes (``event.done`` tests the request, ``synchronize()`` waits for it). A
peer that never joins leaves the event pending (so a caller's timeout can fire) instead of blocking
inside the call. Reductions gather every rank's bytes and reduce them in rank order with NumPy, so
all dtypes and ops work and every rank gets bit-identical results.

A communicator must span all of ``MPI.COMM_WORLD`` (it is split from it, ordered by the ``rank``
given). mpi4py is imported on first use, so ``import cupy.cuda.nccl`` works without it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._memory import resolve
from .stream import enqueue

available = True

NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN, NCCL_AVG = 0, 1, 2, 3, 4
NCCL_INT8 = NCCL_CHAR = 0
NCCL_UINT8 = 1
NCCL_INT32 = NCCL_INT = 2
NCCL_UINT32 = 3
NCCL_INT64 = 4
NCCL_UINT64 = 5
NCCL_FLOAT16 = NCCL_HALF = 6
NCCL_FLOAT32 = NCCL_FLOAT = 7
NCCL_FLOAT64 = NCCL_DOUBLE = 8
NCCL_BFLOAT16 = 9
NCCL_UNIQUE_ID_BYTES = 128

_DTYPES = {0: np.int8, 1: np.uint8, 2: np.int32, 3: np.uint32, 4: np.int64, 5: np.uint64, 6: np.float16,
           7: np.float32, 8: np.float64}  # fmt: skip
_OPS = {NCCL_SUM: np.add, NCCL_PROD: np.multiply, NCCL_MAX: np.maximum, NCCL_MIN: np.minimum}


class _Collective:
    """One queued collective: MPI requests in flight, and what to write once they complete."""

    def __init__(self, requests: list, finish: Any, keep: tuple) -> None:
        self.requests, self.finish, self.keep, self.finished = requests, finish, keep, False

    def _done(self) -> None:
        self.finished = True
        self.finish()
        self.keep = ()

    def test(self) -> bool:
        if not self.finished and all(r.Test() for r in self.requests):
            self._done()
        return self.finished

    def wait(self) -> None:
        if not self.finished:
            for r in self.requests:
                r.Wait()
            self._done()


class NcclError(RuntimeError):
    def __init__(self, status: int, message: str = "") -> None:
        self.status = status
        super().__init__(f"NCCL_ERROR ({status}): {message}")


def get_build_version() -> int:
    return 22105


def get_version() -> int:
    return 22105


def get_unique_id() -> tuple:
    return tuple(int(b) - 256 if b > 127 else int(b) for b in os.urandom(NCCL_UNIQUE_ID_BYTES))


def groupStart() -> None:  # noqa: N802
    pass


def groupEnd() -> None:  # noqa: N802
    pass


def _dtype(datatype: int) -> np.dtype:
    if datatype not in _DTYPES:
        raise NcclError(4, f"datatype {datatype} is not supported by the stand-in (bfloat16?)")
    return np.dtype(_DTYPES[datatype])


class NcclCommunicator:
    def __init__(self, ndev: int, commId: tuple, rank: int) -> None:  # noqa: N803
        from mpi4py import MPI

        if len(commId) != NCCL_UNIQUE_ID_BYTES:
            raise AssertionError("commId must be a tuple of NCCL_UNIQUE_ID_BYTES values")
        world = MPI.COMM_WORLD
        if ndev != world.Get_size():
            raise NcclError(4, f"stand-in NCCL needs ndev == MPI world size ({ndev} != {world.Get_size()})")
        if not 0 <= rank < ndev:
            raise NcclError(4, f"invalid rank {rank} for ndev {ndev}")
        self._comm = world.Split(0, rank)
        ids = self._comm.allgather(tuple(commId))
        if any(i != ids[0] for i in ids):
            self._comm.Free()
            raise NcclError(3, "ranks passed different unique ids")
        if sorted(self._comm.allgather(rank)) != list(range(ndev)):
            raise NcclError(4, "ranks are not 0..ndev-1, each once")
        self._rank, self._size, self._MPI = rank, ndev, MPI

    @property
    def comm(self) -> int:
        return id(self._comm)

    def _live(self) -> Any:
        if self._comm is None:
            raise NcclError(4, "communicator was destroyed")
        return self._comm

    def destroy(self) -> None:
        if self._comm is not None:
            self._comm.Free()
            self._comm = None

    def abort(self) -> None:
        self.destroy()

    def device_id(self) -> int:
        return 0

    def rank_id(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def check_async_error(self) -> None:
        pass

    # -- collectives (each queued on ``stream``) ----------------------------------------------------
    def _queue(self, stream: int, requests: list, finish: Any, *keep: Any) -> None:
        enqueue(stream, _Collective(requests, finish, keep))

    def _gather_all(self, send: np.ndarray, stream: int, then: Any) -> None:
        """Allgather ``send`` (copied now) into one row per rank, then call ``then(rows)``."""
        comm = self._live()
        data = np.ascontiguousarray(send).copy()
        rows = np.empty((self._size, data.size), data.dtype)
        req = comm.Iallgather(data.view(np.uint8), rows.view(np.uint8))
        self._queue(stream, [req], lambda: then(rows), data, rows)

    def _reduce(self, rows: np.ndarray, op: int) -> np.ndarray:
        if op not in _OPS and op != NCCL_AVG:
            raise NcclError(4, f"invalid reduction op {op}")
        acc = rows[0].copy()
        f = np.add if op == NCCL_AVG else _OPS[op]
        for r in rows[1:]:
            f(acc, r, out=acc)
        if op == NCCL_AVG:
            return (acc / self._size).astype(rows.dtype) if rows.dtype.kind == "f" else acc // self._size
        return acc

    def _check_op(self, op: int) -> None:
        if op not in _OPS and op != NCCL_AVG:
            raise NcclError(4, f"invalid reduction op {op}")

    def allReduce(self, sendbuf: int, recvbuf: int, count: int, datatype: int, op: int, stream: int) -> None:  # noqa: N802
        dt = _dtype(datatype)
        self._check_op(op)
        recv = resolve(recvbuf, count, dt)

        def done(rows: np.ndarray) -> None:
            recv[...] = self._reduce(rows, op)

        self._gather_all(resolve(sendbuf, count, dt), stream, done)

    def reduce(self, sendbuf: int, recvbuf: int, count: int, datatype: int, op: int, root: int, stream: int) -> None:
        dt = _dtype(datatype)
        self._check_op(op)
        recv = resolve(recvbuf, count, dt) if self._rank == root else None

        def done(rows: np.ndarray) -> None:
            if recv is not None:
                recv[...] = self._reduce(rows, op)

        self._gather_all(resolve(sendbuf, count, dt), stream, done)

    def bcast(self, buff: int, count: int, datatype: int, root: int, stream: int) -> None:
        buf = resolve(buff, count, _dtype(datatype))
        tmp = np.ascontiguousarray(buf).copy()
        req = self._live().Ibcast(tmp.view(np.uint8), root=root)

        def done() -> None:
            buf[...] = tmp

        self._queue(stream, [req], done, tmp)

    def broadcast(self, sendbuff: int, recvbuff: int, count: int, datatype: int, root: int, stream: int) -> None:
        dt = _dtype(datatype)
        if self._rank == root and sendbuff != recvbuff:
            resolve(recvbuff, count, dt)[...] = resolve(sendbuff, count, dt)
        self.bcast(recvbuff, count, datatype, root, stream)

    def allGather(self, sendbuf: int, recvbuf: int, count: int, datatype: int, stream: int) -> None:  # noqa: N802
        dt = _dtype(datatype)
        recv = resolve(recvbuf, count * self._size, dt)

        def done(rows: np.ndarray) -> None:
            recv[...] = rows.reshape(-1)

        self._gather_all(resolve(sendbuf, count, dt), stream, done)

    def reduceScatter(self, sendbuf: int, recvbuf: int, recvcount: int, datatype: int, op: int, stream: int):  # noqa: N802
        dt = _dtype(datatype)
        self._check_op(op)
        recv = resolve(recvbuf, recvcount, dt)
        k = self._rank * recvcount

        def done(rows: np.ndarray) -> None:
            recv[...] = self._reduce(rows, op)[k : k + recvcount]

        self._gather_all(resolve(sendbuf, recvcount * self._size, dt), stream, done)

    def send(self, sendbuf: int, count: int, datatype: int, peer: int, stream: int) -> None:
        data = np.ascontiguousarray(resolve(sendbuf, count, _dtype(datatype))).copy()
        req = self._live().Isend(data.view(np.uint8), dest=peer)
        self._queue(stream, [req], lambda: None, data)

    def recv(self, recvbuf: int, count: int, datatype: int, peer: int, stream: int) -> None:
        buf = resolve(recvbuf, count, _dtype(datatype))
        tmp = np.empty_like(buf)
        req = self._live().Irecv(tmp.view(np.uint8), source=peer)

        def done() -> None:
            buf[...] = tmp

        self._queue(stream, [req], done, tmp)
