"""Process-level settings that make tape-heavy Python workloads fast, applied once at import.

Both trade a little memory for time and are standard for numerical Python; both can be turned off.

* **glibc malloc** (Linux): serve arrays up to 32 MB from the heap and keep freed memory for reuse. A
  training step allocates and frees the same large arrays every time; by default glibc hands each one
  back to the kernel (munmap) and the next step pays page faults to get it again, which made a BPTT
  step up to twice as slow. The process keeps its peak memory reserved, as a caching allocator does.
  ``TINYGRAD_RNN_MALLOC_TUNING=0`` turns it off.
* **the cyclic garbage collector**: the tape makes no reference cycles (a node holds its inputs, never
  its outputs), yet every tensor and node is tracked, and with CPython's default first threshold of 700
  allocations the collector re-scans long graphs so often that building a 100,000-op graph took three
  times longer. The first threshold is raised to 10,000 (never lowered if already higher).
  ``TINYGRAD_RNN_GC_TUNING=0`` turns it off.
"""

from __future__ import annotations

import gc
import os
import sys


def keep_freed_memory() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("TINYGRAD_RNN_MALLOC_TUNING", "1") == "0":
        return False
    try:
        import ctypes  # noqa: PLC0415

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
        ok = libc.mallopt(m_mmap_threshold, 32 << 20)
        ok &= libc.mallopt(m_trim_threshold, 1 << 30)
        ok &= libc.mallopt(m_top_pad, 64 << 20)
        return bool(ok)
    except (OSError, AttributeError):
        return False


def relax_gc(first_threshold: int = 10_000) -> bool:
    if os.environ.get("TINYGRAD_RNN_GC_TUNING", "1") == "0":
        return False
    t0, t1, t2 = gc.get_threshold()
    if t0 and t0 < first_threshold:
        gc.set_threshold(first_threshold, t1, t2)
    return True


malloc_tuned = keep_freed_memory()
gc_tuned = relax_gc()
