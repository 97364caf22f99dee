"""NumPy's protocols on device arrays (core.pyx ``__array_ufunc__``/``__array_function__``, v13.6.0).

``numpy.exp(x)`` and ``numpy.sum(x)`` run the stand-in's same-named function, as CuPy's do. A name
the stand-in (i.e. CuPy) lacks gives NotImplemented, so NumPy raises its TypeError; host arrays
among the operands reach the stand-in's function and are refused there.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import numpy as np

from ._core import SCALAR_TYPES, ndarray

_PKG = __package__
_HANDLED = (ndarray, np.ndarray)
_METHODS = ("__call__", "outer", "at", "reduce", "accumulate", "reduceat")
_COMPARISONS = ("greater", "greater_equal", "less", "less_equal", "equal", "not_equal")


def array_ufunc(ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
    inout = inputs
    if "out" in kwargs:
        out = kwargs["out"]
        if len(out) != 1:
            raise ValueError("The 'out' parameter must have exactly one array value")
        inout += out
        kwargs["out"] = out[0]
    if method not in _METHODS:
        return NotImplemented
    name = ufunc.__name__
    func = getattr(sys.modules[_PKG], name, None)
    if func is None:
        return NotImplemented
    if method != "__call__":
        func = getattr(func, method, None)
        if func is None:
            return NotImplemented
    for x in inout:
        if not (isinstance(x, ndarray) or type(x) in SCALAR_TYPES or isinstance(x, np.ndarray)):
            return NotImplemented
    if name in _COMPARISONS:
        inputs = tuple(x.item() if isinstance(x, np.ndarray) and x.ndim == 0 else x for x in inputs)
    return func(*inputs, **kwargs)


def array_function(func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
    try:
        module = functools.reduce(getattr, func.__module__.split(".")[1:], sys.modules[_PKG])
        ours = getattr(module, func.__name__)
    except AttributeError:
        return NotImplemented
    if ours is func:
        return NotImplemented  # a NumPy object CuPy re-exports
    for t in types:
        if not issubclass(t, _HANDLED):
            return NotImplemented
    return ours(*args, **kwargs)


def attach() -> None:
    ndarray.__array_ufunc__ = lambda self, ufunc, method, *inputs, **kw: array_ufunc(ufunc, method, inputs, kw)
    ndarray.__array_function__ = lambda self, func, types, args, kwargs: array_function(func, types, args, kwargs)
