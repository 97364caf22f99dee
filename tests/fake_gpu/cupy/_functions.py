"""Module-level functions: a generic wrapper over NumPy's same-named function, and the exceptions.

The generic wrapper (``make_function``) enforces, from the CuPy signature in ``_names``:

- only CuPy's parameters (a keyword CuPy lacks is a TypeError, as Python would raise);
- no host ``numpy.ndarray`` in an array parameter, unless CuPy converts that one (``HOST_OK``);
- results as device arrays (NumPy scalars become 0-d arrays; see ``DEVICE_RESULT`` for Python
  scalars), ``out=`` returned as given, views keep their base;
- one counted synchronisation for the functions of ``SYNCING`` / ``CONDITIONAL_SYNCS``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core, _indexing, _names, _sync
from ._core import host_error, loud, ndarray, new, quiet, view_of, wrap, writable
from ._ufunc import operands

_np_ndarray = np.ndarray

# functions that return views of their first argument (their result's base is that array's base)
VIEW_FUNCS = frozenset(
    "reshape ravel transpose swapaxes moveaxis rollaxis squeeze expand_dims atleast_1d atleast_2d atleast_3d "
    "broadcast_to flip fliplr flipud rot90 split array_split hsplit vsplit dsplit diagonal real imag".split()
)
# NumPy returns read-only views here; CuPy's are writable
READONLY_VIEWS = frozenset({"broadcast_to", "broadcast_arrays", "diagonal"})


def _check(x: Any, is_array: bool, where: str) -> Any:
    t = type(x)
    if t is ndarray:
        return x._a
    if t is list or t is tuple:
        return t(_check(e, is_array, where) for e in x)
    if is_array and isinstance(x, _np_ndarray):
        raise host_error(x, where)
    if isinstance(x, ndarray):
        return x._a
    return x


def _signature(params: list[str]) -> tuple[list[str], bool, bool, frozenset]:
    positional: list[str] = []
    varargs = varkw = False
    for p in params:
        if p == "**":
            varkw = True
        elif p == "*args":
            varargs = True
        elif p == "*":
            pass
        elif not varargs and "*" not in params[: params.index(p)]:
            positional.append(p)
    allowed = frozenset(p for p in params if p not in ("*", "*args", "**"))
    return positional, varargs, varkw, allowed


def make_function(name: str, npfunc: Any, params: list[str]) -> Any:
    """The CuPy function ``name`` over NumPy's ``npfunc``."""
    positional, varargs, varkw, allowed = _signature(params)
    host_ok = frozenset(_names.HOST_OK.get(name, ()))
    arr_pos = tuple(p in _names.ARRAY_PARAMS and p not in host_ok for p in positional)
    npos = len(positional)
    sync = _names.SYNCING.get(name)
    cond = _names.CONDITIONAL_SYNCS.get(name)
    device_result = name in _names.DEVICE_RESULT
    is_view = name in VIEW_FUNCS
    readonly = name in READONLY_VIEWS
    where = f"cupy.{name}"

    def f(*args: Any, **kwargs: Any) -> Any:
        n = len(args)
        if n > npos and not varargs:
            raise TypeError(f"{name}() takes {npos} positional arguments but {n} were given")
        if kwargs and not varkw:
            for k in kwargs:
                if k not in allowed:
                    raise TypeError(f"{name}() got an unexpected keyword argument '{k}' (CuPy 13's {name} has none)")
        a = [_check(x, arr_pos[i] if i < npos else varargs, where) for i, x in enumerate(args)]
        kw = {k: _check(v, k in _names.ARRAY_PARAMS and k not in host_ok, where) for k, v in kwargs.items()}
        if sync is not None:
            _sync.record(sync)
        elif cond is not None and cond[1](args, kwargs):
            _sync.record(cond[0])
        tok = quiet()
        try:
            r = npfunc(*a, **kw)
        finally:
            loud(tok)
        out = kwargs.get("out")
        if out is not None and type(out) is ndarray and r is out._a:
            return out
        if readonly:
            r = [writable(x) for x in r] if isinstance(r, (list, tuple)) else writable(r)
        if is_view and type(r) is _np_ndarray and args and type(args[0]) is ndarray:
            return view_of(r, args[0])
        r = wrap(r)
        if device_result and type(r) in (bool, int, float, np.bool_):
            return new(np.asarray(r))
        return r

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"CuPy stand-in for cupy.{name} (NumPy's {getattr(npfunc, '__name__', name)} on device arrays)."
    return f


# ---- functions with rules of their own ----------------------------------------------------------
def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    missing = (x is None, y is None).count(True)
    if missing == 1:
        raise ValueError("Must provide both 'x' and 'y' or neither.")
    if missing == 2:
        return nonzero(condition)
    if type(condition) is not ndarray:
        if isinstance(condition, _np_ndarray):
            raise host_error(condition, "cupy.where")
        raise AttributeError(f"'{type(condition).__name__}' object has no attribute 'astype'")
    c, xv, yv = operands((condition.astype(bool, copy=False), x, y))
    tok = quiet()
    try:
        return wrap(np.where(c, xv, yv))
    finally:
        loud(tok)


def clip(a: Any, a_min: Any, a_max: Any, out: Any = None) -> Any:
    if type(a) is not ndarray:
        if isinstance(a, _np_ndarray):
            return a.clip(a_min, a_max, out=out)  # CuPy calls a.clip: a host array stays on the host
        raise AttributeError(f"'{type(a).__name__}' object has no attribute 'clip'")
    return ndarray_clip(a, a_min, a_max, out)


