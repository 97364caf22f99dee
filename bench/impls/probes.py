"""What a benchmark worker records about its own process besides the step times: the numba disk cache
(did the first step compile or load?), the peak resident memory of the timed steps, and the
environment an implementation asks for. Imports only the standard library at module level."""

from __future__ import annotations

import os
import sys
from typing import Any

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"


def apply_env(env: dict[str, str | None] | None) -> dict[str, str | None]:
    """Set (or, for None, remove) the variables an implementation asks for; return what was set."""
    for k, v in (env or {}).items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    return dict(env or {})


def numba_cache_state() -> dict | None:
    """Disk-cache hits and misses of every numba function tinygrad_rnn has loaded (None: no numba).

    numba counts, per compiled function, the signatures it loaded from the cache (hits) and those it
    had to compile (misses, which it then writes to the cache). Read right after the first step, a
    warm cache is hits > 0 and no miss; a cold one has misses.
    """
    if "numba" not in sys.modules:
        return None
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # pragma: no cover - a numba too different to ask
        return None
    seen: dict[int, Any] = {}
    for name, mod in list(sys.modules.items()):
        if name.split(".")[0] != "tinygrad_rnn" or mod is None:
            continue
        for v in list(vars(mod).values()):
            if isinstance(v, Dispatcher):
                seen[id(v)] = v
    hits = misses = compiled = 0
    for d in seen.values():
        st = d.stats
        hits += sum(st.cache_hits.values())
        misses += sum(st.cache_misses.values())
        compiled += len(d.overloads)
    return {
        "functions": len(seen),
        "signatures_in_use": compiled,
        "cache_hits": hits,
        "cache_misses": misses,
        "warm": (misses == 0) if hits + misses else None,
        "cache_dir": os.environ.get("NUMBA_CACHE_DIR") or "numba's default (__pycache__ next to the kernels)",
    }


def _status_kb(field: str) -> int | None:
    try:
        with open(_STATUS) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def rss_mb() -> float | None:
    kb = _status_kb("VmRSS")
    return None if kb is None else kb / 1024.0


def reset_peak_rss() -> bool:
    """Restart the kernel's peak-RSS counter (VmHWM) at the current RSS (Linux: clear_refs 5)."""
    try:
        with open(_CLEAR_REFS, "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float | None:
    kb = _status_kb("VmHWM")
    return None if kb is None else kb / 1024.0
