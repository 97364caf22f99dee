"""Indexing as CuPy does it (cupy/_core/_routines_indexing.pyx, v13.6.0).

- Basic indices (ints, slices, None, Ellipsis) give views; an int index out of range is an
  IndexError (the shape is on the host), and indexing every axis gives a 0-d *array*, not a scalar.
- Integer *array* indices are never bounds-checked: CuPy's take/scatter kernels wrap them
  (``i % n``, so -1 is the last element and n is the first), in ``__getitem__``, ``__setitem__``,
  ``take`` (a scalar index to ``take`` wraps too), ``put`` (mode 'wrap' by default) and
  ``scatter_add``/``ufunc.at``.
- Lists, tuples and host NumPy arrays used as indices are copied to the device (allowed).
- A boolean mask (``x[mask]`` and ``x[mask] = v``) needs the number of True values on the host:
  one synchronisation per non-empty mask, as ``_prepare_mask_indexing_single`` does.
- ``x[basic] = value``: a device array is copied in; a scalar or 0-d host array fills; a host array
  of any other shape is ``ValueError('non-scalar numpy.ndarray cannot be used for fill')`` and a list
  ``TypeError`` (CuPy goes through ``ndarray.fill``). With an advanced index the value goes through
  ``cupy.array``, so host values are accepted there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from . import _sync
from ._core import SCALAR_TYPES, host_error, loud, ndarray, new, quiet

_np_ndarray = np.ndarray
_BASIC = frozenset({int, slice, type(None), type(Ellipsis)})
_ELLIPSIS = (Ellipsis,)


def _base_of(a: ndarray) -> ndarray:
    return a._base if a._base is not None else a


def _to_index_array(s: Any) -> np.ndarray:
    """A non-device array-like index, as CuPy's _prepare_slice_list converts it (``cupy.array(s)``)."""
    was_seq = isinstance(s, (list, tuple))
    try:
        arr = np.asarray(s)
    except TypeError:
        raise  # e.g. a list holding device arrays: implicit conversion
    if arr.dtype.char == "O":
        raise IndexError("arrays used as indices must be of integer (or boolean) type")
    if was_seq and arr.size == 0:
        arr = arr.astype(np.int32)
    return arr


def _prepare(a: ndarray, slices: Any) -> tuple[tuple, bool, list[np.ndarray]]:
    """(NumPy index tuple, whether it is basic, the non-empty boolean masks in it)."""
    items = slices if type(slices) is tuple else (slices,)
    for s in items:
        if type(s) not in _BASIC:
            break
    else:
        return (items if Ellipsis in items else items + _ELLIPSIS), True, []

    conv: list[Any] = []
    kinds: list[str] = []  # 'b' basic, 'i' int array, 'm' mask, 'n' None, 'e' ellipsis
    for s in items:
        t = type(s)
        if t is ndarray or isinstance(s, ndarray):
            arr = s._a
        elif s is None or s is Ellipsis or t is slice:
            conv.append(s)
            kinds.append("n" if s is None else "e" if s is Ellipsis else "b")
            continue
        elif t is int or (isinstance(s, (np.integer, int)) and not isinstance(s, (bool, np.bool_))):
            conv.append(s)
            kinds.append("b")
            continue
        else:
            arr = _to_index_array(s)
        k = arr.dtype.kind
        if k == "b":
            conv.append(arr)
            kinds.append("m")
        elif k in "iu":
            conv.append(arr)
            kinds.append("i")
        else:
            raise IndexError(f"arrays used as indices must be of integer or boolean type. (actual: {arr.dtype.type})")
    if "i" not in kinds and "m" not in kinds:
        out = tuple(conv)
        return (out if Ellipsis in out else out + _ELLIPSIS), True, []

    # the axis each index consumes, to wrap integer arrays by that axis' length
    ndim = a._a.ndim
    used = sum(c.ndim if k == "m" else 1 for c, k in zip(conv, kinds) if k in "bim")
    if used > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, but {used} were indexed")
    shape = a._a.shape
    axis = 0
    masks = []
    for j, (c, k) in enumerate(zip(conv, kinds)):
        if k == "e":
            axis += ndim - used
        elif k == "b":
            axis += 1
        elif k == "m":
            for i, m in enumerate(c.shape):
                if m not in (0, shape[axis + i]):
                    raise IndexError(
                        f"boolean index did not match indexed array along dimension {axis + i}; dimension is "
                        f"{shape[axis + i]} but corresponding boolean dimension is {m}"
                    )
            if c.size:
                masks.append(c)
            axis += c.ndim
        elif k == "i":
            n = shape[axis]
            if n:
                conv[j] = np.mod(c, n) if c.dtype.kind == "i" else c % n
            axis += 1
    return tuple(conv), False, masks