def ndarray_clip(self: ndarray, a_min: Any = None, a_max: Any = None, out: Any = None) -> Any:
    if a_min is None and a_max is None:
        raise ValueError("array_clip: must set either max or min")
    dt = self._a.dtype
    if a_min is None:
        a_min = dt.type("-inf") if dt.kind == "f" else np.iinfo(dt).min if dt.kind in "iu" else None
    if a_max is None:
        a_max = dt.type("inf") if dt.kind == "f" else np.iinfo(dt).max if dt.kind in "iu" else None
    return _CLIP(self, a_min, a_max, out=out) if out is not None else _CLIP(self, a_min, a_max)


_CLIP: Any = None  # set by ``_init`` to a 3-input stand-in ufunc over NumPy's clip


def matmul(x1: Any, x2: Any, out: Any = None, **kwargs: Any) -> Any:
    """cupy.matmul (a _GUFunc in cupy/linalg/_product.py): device arrays only."""
    for v in (x1, x2):
        if type(v) is not ndarray:
            raise (
                host_error(v, "cupy.matmul") if isinstance(v, _np_ndarray) else TypeError(f"Unsupported type {type(v)}")
            )
    o = out._a if type(out) is ndarray else None
    if out is not None and o is None:
        raise TypeError(f"Unsupported type {type(out)} for out=")
    tok = quiet()
    try:
        r = np.matmul(x1._a, x2._a, out=o, **kwargs)
    finally:
        loud(tok)
    return out if o is not None else wrap(r)


def nonzero(a: Any) -> tuple:
    _check_array(a, "a")
    return _indexing.nonzero(a)


def flatnonzero(a: Any) -> ndarray:
    _check_array(a, "a")
    return _indexing.nonzero(a.ravel())[0]


def argwhere(a: Any) -> ndarray:
    _check_array(a, "a")
    if a.size:
        _sync.record("argwhere")
    return new(np.argwhere(a._a).astype(np.int64, copy=False))


def compress(condition: Any, a: Any, axis: Any = None, out: Any = None) -> ndarray:
    return _indexing.compress(condition, a, axis, out)


def take(a: Any, indices: Any, axis: Any = None, out: Any = None) -> Any:
    return a.take(indices, axis, out)


def put(a: Any, ind: Any, v: Any, mode: str = "wrap") -> None:
    _check_array(a, "a")
    a.put(ind, v, mode)


def choose(a: Any, choices: Any, out: Any = None, mode: str = "raise") -> Any:
    return a.choose(choices, out, mode)


def copyto(dst: Any, src: Any, casting: str = "same_kind", where: Any = None) -> None:
    if type(dst) is not ndarray:
        raise TypeError(f"Unsupported type {type(dst)} for dst")
    t = type(src)
    if isinstance(src, _np_ndarray):
        if src.size != 1:  # cupy/_manipulation/basic.py: a host array of one element is read as a scalar
            raise ValueError("non-scalar numpy.ndarray cannot be used for copyto")
        src = src.item()
    elif t is not ndarray and t not in _core.SCALAR_TYPES:
        raise TypeError(f"Unsupported type {t}")
    w = _check(where, True, "cupy.copyto where=")
    tok = quiet()
    try:
        np.copyto(dst._a, src._a if t is ndarray else src, casting=casting, where=True if w is None else w)
    finally:
        loud(tok)


def sort(a: Any, axis: Any = -1, kind: Any = None) -> ndarray:
    if kind is not None:
        raise NotImplementedError("kind option is not supported")  # cupy/_sorting/sort.py
    _check_array(a, "a")
    if axis is None:
        ret = a.flatten()
        axis = -1
    else:
        ret = a.copy()
    ret.sort(axis=axis)
    return ret


def argsort(a: Any, axis: Any = -1, kind: Any = None) -> ndarray:
    _check_array(a, "a")
    return a.argsort(axis=axis)


def repeat(a: Any, repeats: Any, axis: Any = None) -> ndarray:
    _check_array(a, "a")
    return a.repeat(repeats, axis)


def may_share_memory(a: Any, b: Any, max_work: Any = None) -> bool:
    return bool(np.may_share_memory(_check(a, True, "may_share_memory"), _check(b, True, "may_share_memory")))


def shares_memory(a: Any, b: Any, max_work: Any = None) -> bool:
    return bool(np.shares_memory(_check(a, True, "shares_memory"), _check(b, True, "shares_memory")))


def _check_array(a: Any, arg_name: str) -> None:
    """cupy/_util.pyx check_array: a device array or TypeError."""
    if type(a) is not ndarray:
        raise TypeError(f"Unsupported type {type(a)} for '{arg_name}' (it must be a cupy.ndarray)")


def in1d(ar1: Any, ar2: Any, assume_unique: bool = False, invert: bool = False) -> ndarray:
    return wrap(np.isin(_check(ar1, True, "in1d"), _check(ar2, True, "in1d"), assume_unique, invert).ravel())


def msort(a: Any) -> ndarray:
    return sort(a, axis=0)


def asfarray(a: Any, dtype: Any = np.float64) -> ndarray:
    from ._creation import asarray

    dt = np.dtype(dtype)
    if dt.kind != "f":
        dt = np.dtype(np.float64)
    return asarray(a, dtype=dt)


SPECIAL = {
    "where": where, "clip": clip, "matmul": matmul, "nonzero": nonzero, "flatnonzero": flatnonzero,
    "argwhere": argwhere, "compress": compress, "take": take, "put": put, "choose": choose, "copyto": copyto,
    "sort": sort, "argsort": argsort, "repeat": repeat, "may_share_memory": may_share_memory,
    "shares_memory": shares_memory, "in1d": in1d, "msort": msort, "asfarray": asfarray,
}  # fmt: skip
