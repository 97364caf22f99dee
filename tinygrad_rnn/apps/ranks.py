"""What an app needs to run as one rank of an MPI job: join it, let rank 0 alone touch files, stop together.

The char-LM :class:`~tinygrad_rnn.apps.charlm.Trainer` and ``tinygrad-rnn train`` use these helpers so
that one code path serves one process and ``mpiexec -n K``. The danger they guard against is a hang:
MPI collectives must be entered by every rank, and a rank that leaves early (an error, a Ctrl-C) leaves
the others waiting in the next one, until the group's timeout (30 minutes by default). Open MPI does
not end the job when a rank exits normally, even with a non-zero status. Hence three rules:

- Rank 0 alone reads and writes files (corpus, checkpoints). :func:`on_rank0` runs such a step there and
  hands its result, or its exception, to every rank, so a missing file or a full disk ends every rank
  the same way, with the same message, and the job exits cleanly.
- An exception that was not raised on every rank aborts the whole job (:func:`errors_end_the_job`).
- SIGINT and SIGTERM never interrupt a rank in the middle of a step: :func:`stop_on_signals` records
  them, and before each step the ranks agree (:func:`stop_agreed`) whether any of them got one. So all
  of them stop after the same committed step, whichever ranks the signal reached (a launcher that
  forwards Ctrl-C to every rank, ``kill -INT`` of one rank, a batch system's SIGTERM).

Without a process group, or in a world of one, every helper is the single-process identity: nothing is
communicated and no signal handler changes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from .. import distributed as dist
from ..tensor import Tensor

__all__ = [
    "EVERY_RANK",
    "errors_end_the_job",
    "gather",
    "join_launched_job",
    "launched_by_mpi",
    "mean",
    "on_rank0",
    "stop_agreed",
    "stop_on_signals",
    "world",
]

T = TypeVar("T")
# An exception carrying this attribute (True) was raised on every rank, by on_rank0: no abort is needed.
EVERY_RANK = "raised_on_every_rank"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
HARD_STOP_AFTER = 3  # this many stop signals and the rank dies of the last one at once (see _record)


def launched_by_mpi() -> bool:
    """True when an MPI launcher (mpiexec, srun) started this process: it set one of its variables."""
    return dist.launched_by_mpi()


def join_launched_job() -> bool:
    """Join the MPI job that launched this process, if one did and no group exists yet.

    Returns True when it called ``init_process_group`` (so the caller leaves the group again). Outside a
    launcher nothing is imported or started: a plain run stays exactly a plain run. Raises ImportError
    (naming the ``[mpi]`` extra) when launched by MPI without mpi4py.
    """
    if dist.is_initialized() or not launched_by_mpi():
        return False
    dist.init_process_group()
    return True


def world() -> tuple[int, int]:
    """``(world size, rank)`` of the default process group; ``(1, 0)`` without one."""
    if not dist.is_initialized():
        return 1, 0
    return dist.get_world_size(), dist.get_rank()


def on_rank0(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only; every rank returns its result, or raises its exception.

    The result (and an exception) travels pickled, so it must pickle. A re-raised exception carries
    ``EVERY_RANK`` so that :func:`errors_end_the_job` lets the ranks end normally, together.
    """
    size, rank = world()
    if size == 1:
        return fn()
    box: list[Any] = [None, None]
    if rank == 0:
        try:
            box[0] = fn()
        except Exception as e:  # any: the other ranks must learn of it, or they would wait forever
            box[1] = e
    dist.broadcast_object_list(box, src=0)
    result, error = box
    if error is not None:
        setattr(error, EVERY_RANK, True)
        raise error
    return result


def mean(value: float) -> float:
    """``value`` averaged over the ranks (in float64): a loss each rank computed over its own share."""
    if world()[0] == 1:
        return value
    t = Tensor(np.array([value], dtype=np.float64))
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    return float(t.numpy()[0])


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    size = world()[0]
    if size == 1:
        return [obj]
    out: list[Any] = [None] * size
    dist.all_gather_object(out, obj)
    return out


@contextlib.contextmanager
def errors_end_the_job() -> Iterator[None]:
    """Abort the whole job for an exception that not every rank raised.

    Such an exception would end this rank while the others wait for it in a collective. One that
    :func:`on_rank0` raised everywhere propagates normally (every rank reports it and exits).
    """
    try:
        yield
    except Exception as e:
        if world()[0] > 1 and not getattr(e, EVERY_RANK, False):
            dist.abort(f"{type(e).__name__}: {e}")
        raise


class _Stop:
    """The stop signals this rank received while :func:`stop_on_signals` was active."""

    signum = 0  # the first one (0: none)
    count = 0
    depth = 0  # nesting of stop_on_signals blocks (handlers are installed by the outermost)
    previous: dict[int, Any] = {}


STOP = _Stop()


def _record(signum: int, frame: Any) -> None:
    """The handler: note the signal; the training loop stops at the next step boundary.

    A rank that does not come to a step boundary (a peer hangs, a long step) must still be stoppable: the
    ``HARD_STOP_AFTER``-th signal kills this rank with that signal's default action, which makes the
    launcher end the other ranks too (a rank killed by a signal ends an MPI job; one that exits does not).
    """
    STOP.count += 1
    STOP.signum = STOP.signum or signum
    if STOP.count >= HARD_STOP_AFTER:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM only ask for a stop (in a world of more than one; otherwise nothing).

    Nested blocks share one record, kept from the outermost block's start, so a signal received while
    a run was being set up still stops the training loop. A signal that was ignored stays ignored, and
    the previous handlers are restored at the end of the outermost block.
    """
    if world()[0] == 1 or threading.current_thread() is not threading.main_thread():
        yield
        return
    if STOP.depth == 0:
        STOP.signum = STOP.count = 0
        STOP.previous = {}
        for s in STOP_SIGNALS:
            old = signal.getsignal(s)
            if old is not signal.SIG_IGN and old is not None:  # None: set outside Python, not restorable
                STOP.previous[s] = signal.signal(s, _record)
    STOP.depth += 1
    try:
        yield
    finally:
        STOP.depth -= 1
        if STOP.depth == 0:
            for signum, handler in STOP.previous.items():
                signal.signal(signum, handler)


def stop_agreed() -> int:
    """Collective: the largest stop signal number any rank has received (0: go on).

    Every rank gets the same answer, so every rank stops after the same step.
    """
    if world()[0] == 1:
        return STOP.signum
    t = Tensor(np.array([STOP.signum], dtype=np.int64))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.numpy()[0])