def getitem(self: ndarray, slices: Any) -> ndarray:
    idx, basic, masks = _prepare(self, slices)
    if basic:
        return new(self._a[idx], _base_of(self))
    for _ in masks:
        _sync.record("boolean mask indexing")
    r = self._a[idx]
    return new(r if type(r) is _np_ndarray else np.asarray(r))


def _fill_value(v: Any, dtype: np.dtype) -> Any:
    """What ``ndarray.fill`` accepts: a scalar, or a 0-d array (host or device)."""
    t = type(v)
    if t in SCALAR_TYPES:
        return v
    if isinstance(v, _np_ndarray):
        if v.ndim != 0:
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        return v.astype(dtype, copy=False).item()
    raise TypeError(f"Unsupported type {t}")


def setitem(self: ndarray, slices: Any, value: Any) -> None:
    idx, basic, masks = _prepare(self, slices)
    a = self._a
    tv = type(value)
    if basic:
        if tv is ndarray or isinstance(value, ndarray):
            tok = quiet()
            try:
                a[idx] = value._a
            finally:
                loud(tok)
        else:
            a[idx] = _fill_value(value, a.dtype)
        return
    for _ in masks:
        _sync.record("boolean mask assignment")
    v = value._a if isinstance(value, ndarray) else _host_value(value, a.dtype)
    tok = quiet()
    try:
        a[idx] = v
    finally:
        loud(tok)


def _host_value(value: Any, dtype: np.dtype) -> np.ndarray:
    """``cupy.array(value, dtype=...)``: a host value copied to the device (lists, host arrays, scalars)."""
    tok = quiet()
    try:
        return np.array(value, dtype=dtype)
    finally:
        loud(tok)


# ---- take, put, choose ---------------------------------------------------------------------------
def take(a: ndarray, indices: Any, axis: Any = None, out: Any = None) -> ndarray:
    if type(a) is not ndarray:
        raise TypeError(f"Argument 'a' has incorrect type (expected cupy.ndarray, got {type(a).__name__})")
    src = a._a
    if axis is None:
        src = src.reshape(-1)
        ax = 0
    elif src.ndim == 0:
        normalize_axis_index(axis, 1)
        src, ax = src.reshape(1), 0
    else:
        ax = normalize_axis_index(axis, src.ndim)
    n = src.shape[ax]
    if np.isscalar(indices):
        idx: Any = int(indices)
        if n:
            idx %= n
    else:
        idx = indices._a if isinstance(indices, ndarray) else np.asarray(indices, dtype=int)
        if n:
            idx = np.mod(idx, n)
    if n == 0 and np.size(idx) != 0:
        raise IndexError("cannot do a non-empty take from an empty axes.")
    r = np.take(src, idx, axis=ax)
    if out is not None:
        if type(out) is not ndarray:
            raise TypeError(f"Unsupported type {type(out)} for out=")
        if out.dtype != a.dtype:
            raise TypeError("Output dtype mismatch")
        if out.shape != np.shape(r):
            raise ValueError("Output shape mismatch")
        out._a[...] = r
        return out
    return new(np.asarray(r))


def put(a: ndarray, indices: Any, values: Any, mode: str = "wrap") -> None:
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError("clipmode not understood")
    idx = indices._a if isinstance(indices, ndarray) else np.asarray(indices)
    vals = values._a if isinstance(values, ndarray) else np.asarray(values, dtype=a.dtype)
    if vals.size == 0:
        return
    if mode == "raise":
        _sync.record("put(mode='raise') error check")  # CuPy reads an error flag back: `if err:`
    a._a.put(idx.ravel(), vals.ravel(), mode=mode)


def choose(a: ndarray, choices: Any, out: Any = None, mode: str = "raise") -> ndarray:
    if mode == "raise":
        _sync.record("choose(mode='raise') range check")  # `if not ((a < n).all() and ...)`
    ch = choices._a if isinstance(choices, ndarray) else choices
    if isinstance(ch, _np_ndarray) and not isinstance(choices, ndarray):
        raise host_error(ch, "choose")
    r = np.choose(a._a, ch, mode=mode)
    if out is not None:
        out._a[...] = r
        return out
    return new(r)


# ---- data-dependent shapes: each one a synchronisation -------------------------------------------
def nonzero(a: ndarray) -> tuple:
    if a._a.size:
        _sync.record("nonzero")
    if a._a.ndim == 0:
        import warnings

        warnings.warn("calling nonzero on 0d arrays is deprecated", DeprecationWarning, stacklevel=3)
        return (new(np.zeros(int(bool(a._a)), np.int64)),)
    return tuple(new(i.astype(np.int64, copy=False)) for i in np.nonzero(a._a))


def compress(condition: Any, a: ndarray, axis: Any = None, out: Any = None) -> ndarray:
    if np.isscalar(condition):
        raise ValueError("condition must be a 1-d array")
    cond = condition._a if isinstance(condition, ndarray) else np.asarray(condition, dtype=int)
    if cond.ndim != 1:
        raise ValueError("condition must be a 1-d array")
    _sync.record("compress")
    idx = np.nonzero(cond)[0]
    return take(a, new(idx), axis, out)


