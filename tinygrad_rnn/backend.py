"""The array library behind every tensor: NumPy on the CPU or CuPy on an NVIDIA GPU.

This is the only module that imports CuPy. The choice is read once, at import, from
``TINYGRAD_RNN_BACKEND``:

========== =========================================================================
value      meaning
========== =========================================================================
``numpy``  (default; alias ``cpu``) NumPy arrays in host memory
``cupy``   (aliases ``gpu``, ``cuda``) CuPy arrays on the current CUDA device; an error
           if CuPy is missing or sees no GPU
``auto``   CuPy when a GPU is usable, else NumPy with one notice on stderr
========== =========================================================================
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any

import numpy as np

from . import checks

ENV_VAR = "TINYGRAD_RNN_BACKEND"
_ALIASES = {"numpy": "numpy", "cpu": "numpy", "cupy": "cupy", "gpu": "cupy", "cuda": "cupy", "auto": "auto"}
_INSTALL_HINT = "pip install 'tinygrad_rnn[cuda12]' (CUDA 12) or 'tinygrad_rnn[cuda13]' (CUDA 13)"


class BackendError(RuntimeError):
    """The requested array backend cannot be used on this machine."""


def _probe_cupy() -> tuple[ModuleType | None, str]:
    """Return (cupy module, '') when CuPy imports and sees a GPU, else (None, what was found)."""
    try:
        import cupy  # noqa: PLC0415  (optional dependency, imported only here)
    except Exception as e:  # ImportError, or a CUDA library failing to load
        return None, f"CuPy could not be imported ({type(e).__name__}: {e})"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        return None, f"CuPy {cupy.__version__} is installed but CUDA failed ({type(e).__name__}: {e})"
    if n < 1:
        return None, f"CuPy {cupy.__version__} is installed but sees no GPU"
    return cupy, ""


def resolve_backend(value: str | None, probe=_probe_cupy) -> tuple[str, ModuleType]:
    """Map a ``TINYGRAD_RNN_BACKEND`` value to ``(name, array module)``.

    ``probe`` is injectable so the selection rules can be tested on machines without a GPU.
    """
    raw = "numpy" if value is None or value.strip() == "" else value
    key = _ALIASES.get(raw.strip().lower())
    if key is None:
        valid = ", ".join(sorted(_ALIASES))
        raise BackendError(f"{ENV_VAR}={raw!r} is not a known backend; valid values are: {valid}")
    if key == "numpy":
        return "numpy", np
    cp, found = probe()
    if cp is not None:
        return "cupy", cp
    if key == "cupy":
        raise BackendError(
            f"{ENV_VAR}={raw!r} asks for the GPU backend, but {found}. "
            f"Install CuPy for your CUDA version: {_INSTALL_HINT}; "
            f"or unset {ENV_VAR} to run on NumPy."
        )
    print(f"tinygrad_rnn: {ENV_VAR}=auto: no usable GPU ({found}); using NumPy.", file=sys.stderr)
    return "numpy", np


name, xp = resolve_backend(os.environ.get(ENV_VAR))
ndarray = xp.ndarray


def to_backend(a: Any, dtype: Any = None) -> Any:
    """An array of the active backend (no copy when ``a`` already is one of that dtype)."""
    return xp.asarray(a, dtype=dtype)


def to_numpy(a: Any) -> np.ndarray:
    """A host NumPy array, whichever backend made ``a``.

    Under CuPy this is the read-back that the device checks of :mod:`.checks` wait for: their pending
    flags travel in the same transfer, and a failed one raises here.
    """
    if isinstance(a, np.ndarray):
        return a
    if name == "cupy" and isinstance(a, xp.ndarray):
        return _read_back(a) if checks.waiting() else xp.asnumpy(a)
    return np.asarray(a)


def _read_back(a: Any) -> np.ndarray:
    """``a`` on the host, with the pending check flags appended to the same transfer (one sync)."""
    pending = checks.take()
    flags = xp.stack([xp.asarray(f, dtype=bool).reshape(()) for f, _ in pending])
    data = xp.ascontiguousarray(a).reshape(-1).view(np.uint8)
    host = xp.asnumpy(xp.concatenate([data, flags.view(np.uint8)]))
    checks.raise_failed(pending, host[data.size :])
    return host[: data.size].view(a.dtype).reshape(a.shape)


def flush_checks() -> None:
    """Raise now if a pending device check failed (one sync under CuPy when checks are pending)."""
    if checks.waiting():
        _read_back(xp.zeros((0,), dtype=np.uint8))


def item(a: Any) -> Any:
    """The one element of ``a`` as a Python number (a read-back under CuPy)."""
    return to_numpy(a).item()


def is_array(a: Any) -> bool:
    return isinstance(a, ndarray)


# ---- default dtype -------------------------------------------------------------------------------
_FLOAT_DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}
_default_dtype = np.dtype(np.float32)


def as_float_dtype(dtype: Any, what: str = "dtype") -> np.dtype:
    """Normalise a float dtype spec ('float32', np.float64, ...); anything else is a clear error."""
    try:
        d = np.dtype(dtype)
    except TypeError:
        d = None
    if d is None or d.name not in _FLOAT_DTYPES:
        raise TypeError(f"{what}: expected one of {sorted(_FLOAT_DTYPES)}, got {dtype!r}")
    return d


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype of new floating tensors and parameters ('float32' or 'float64')."""
    global _default_dtype
    _default_dtype = as_float_dtype(dtype, "set_default_dtype")


def get_default_dtype() -> np.dtype:
    return _default_dtype


# ---- random numbers ------------------------------------------------------------------------------
# Parameter initialisation and sampling draw from a host NumPy generator so that one seed gives the
# same numbers on every backend; large per-step draws (dropout masks) use the device generator.
_rng = np.random.default_rng()
_device_rng: Any = None


def manual_seed(seed: int) -> None:
    """Make parameter initialisation, dropout and sampling repeatable."""
    global _rng, _device_rng
    _rng = np.random.default_rng(seed)
    _device_rng = xp.random.default_rng(seed) if name == "cupy" else None


def host_rng() -> np.random.Generator:
    return _rng


def device_rng() -> Any:
    """Generator for draws made on the active device (the host one under NumPy)."""
    global _device_rng
    if name != "cupy":
        return _rng
    if _device_rng is None:
        _device_rng = xp.random.default_rng(int(_rng.integers(2**31)))
    return _device_rng


def scatter_add(target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` where repeated indices accumulate (in place)."""
    xp.add.at(target, index, values)  # CuPy has ufunc.at for add (it deprecated cupyx.scatter_add for it)
