"""Recurrent kernels: each cell's forward time loop and BPTT loop, one implementation per backend.

Below the ops (``ops/recurrent.py`` is the tape glue that calls them) and above nothing but the
backend. Implementations, one interface (see :mod:`.array_loops`):

========== ================================================================================
``numpy``  :mod:`.array_loops` on NumPy: array calls per step (the reference and the fallback)
``numba``  :mod:`.numba_loops`: the whole loop compiled, one fused pass per step (CPU only)
``cupy``   :mod:`.array_loops` on CuPy (what runs whenever the backend is the GPU)
========== ================================================================================

``TINYGRAD_RNN_KERNELS=numpy|numba|auto`` (read once, at import; default ``auto``) picks the CPU
kernels: ``auto`` is numba when it can be imported. numba itself is imported on the first fused call,
not at import. The compiled loops cover float32 and float64; other dtypes take the array loops.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from types import ModuleType
from typing import Any

import numpy as np

from .. import backend
from ..modes import MODES, Switch
from ..sigint import defer_sigint
from . import array_loops

ENV_VAR = "TINYGRAD_RNN_KERNELS"
CHOICES = ("numpy", "numba", "auto")


class KernelError(RuntimeError):
    """The requested kernels cannot run here."""


def _numba_installed() -> bool:
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, a broken parent package
        return False


def resolve(value: str | None, backend_name: str, installed: bool) -> str:
    """The kernel set for a ``TINYGRAD_RNN_KERNELS`` value on a backend ('numpy', 'numba' or 'cupy')."""
    raw = (value or "auto").strip().lower() or "auto"
    if raw == backend_name:  # what in_use() reports may be asked for again (kernels.use("cupy") on a GPU)
        return raw
    if raw not in CHOICES:
        raise KernelError(f"{ENV_VAR}={value!r} is not a kernel set; valid values are: {', '.join(CHOICES)}")
    if backend_name != "numpy":
        if raw == "numba":
            raise KernelError(f"{ENV_VAR}=numba runs on the CPU, but the backend is {backend_name}; unset {ENV_VAR}")
        return backend_name
    if raw == "numba" and not installed:
        raise KernelError(
            f"{ENV_VAR}=numba, but numba is not installed: pip install 'tinygrad_rnn[numba]', or unset the variable"
        )
    if raw == "auto":
        return "numba" if installed else "numpy"
    return raw


requested = resolve(os.environ.get(ENV_VAR), backend.name, _numba_installed())
_lock = threading.Lock()
_compiled: ModuleType | None = None
_load_error = ""


def _numba_loops() -> ModuleType | None:
    """The compiled module, imported once; None (with a notice) if numba fails to import under auto."""
    global _compiled, _load_error
    if _compiled is None and not _load_error:
        with _lock:
            if _compiled is None and not _load_error:
                try:
                    with defer_sigint():  # a Ctrl-C inside numba's import would turn into an ImportError
                        from . import numba_loops  # noqa: PLC0415  (optional dependency, imported on first use)
                except Exception as e:  # a broken numba/llvmlite install
                    if os.environ.get(ENV_VAR, "auto").strip().lower() == "numba":
                        raise KernelError(f"{ENV_VAR}=numba, but numba failed to import: {e}") from e
                    _load_error = f"{type(e).__name__}: {e}"
                    print(f"tinygrad_rnn: numba failed to import ({_load_error}); using NumPy kernels", file=sys.stderr)
                    return None
                _compiled = numba_loops
    return _compiled


class use(Switch):  # noqa: N801  (a context manager, used like a function)
    """Run the fused layers on other kernels in this thread: ``with kernels.use("numpy"): ...``
    (``"numpy"``, ``"numba"`` or ``"auto"``, resolved as ``TINYGRAD_RNN_KERNELS`` is)."""

    mode = "kernels"

    def __init__(self, name: str) -> None:
        self.name = resolve(name, backend.name, _numba_installed())

    def value(self, old: str | None) -> str:
        return self.name


def for_dtype(dtype: Any) -> ModuleType:
    """The loops to run for arrays of ``dtype`` (numba's cover float32 and float64)."""
    chosen = MODES.kernels or requested
    if chosen == "numba" and dtype in _COMPILED_DTYPES:
        loops = _numba_loops()
        if loops is not None:
            return loops
    return array_loops


def warm_up(cells: tuple = ("lstm", "gru", "rnn"), dtype: Any = "float32") -> None:
    """Load the compiled loops for ``cells`` and ``dtype`` now (from numba's cache, or compile them), so
    that the first training step does not pay for it: the command line's ``train`` calls this before
    its training loop starts. Runs each loop once on a one-element sequence, with and without an output
    gradient; a no-op on the NumPy and CuPy kernels."""
    d = np.dtype(dtype)
    loops = for_dtype(d)
    if loops is array_loops:
        return
    acts4, acts3, acts1 = (np.zeros((1, 1, g), d) for g in (4, 3, 1))
    w4, w3, w1 = (np.zeros((1, g), d) for g in (4, 3, 1))
    for g_out in (None, np.zeros((1, 1, 1), d)):
        one = lambda: np.zeros((1, 1), d)  # noqa: E731  (a fresh state gradient per call)
        if "lstm" in cells:
            hs, cs, tc = np.zeros((2, 1, 1), d), np.zeros((2, 1, 1), d), np.zeros((1, 1, 1), d)
            loops.lstm_forward(acts4.copy(), np.zeros((1, 4), d), hs, cs, tc, None, False, True)
            loops.lstm_backward(acts4, hs, cs, tc, w4, g_out, one(), one(), None, False, True)
        if "gru" in cells:
            hs, hn = np.zeros((2, 1, 1), d), np.zeros((1, 1, 1), d)
            for b_hn in (np.zeros(1, d), None):
                loops.gru_forward(acts3.copy(), np.zeros((1, 3), d), b_hn, hs, hn, None, False, True)
            loops.gru_backward(acts3, hs, hn, w3, g_out, one(), None, False, True)
        if "rnn" in cells:
            hs = np.zeros((2, 1, 1), d)
            for relu in (False, True):
                loops.rnn_forward(acts1.copy(), w1, hs, None, False, True, relu)
                loops.rnn_backward(hs, w1, g_out, one(), None, False, True, relu)


def loaded() -> ModuleType | None:
    """The compiled module if it has been imported in this process (it is, on the first fused call)."""
    return _compiled


def note() -> str:
    """Why the compiled kernels are not running, if they were asked for and are not ('' otherwise)."""
    if _load_error:
        return f"numba kernels unavailable ({_load_error}): using the NumPy kernels"
    if requested == "numpy" and backend.name == "numpy" and _numba_installed():
        return f"{ENV_VAR}=numpy: numba is installed but not used"
    return ""


def in_use() -> str:
    """Which kernels the fused layers run for float32 in this thread ('numba', 'numpy' or 'cupy')."""
    chosen = MODES.kernels or requested
    if chosen == "numba" and _load_error:
        return "numpy"
    return chosen


_COMPILED_DTYPES = (np.dtype("float32"), np.dtype("float64"))