# ---- scatter (ufunc.at, cupyx.scatter_*) -----------------------------------------------------------
# _scatter_op_single: the dtypes each atomic operation supports (int64 is missing from add!)
_SCATTER_DTYPES = {
    "add": ("int32", "float16", "float32", "float64", "uint32", "uint64"),
    "sub": ("int32", "uint32"),
    "max": ("int32", "float32", "float64", "uint32", "uint64"),
    "min": ("int32", "float32", "float64", "uint32", "uint64"),
    "and": ("int32", "int64", "uint32", "uint64"),
    "or": ("int32", "int64", "uint32", "uint64"),
    "xor": ("int32", "int64", "uint32", "uint64"),
}
_SCATTER_NAMES = {"add": "add", "sub": "subtract", "max": "maximum", "min": "minimum", "and": "bitwise_and",
                  "or": "bitwise_or", "xor": "bitwise_xor"}  # fmt: skip
_SCATTER_UFUNCS = {"add": np.add, "sub": np.subtract, "max": np.maximum, "min": np.minimum, "and": np.bitwise_and,
                   "or": np.bitwise_or, "xor": np.bitwise_xor}  # fmt: skip


def scatter(a: ndarray, slices: Any, value: Any, op: str) -> None:
    if type(a) is not ndarray:
        raise TypeError(f"Unsupported type {type(a)}")
    idx, basic, masks = _prepare(a, slices)
    f = _SCATTER_UFUNCS[op]
    arr = a._a
    if basic:
        # a view: the ufunc in place on it, so the operand rules are the ufunc's (no host arrays)
        from . import _ufunc

        _ufunc.operands((value,))
        tok = quiet()
        try:
            view = arr[idx]
            f(view, value._a if isinstance(value, ndarray) else value, out=view)
        finally:
            loud(tok)
        return
    v = value._a.astype(arr.dtype, copy=False) if isinstance(value, ndarray) else _host_value(value, arr.dtype)
    tok = quiet()
    try:
        if masks:
            for _ in masks:
                _sync.record("boolean mask scatter")
            arr[idx] = f(arr[idx], v)
            return
        if arr.dtype.name not in _SCATTER_DTYPES[op]:
            allowed = ", ".join(_SCATTER_DTYPES[op])
            raise TypeError(f"cupy.{_SCATTER_NAMES[op]}.at only supports {allowed} as data type")
        f.at(arr, idx, v)
    finally:
        loud(tok)


class flatiter:  # noqa: N801  (cupy/_indexing/iterate.py)
    """``ndarray.flat``: indexing into the flattened array (reads and writes go to the array)."""

    def __init__(self, a: ndarray) -> None:
        self._base = a

    @property
    def base(self) -> ndarray:
        return self._base

    def __len__(self) -> int:
        return self._base.size

    def __iter__(self) -> Any:
        flat = self._base._a.reshape(-1) if self._base._a.flags.c_contiguous else self._base._a.flatten()
        return (new(flat[i : i + 1].reshape(())) for i in range(flat.size))

    def __getitem__(self, ind: Any) -> ndarray:
        flat = self._base._a.reshape(-1) if self._base._a.flags.c_contiguous else self._base._a.flatten()
        tmp = new(flat)
        return getitem(tmp, ind)

    def __setitem__(self, ind: Any, value: Any) -> None:
        a = self._base._a
        if a.flags.c_contiguous:
            setitem(new(a.reshape(-1)), ind, value)
        else:
            tmp = new(a.flatten())
            setitem(tmp, ind, value)
            a[...] = tmp._a.reshape(a.shape)

    def copy(self) -> ndarray:
        return self._base.flatten()


def attach() -> None:
    ndarray.__getitem__ = getitem
    ndarray.__setitem__ = setitem
    ndarray.take = take
    ndarray.put = put
    ndarray.choose = choose
    ndarray.nonzero = nonzero
    ndarray.compress = lambda self, condition, axis=None, out=None: compress(condition, self, axis, out)
    for op, name in (("add", "add"), ("max", "maximum"), ("min", "minimum")):
        setattr(ndarray, f"scatter_{op}", _deprecated_scatter(op, name))


def _deprecated_scatter(op: str, name: str) -> Any:
    dot = "." if op == "add" else ""  # CuPy's messages differ by a full stop
    msg = f"`ndarray.scatter_{op}` is deprecated{dot} Please use `cupy.{name}.at` instead."

    def method(self: ndarray, slices: Any, value: Any) -> None:
        import warnings

        warnings.warn(msg, DeprecationWarning, stacklevel=2)
        scatter(self, slices, value, op)

    method.__name__ = f"scatter_{op}"
    return method
