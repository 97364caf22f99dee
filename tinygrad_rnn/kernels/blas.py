"""NumPy's own BLAS ``gemm``, as ctypes functions the compiled loops call for each step's product.

Why not ``np.dot`` inside numba: numba routes it through SciPy's BLAS, a second OpenBLAS with its own
thread pool beside NumPy's (on a 2-core machine the two pools' spinning workers take turns with each
other), and it allocates the result every step. Calling the ``cblas_?gemm`` that NumPy's wheel ships
keeps one BLAS and one pool in the process, the kernel threadpoolctl reports, and writes each step's
product straight into its buffer (β = 1 adds it to the input projection in place).

:func:`find` looks for the library in NumPy's wheel (``numpy.libs``) and for its exported symbols
(``scipy_cblas_sgemm64_`` in NumPy ≥ 2's wheels, with 64-bit integers). Where it finds none (a NumPy
built against another BLAS), the compiled loops are not used and the fused layers run the array loops.
"""

from __future__ import annotations

import ctypes
import glob
import os
from typing import Any

import numpy as np

# symbol (prefix, suffix) of an ILP64 cblas (64-bit integers): NumPy 2's wheels, then a plain build
_NAMINGS = (("scipy_cblas_", "64_"), ("cblas_", "64_"))
ROW_MAJOR, NO_TRANS = 101, 111  # CBLAS enum values


def _candidates() -> list[str]:
    root = os.path.dirname(os.path.dirname(np.__file__))  # site-packages (numpy.libs sits beside numpy)
    found = []
    for pattern in ("numpy.libs/*blas*.so*", "numpy/.libs/*blas*.so*", "numpy.libs/*blas*.dylib"):
        found += sorted(glob.glob(os.path.join(root, pattern)))
    return found


def _signature(fn: Any, real: Any) -> Any:
    fn.restype = None
    i, p = ctypes.c_int64, ctypes.c_void_p
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i, i, i, real, p, i, p, i, real, p, i]
    return fn


def find() -> tuple[Any, Any, str] | None:
    """(sgemm, dgemm, where they were found) from NumPy's BLAS, or None."""
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)  # already loaded by NumPy: the same copy, the same thread pool
        except OSError:
            continue
        for prefix, suffix in _NAMINGS:
            try:
                s, d = getattr(lib, f"{prefix}sgemm{suffix}"), getattr(lib, f"{prefix}dgemm{suffix}")
            except AttributeError:
                continue
            s, d = _signature(s, ctypes.c_float), _signature(d, ctypes.c_double)
            return s, d, f"{os.path.basename(path)}:{prefix}?gemm{suffix}"
    return None
