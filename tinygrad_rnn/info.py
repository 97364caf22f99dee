"""``tg.info()``: what this process runs on: the array backend, the recurrent kernels and their BLAS."""

from __future__ import annotations

import importlib.metadata
import sys
from typing import Any

import numpy as np

from . import backend, kernels


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def info() -> dict[str, Any]:
    """A dict of facts about this process (printable with ``print(tg.info())``): ``backend``
    ('numpy' or 'cupy'), ``kernels`` (the recurrent kernels the fused layers run in this thread for
    float32/float64: 'numba', 'numpy' or 'cupy'), ``kernels_requested`` (``TINYGRAD_RNN_KERNELS``
    resolved), ``numba`` (version or None), ``gemm`` (with numba kernels: the BLAS symbol each step
    calls, once they are loaded), ``numpy``, ``cupy`` and ``python`` versions."""
    loaded = kernels.loaded()
    return {
        "backend": backend.name,
        "kernels": kernels.in_use(),
        "kernels_requested": kernels.requested,
        "kernels_note": kernels.note(),
        "numba": _version("numba"),
        "gemm": getattr(loaded, "BLAS", None),
        "numpy": np.__version__,
        "cupy": getattr(backend.xp, "__version__", None) if backend.name == "cupy" else None,
        "python": sys.version.split()[0],
    }
