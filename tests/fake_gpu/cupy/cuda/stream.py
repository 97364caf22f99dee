"""Streams and events (cupy/cuda/stream.pyx).

Array work is synchronous: it is done when it is issued. The one kind of work that is queued is the
fake NCCL's collectives (``nccl.py``), which are MPI requests in flight on the stream they were
issued to: an event recorded on that stream is ``done`` once they have completed (testing the event
drives MPI's progress), ``synchronize()`` waits for them, and their results land in the receive
buffers only then, as with a real NCCL kernel. ``synchronize()`` is counted as a host wait.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from .. import _sync

_ptrs = itertools.count(0x1000, 0x10)
_local = threading.local()
_queued: dict[int, list] = {}  # stream ptr -> work in flight (objects with .test() and .wait())


def enqueue(stream_ptr: int, work: Any) -> None:
    """Queue in-flight work (a fake NCCL collective: ``.finished``, ``.test()``, ``.wait()``) on a stream."""
    items = _queued.setdefault(int(stream_ptr), [])
    while items and items[0].finished:
        items.pop(0)
    items.append(work)


def _progress(items: list, block: bool) -> bool:
    """Complete queued work in stream order; True when all of it is complete."""
    for w in items:
        if w.finished:
            continue
        if block:
            w.wait()
        elif not w.test():
            return False
    return True


def _wait_all(ptr: int | None = None) -> None:
    for p, items in list(_queued.items()):
        if ptr is None or p == ptr:
            _progress(items, block=True)


class Event:
    def __init__(self, block: bool = False, disable_timing: bool = False, interprocess: bool = False) -> None:
        self.ptr = next(_ptrs)
        self._time: float | None = None
        self._disable_timing = disable_timing
        self._before: list = []  # the stream's queued work at record time

    @property
    def done(self) -> bool:
        return _progress(self._before, block=False)

    def record(self, stream: Any = None) -> None:
        s = stream if stream is not None else get_current_stream()
        self._before = list(_queued.get(s.ptr, ()))
        self._time = time.perf_counter()

    def synchronize(self) -> None:
        _sync.record("Event.synchronize")
        _progress(self._before, block=True)


class _EventWait:
    """Queued on a stream by ``wait_event``: complete when the event's work is."""

    def __init__(self, event: Event) -> None:
        self.event, self.finished = event, False

    def test(self) -> bool:
        self.finished = self.event.done
        return self.finished

    def wait(self) -> None:
        _progress(self.event._before, block=True)
        self.finished = True


def get_elapsed_time(start_event: Event, end_event: Event) -> float:
    """Milliseconds between two recorded events."""
    if start_event._time is None or end_event._time is None:
        from .runtime import CUDARuntimeError

        raise CUDARuntimeError(400, "cudaErrorInvalidResourceHandle: an event was not recorded")
    return (end_event._time - start_event._time) * 1000.0


class _BaseStream:
    def __init__(self, ptr: int, device_id: int = 0) -> None:
        self.ptr, self.device_id = ptr, device_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _BaseStream) and other.ptr == self.ptr

    def __hash__(self) -> int:
        return hash(self.ptr)

    def __enter__(self) -> _BaseStream:
        _stack().append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _stack().pop()

    def __repr__(self) -> str:
        return f"<Stream {self.ptr:#x} (device {self.device_id})>"

    def use(self) -> _BaseStream:
        st = _stack()
        st[-1:] = [self] if st else [self]
        return self

    @property
    def done(self) -> bool:
        return _progress(_queued.get(self.ptr, []), block=False)

    def synchronize(self) -> None:
        _sync.record("Stream.synchronize")
        _wait_all(self.ptr)

    def record(self, event: Event | None = None) -> Event:
        ev = event if event is not None else Event()
        ev.record(self)
        return ev

    def wait_event(self, event: Event) -> None:
        # later work on this stream runs after the event's: queue a marker that waits for it
        if event._before:
            enqueue(self.ptr, _EventWait(event))

    def add_callback(self, callback: Any, arg: Any) -> None:
        callback(self, None, arg)

    def launch_host_func(self, callback: Any, arg: Any) -> None:
        callback(arg)


class Stream(_BaseStream):
    null: Stream
    ptds: Stream

    def __init__(self, null: bool = False, non_blocking: bool = False, ptds: bool = False) -> None:
        super().__init__(0 if null else 2 if ptds else next(_ptrs))
        self.non_blocking = non_blocking


class ExternalStream(_BaseStream):
    def __init__(self, ptr: int, device_id: int = -1) -> None:
        super().__init__(int(ptr), max(device_id, 0))


Stream.null = Stream(null=True)
Stream.ptds = Stream(ptds=True)


def _stack() -> list:
    st = getattr(_local, "stack", None)
    if st is None:
        st = _local.stack = []
    return st


def get_current_stream(device_id: int = -1) -> _BaseStream:
    st = _stack()
    return st[-1] if st else Stream.null
