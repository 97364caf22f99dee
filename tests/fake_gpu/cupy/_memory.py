"""Device pointers: ``ndarray.data`` (a MemoryPointer-like object) and the registry behind it.

``ptr`` is the real address of the NumPy buffer, so a view's pointer lies inside its base's buffer
(``x[2:].data.ptr == x.data.ptr + 2 * x.itemsize``). Each array whose ``.data`` was read is kept in
a weak registry, so the fake NCCL can turn ``(ptr, count, dtype)`` back into memory.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

_registry: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()  # id -> device ndarray
_by_ptr: dict[int, set[int]] = {}


class Memory:
    """cupy.cuda.Memory (the allocation a pointer belongs to)."""

    def __init__(self, ptr: int, size: int) -> None:
        self.ptr, self.size, self.device_id = ptr, size, 0

    @property
    def device(self) -> Any:
        from .cuda.device import Device

        return Device(0)


class MemoryPointer:
    """cupy.cuda.MemoryPointer: ``ptr`` (int), ``mem``, ``device_id``, ``+ offset``."""

    __slots__ = ("ptr", "mem", "device_id", "_owner")

    def __init__(self, mem: Memory, offset: int, owner: Any = None) -> None:
        self.mem, self.ptr, self.device_id, self._owner = mem, mem.ptr + offset, 0, owner

    @property
    def device(self) -> Any:
        from .cuda.device import Device

        return Device(0)

    def __int__(self) -> int:
        return self.ptr

    def __add__(self, offset: int) -> MemoryPointer:
        p = MemoryPointer(self.mem, 0, self._owner)
        p.ptr = self.ptr + int(offset)
        return p

    def __sub__(self, offset: int) -> MemoryPointer:
        return self + (-int(offset))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemoryPointer) and other.ptr == self.ptr

    def __hash__(self) -> int:
        return hash(self.ptr)

    def __repr__(self) -> str:
        return f"<MemoryPointer 0x{self.ptr:x} (stand-in)>"


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def pointer_of(x: Any) -> MemoryPointer:
    a = x._a
    root = _root(a)
    start = root.__array_interface__["data"][0]
    here = a.__array_interface__["data"][0]
    _registry[id(x)] = x
    _by_ptr.setdefault(here, set()).add(id(x))
    return MemoryPointer(Memory(start, root.nbytes), here - start, x)


def resolve(ptr: int, count: int, dtype: np.dtype) -> np.ndarray:
    """A writable NumPy view of ``count`` elements of ``dtype`` starting at device address ``ptr``."""
    dtype = np.dtype(dtype)
    nbytes = count * dtype.itemsize
    for i in list(_by_ptr.get(ptr, ())):
        x = _registry.get(i)
        if x is None:
            _by_ptr[ptr].discard(i)
            continue
        a = x._a
        if a.flags.c_contiguous and a.__array_interface__["data"][0] == ptr and a.nbytes >= nbytes:
            return a.reshape(-1).view(np.uint8)[:nbytes].view(dtype)
    for x in list(_registry.values()):
        root = _root(x._a)
        start = root.__array_interface__["data"][0]
        if start <= ptr and ptr + nbytes <= start + root.nbytes and root.flags.c_contiguous:
            flat = root.reshape(-1).view(np.uint8)
            return flat[ptr - start : ptr - start + nbytes].view(dtype)
    raise ValueError(f"stand-in NCCL: no live device buffer holds {count} x {dtype} at 0x{ptr:x} "
                     "(pointers must come from ndarray.data.ptr)")  # fmt: skip


def array_at(memptr: MemoryPointer, shape: Any, dtype: np.dtype, strides: Any, order: str) -> np.ndarray:
    """``cupy.ndarray(shape, dtype, memptr=...)``: an array over existing device memory."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    n = int(np.prod(shape))
    flat = resolve(memptr.ptr, n, dtype)
    if strides is None:
        return flat.reshape(shape, order=order)
    return np.lib.stride_tricks.as_strided(flat, shape, strides)


class MemoryPool:
    """cupy.cuda.MemoryPool: byte counts of the live device arrays' buffers are not tracked (0)."""

    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0

    def free_bytes(self) -> int:
        return 0

    def free_all_blocks(self, stream: Any = None) -> None:
        pass

    def n_free_blocks(self) -> int:
        return 0

    def set_limit(self, size: Any = None, fraction: Any = None) -> None:
        self._limit = size

    def get_limit(self) -> int:
        return getattr(self, "_limit", 0) or 0

    def malloc(self, size: int) -> MemoryPointer:
        buf = np.empty(max(int(size), 1), np.uint8)
        from ._core import new

        return pointer_of(new(buf))


class PinnedMemoryPool:
    def free_all_blocks(self) -> None:
        pass

    def n_free_blocks(self) -> int:
        return 0

    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0


DEFAULT_POOL = MemoryPool()
DEFAULT_PINNED_POOL = PinnedMemoryPool()
