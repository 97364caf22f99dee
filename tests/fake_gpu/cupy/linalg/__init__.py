"""cupy.linalg: the names of cupy/linalg/__init__.py (v13.6.0), each over numpy.linalg's function."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _names
from .._functions import make_function

LinAlgError = np.linalg.LinAlgError

for _name, (_kind, _detail) in _names.CUPY_LINALG.items():
    if _kind == "function" and hasattr(np.linalg, _name):
        globals()[_name] = make_function(f"linalg.{_name}", getattr(np.linalg, _name), _detail)
        globals()[_name].__name__ = _name


def __getattr__(name: str) -> Any:
    if name in _names.CUPY_LINALG:
        raise AttributeError(f"cupy.linalg.{name} exists in CuPy {_names.TAG} but the CuPy stand-in does not "
                             "emulate it")  # fmt: skip
    raise AttributeError(f"module 'cupy.linalg' has no attribute '{name}'")
