"""The CuPy path: gradients reduced over NCCL (``cupy.cuda.nccl``), the group bootstrapped over MPI.

Rank 0 makes NCCL's unique id and MPI broadcasts it; each rank then uses the GPU of its local rank
(``OMPI_COMM_WORLD_LOCAL_RANK`` modulo the GPUs it sees). Device arrays go over NCCL on a stream of
their own, which first waits for the work already queued on the current stream (the backward pass
that made the gradients); a collective is complete when an event recorded after it has fired.
Host arrays (the object collectives' bytes) and barriers go over MPI, as in ChainerMN.
"""

from __future__ import annotations

import os
from typing import Any


class _EventRequest:
    """An MPI-request-like handle on a CUDA event (``Work`` polls ``Test()``)."""

    def __init__(self, event: Any) -> None:
        self.event = event

    def Test(self) -> bool:  # noqa: N802  (mpi4py's spelling, which Work calls)
        return bool(self.event.done)


class NCCLGroup:
    backend = "nccl"

    def __init__(self, mpi: Any) -> None:
        import cupy
        from cupy.cuda import nccl

        self.cupy, self.nccl, self.mpi = cupy, nccl, mpi
        self.rank, self.size, self.timeout = mpi.rank, mpi.size, mpi.timeout
        local = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK", os.environ.get("MPI_LOCALRANKID", "0")))
        cupy.cuda.Device(local % cupy.cuda.runtime.getDeviceCount()).use()
        uid = mpi.comm.bcast(nccl.get_unique_id() if self.rank == 0 else None, root=0)
        self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.dtypes = {
            "float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32, "float64": nccl.NCCL_FLOAT64,
            "int32": nccl.NCCL_INT32, "int64": nccl.NCCL_INT64, "uint8": nccl.NCCL_UINT8, "int8": nccl.NCCL_INT8,
        }  # fmt: skip
        self.ops = {"sum": nccl.NCCL_SUM, "avg": nccl.NCCL_SUM, "product": nccl.NCCL_PROD, "min": nccl.NCCL_MIN,
                    "max": nccl.NCCL_MAX}  # fmt: skip

    def _dtype(self, buf: Any) -> Any:
        d = self.dtypes.get(buf.dtype.name)
        if d is None:
            raise TypeError(f"nccl: arrays of dtype {buf.dtype} cannot be reduced over NCCL")
        return d

    def _launch(self, issue: Any) -> _EventRequest:
        ready = self.cupy.cuda.Event()
        ready.record(self.cupy.cuda.get_current_stream())
        self.stream.wait_event(ready)
        issue()
        done = self.cupy.cuda.Event()
        done.record(self.stream)
        return _EventRequest(done)

    def iallreduce(self, buf: Any, op: str) -> Any:
        if not isinstance(buf, self.cupy.ndarray):
            return self.mpi.iallreduce(buf, op)
        d, o = self._dtype(buf), self.ops[op]
        return self._launch(lambda: self.comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, d, o, self.stream.ptr))

    def ibcast(self, buf: Any, root: int) -> Any:
        if not isinstance(buf, self.cupy.ndarray):
            return self.mpi.ibcast(buf, root)
        d = self._dtype(buf)
        return self._launch(lambda: self.comm.bcast(buf.data.ptr, buf.size, d, root, self.stream.ptr))

    def ibarrier(self) -> Any:
        return self.mpi.ibarrier()

    def iallgather(self, send: Any, recv: Any) -> Any:
        return self.mpi.iallgather(send, recv)

    def iallgatherv(self, send: Any, recv: Any, counts: Any) -> Any:
        return self.mpi.iallgatherv(send, recv, counts)

    def abort(self, message: str) -> None:
        self.mpi.abort(message)

    def close(self) -> None:
        self.comm.destroy()
        self.mpi.close()
