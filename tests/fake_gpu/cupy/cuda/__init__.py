"""cupy.cuda: one fake device, synchronous streams and events, pools that hold nothing.

Names follow cupy/cuda/__init__.py (v13.6.0); the submodule ``nccl`` is the fake NCCL over MPI and,
as in CuPy, must be imported (``from cupy.cuda import nccl``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from .. import _names
from .._memory import DEFAULT_PINNED_POOL, Memory, MemoryPointer, MemoryPool, PinnedMemoryPool
from . import device, memory, runtime, stream
from .device import Device, get_device_id
from .memory import alloc, get_allocator, set_allocator
from .stream import Event, ExternalStream, Stream, get_current_stream, get_elapsed_time

__all__ = [
    "Device", "Event", "ExternalStream", "Memory", "MemoryPointer", "MemoryPool", "PinnedMemoryPool", "Stream",
    "alloc", "device", "get_allocator", "get_current_stream", "get_device_id", "get_elapsed_time", "memory",
    "runtime", "set_allocator", "stream",
]  # fmt: skip


def is_available() -> bool:
    return True


def get_local_runtime_version() -> int:
    return runtime.runtimeGetVersion()


def set_pinned_memory_allocator(allocator: Any = None) -> None:
    pass


def alloc_pinned_memory(size: int) -> Any:
    return DEFAULT_PINNED_POOL


@contextlib.contextmanager
def using_allocator(allocator: Any = None) -> Any:
    old = get_allocator()
    set_allocator(allocator)
    try:
        yield
    finally:
        set_allocator(old)


@contextlib.contextmanager
def profile() -> Any:
    yield


def __getattr__(name: str) -> Any:
    if name in _names.CUPY_CUDA:
        raise AttributeError(f"cupy.cuda.{name} exists in CuPy {_names.TAG} but the CuPy stand-in does not emulate it")
    raise AttributeError(f"module 'cupy.cuda' has no attribute '{name}'")
