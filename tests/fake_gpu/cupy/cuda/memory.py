"""cupy.cuda.memory: pointers and pools (see ``cupy._memory``)."""

from .._memory import Memory, MemoryPointer, MemoryPool, PinnedMemoryPool  # noqa: F401

_allocator = None


def set_allocator(allocator: object = None) -> None:
    global _allocator
    _allocator = allocator


def get_allocator() -> object:
    return _allocator


def alloc(size: int) -> MemoryPointer:
    return MemoryPool().malloc(size)
