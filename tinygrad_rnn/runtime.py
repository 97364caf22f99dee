"""Opt-in process settings that make tape-heavy Python workloads faster: :func:`tune_process`.

Importing tinygrad_rnn changes nothing in the host process: a library must not reconfigure the program
that imports it. Programs that own their process (the ``tinygrad-rnn`` command, the examples, the
benchmarks) call ``tune_process()`` once at start-up. Both settings trade memory for time:

* **glibc malloc** (Linux): serve arrays up to 32 MB from the heap and keep freed memory for reuse. A
  training step allocates and frees the same large arrays every time; by default glibc hands each one
  back to the kernel (munmap) and the next step pays page faults to get it again. The process keeps its
  peak memory reserved, as a caching allocator does. ``TINYGRAD_RNN_MALLOC_TUNING=0`` vetoes it.
* **the cyclic garbage collector**: the tape makes no reference cycles (a node holds its inputs, never
  its outputs), yet every tensor and node is tracked, and with CPython's default first threshold of 700
  allocations the collector re-scans long graphs again and again while they are built. The first
  threshold is raised to 10,000 (never lowered if already higher). ``TINYGRAD_RNN_GC_TUNING=0`` vetoes it.

The measured effect of each is in ``bench/README.md`` (section "Process settings"), by
``bench/process_settings.py``.
"""

from __future__ import annotations

import gc
import os
import sys

applied = {"malloc": False, "gc": False}  # what tune_process() has set in this process


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse; False where that is not glibc or it refuses."""
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
    """Raise the collector's first threshold to ``first_threshold`` (never lower it)."""
    if os.environ.get("TINYGRAD_RNN_GC_TUNING", "1") == "0":
        return False
    t0, t1, t2 = gc.get_threshold()
    if t0 and t0 < first_threshold:
        gc.set_threshold(first_threshold, t1, t2)
    return True


def tune_process(malloc: bool = True, collector: bool = True) -> dict[str, bool]:
    """Apply the process settings above (each unless vetoed by its environment variable); returns what
    is in force. Call it from a program's entry point, never from library code."""
    if malloc and not applied["malloc"]:
        applied["malloc"] = keep_freed_memory()
    if collector and not applied["gc"]:
        applied["gc"] = relax_gc()
    return dict(applied)
