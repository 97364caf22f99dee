"""cupy.fft: the names of cupy/fft/__init__.py (v13.6.0), each over numpy.fft's function."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _names
from .._functions import make_function

for _name, (_kind, _detail) in _names.CUPY_FFT.items():
    if _kind == "function" and hasattr(np.fft, _name):
        globals()[_name] = make_function(f"fft.{_name}", getattr(np.fft, _name), _detail)
        globals()[_name].__name__ = _name


def __getattr__(name: str) -> Any:
    if name in _names.CUPY_FFT:
        raise AttributeError(f"cupy.fft.{name} exists in CuPy {_names.TAG} but the CuPy stand-in does not emulate it")
    raise AttributeError(f"module 'cupy.fft' has no attribute '{name}'")
