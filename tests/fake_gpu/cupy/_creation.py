"""Host->device copies: the creation functions that accept host data (cupy/_creation/from_data.py,
cupy/_core/core.pyx ``array``, v13.6.0).

- ``array``/``asarray``/``asanyarray`` copy host data (lists, scalars, NumPy arrays) to the device;
  a (nested) list of device arrays of one shape is stacked on the device (no sync); a list that
  mixes device arrays with anything else goes through NumPy, which hits ``__array__``: TypeError.
- ``ascontiguousarray``/``asfortranarray`` take device arrays only (typed ``_ndarray_base a``) and
  give a 0-d array back as 1-d.
- ``copy(a)`` calls ``a.copy()``: a host array stays a host array (as in CuPy).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._core import SUPPORTED_CHARS, ndarray, new

_np_ndarray = np.ndarray


def _concat_info(obj: Any) -> tuple[Any, Any, Any]:
    """core.pyx _compute_concat_info_impl: (shape, element type, dtype) of a uniform nest, else Nones."""
    if isinstance(obj, (ndarray, _np_ndarray)):
        return obj.shape, ndarray if isinstance(obj, ndarray) else _np_ndarray, obj.dtype
    if isinstance(obj, (list, tuple)):
        if not obj:
            return None, None, None
        shape, typ, dt = _concat_info(obj[0])
        if shape is None:
            return None, None, None
        for e in obj[1:]:
            s1, t1, d1 = _concat_info(e)
            if s1 is None or s1 != shape or t1 is not typ:
                return None, None, None
            if d1 != dt:
                dt = np.promote_types(dt, d1)
        return (len(obj),) + tuple(shape), typ, dt
    return None, None, None


def _flatten(obj: Any) -> list:
    if isinstance(obj, (list, tuple)):
        return [x for e in obj for x in _flatten(e)]
    return [obj]


def _checked(a: np.ndarray) -> np.ndarray:
    if a.dtype.char not in SUPPORTED_CHARS:
        raise ValueError(f"Unsupported dtype {a.dtype}")
    return a


def array(obj: Any, dtype: Any = None, copy: bool = True, order: Any = "K", subok: bool = False, ndmin: int = 0,
          *, blocking: bool = False) -> ndarray:  # fmt: skip
    if subok:
        raise NotImplementedError
    if order is None:
        order = "K"
    if isinstance(obj, ndarray):
        a = obj.astype(obj.dtype if dtype is None else dtype, order=order, copy=copy)
        if ndmin > a.ndim:
            if a is obj:
                a = a.view()
            a.shape = (1,) * (ndmin - a.ndim) + a.shape
        return a
    if isinstance(obj, (list, tuple)):
        shape, typ, dt = _concat_info(obj)
        if typ is ndarray:
            parts = [x._a for x in _flatten(obj)]
            stacked = np.stack(parts) if parts else np.empty(0)
            out = stacked.reshape((1,) * max(0, ndmin - len(shape)) + shape)
            out = out.astype(dt if dtype is None else dtype, order="F" if str(order)[:1] in "Ff" else "C")
            return new(_checked(out))
    host = np.array(obj, dtype=dtype, copy=True, order=order if str(order)[:1] in "CFcf" else "K", ndmin=ndmin)
    return new(_checked(host.astype(host.dtype.newbyteorder("<"), copy=False)))


def asarray(a: Any, dtype: Any = None, order: Any = None, *, blocking: bool = False) -> ndarray:
    return array(a, dtype, False, order, blocking=blocking)


def asanyarray(a: Any, dtype: Any = None, order: Any = None, *, blocking: bool = False) -> ndarray:
    return array(a, dtype, False, order, blocking=blocking)


def _typed(a: Any, fn: str) -> ndarray:
    if not isinstance(a, ndarray):
        raise TypeError(
            f"Argument 'a' has incorrect type (expected cupy._core.core._ndarray_base, got {type(a).__name__})"
            f" in cupy.{fn}"
        )
    return a


def ascontiguousarray(a: Any, dtype: Any = None) -> ndarray:
    _typed(a, "ascontiguousarray")
    dt = a.dtype if dtype is None else np.dtype(dtype)
    if dt == a.dtype and a._a.flags.c_contiguous:
        return a.ravel() if a.ndim == 0 else a
    src = a._a.reshape(1) if a.ndim == 0 else a._a
    return new(_checked(np.ascontiguousarray(src, dtype=dt)))


def asfortranarray(a: Any, dtype: Any = None) -> ndarray:
    _typed(a, "asfortranarray")
    dt = a.dtype if dtype is None else np.dtype(dtype)
    if dt == a.dtype and a._a.flags.f_contiguous:
        return a.ravel("F") if a.ndim == 0 else a
    src = a._a.reshape(1) if a.ndim == 0 else a._a
    return new(_checked(np.asfortranarray(src, dtype=dt)))


def copy(a: Any, order: str = "K") -> Any:
    return a.copy(order=order)


def _host_made(fn: Any) -> Any:
    """A creation function that builds its data on the host (fromfunction, fromiter, ...): copied over."""

    def f(*args: Any, **kwargs: Any) -> ndarray:
        return array(fn(*args, **kwargs))

    f.__name__ = fn.__name__
    return f


SPECIAL = {
    "array": array, "asarray": asarray, "asanyarray": asanyarray, "ascontiguousarray": ascontiguousarray,
    "asfortranarray": asfortranarray, "copy": copy, "fromfunction": _host_made(np.fromfunction),
    "fromiter": _host_made(np.fromiter), "frombuffer": _host_made(np.frombuffer),
    "fromstring": _host_made(np.fromstring),
}  # fmt: skip
