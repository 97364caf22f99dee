"""cupyx.scipy.special's erf and erfc (cupyx/scipy/special/_erf.py, v13.6.0: ufuncs with loops
'f->f' and 'd->d', so float32 stays float32 and an integer input takes the first loop it casts to
safely). Computed with the standard library's erf on the host side of the stand-in."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._ufunc import ufunc

_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _loop_dtype(a: np.ndarray) -> np.dtype:
    if a.dtype.kind == "f" and a.dtype.itemsize >= 4:
        return a.dtype
    return np.dtype(np.float32) if np.can_cast(a.dtype, np.float32) else np.dtype(np.float64)


def _elementwise(f: Any) -> Any:
    def run(x: Any) -> np.ndarray:
        a = np.asarray(x)
        dt = _loop_dtype(a)
        return np.asarray(f(a.astype(np.float64)), dtype=np.float64).astype(dt)

    return run


erf = ufunc("erf", _elementwise(_erf), 1, 1)
erfc = ufunc("erfc", _elementwise(_erfc), 1, 1)
