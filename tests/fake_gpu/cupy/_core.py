"""The device array: a NumPy array behind a wall that CuPy's rules are enforced on.

``ndarray`` is not a ``numpy.ndarray`` subclass: it holds one (``_a``) and lets nothing through
implicitly. Its operators and ufunc methods are attached by ``_ufunc``; indexing lives in
``_indexing``; this module holds the class, the conversions in and out, and the methods that are
plain forwards to NumPy with CuPy's return conventions (reductions give 0-d device arrays).
"""

from __future__ import annotations

import builtins
import warnings
from typing import Any

import numpy as np

from . import _sync

_np_ndarray = np.ndarray
_generic = np.generic
_asarray = np.asarray
_object_new = object.__new__

# cupy/_core/_dtype.pyx (v13.6.0): all_type_chars; no object, string, datetime or longdouble arrays
SUPPORTED_CHARS = frozenset("?bhilqBHILQefdFD")
_PY_SCALARS = frozenset({int, float, bool, complex})
# cupy/_core/_scalar.pyx: _numpy_scalar_type_set, the NumPy scalar types of the supported dtypes
_NP_SCALARS = frozenset(np.dtype(c).type for c in SUPPORTED_CHARS)
SCALAR_TYPES = _PY_SCALARS | _NP_SCALARS

IMPLICIT_MSG = (
    "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy array explicitly."
)

# ---- NumPy's floating-point warnings ----------------------------------------------------------
# CuPy kernels never warn (1/0, log(0), overflow give inf/nan silently); NumPy does. Every device
# computation runs with NumPy's error state set to "ignore" through NumPy's own context variable.
try:
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRVAR
    from numpy._core.umath import _make_extobj

    _QUIET = _make_extobj(all="ignore")

    def quiet() -> Any:
        return _ERRVAR.set(_QUIET)

    def loud(token: Any) -> None:
        _ERRVAR.reset(token)

except ImportError:  # another NumPy layout: the public (slower) context manager

    def quiet() -> Any:
        e = np.errstate(all="ignore")
        e.__enter__()
        return e

    def loud(token: Any) -> None:
        token.__exit__(None, None, None)


# ---- in and out ---------------------------------------------------------------------------------
def new(a: np.ndarray, base: ndarray | None = None) -> ndarray:
    """Wrap a NumPy array (no copy, no checks: the caller made ``a``)."""
    o = _object_new(ndarray)
    o._a = a
    o._base = base
    return o


def wrap(r: Any) -> Any:
    """A NumPy result as device arrays: arrays wrapped, NumPy scalars as 0-d arrays, tuples/lists mapped."""
    t = type(r)
    if t is _np_ndarray:
        return new(r)
    if isinstance(r, _generic):
        return new(_asarray(r))
    if t is tuple or t is list:
        return t(wrap(x) for x in r)
    return r


def host_error(x: Any, where: str = "") -> TypeError:
    at = f" in {where}" if where else ""
    return TypeError(
        f"Unsupported type {type(x)}{at}: a host numpy.ndarray cannot be an operand of a CuPy operation; "
        "copy it to the device with cupy.asarray() first"
    )


def unwrap(x: Any, where: str = "") -> Any:
    """An argument of a device operation: a device array's NumPy array; host arrays are refused.

    Lists and tuples are looked into (``concatenate([a, b])``); everything else passes unchanged."""
    t = type(x)
    if t is ndarray:
        return x._a
    if t is list or t is tuple:
        return t(unwrap(e, where) for e in x)
    if isinstance(x, _np_ndarray):
        raise host_error(x, where)
    if isinstance(x, ndarray):
        return x._a
    return x


def view_of(r: np.ndarray, src: ndarray) -> ndarray:
    """Wrap ``r``; if it shares ``src``'s memory it is a view, whose ``base`` is src's base or src."""
    if r.base is not None and np.may_share_memory(r, src._a):
        return new(r, src._base if src._base is not None else src)
    return new(r)


def writable(view: np.ndarray) -> np.ndarray:
    """A writable alias of a read-only NumPy view (CuPy has no read-only arrays: its broadcast_to and
    diagonal results can be written through)."""
    if view.flags.writeable:
        return view
    owner = view
    while isinstance(owner.base, _np_ndarray):
        owner = owner.base
    if not owner.flags.writeable:
        return view  # the memory itself is read-only (not made by the stand-in)

    class _Interface:
        pass

    i = _Interface()
    d = dict(view.__array_interface__)
    d["data"] = (d["data"][0], False)
    i.__array_interface__ = d
    i.keep = owner
    return np.asarray(i)


def check_dtype(a: np.ndarray) -> np.ndarray:
    if a.dtype.char not in SUPPORTED_CHARS:
        raise ValueError(f"Unsupported dtype {a.dtype}")
    return a


def _out_arg(out: Any) -> np.ndarray | None:
    if out is None:
        return None
    if type(out) is not ndarray:
        raise TypeError(f"Unsupported type {type(out)} for out= (it must be a cupy.ndarray)")
    return out._a


def reduction(func: Any, self: ndarray, out: Any, **kw: Any) -> ndarray:
    """A NumPy reduction with CuPy's conventions: a device array (0-d for a full reduction), ``out``
    returned as given. ``func`` is a NumPy function, or the name of a numpy.ndarray method (faster)."""
    o = _out_arg(out)
    f = getattr(self._a, func) if type(func) is str else None
    tok = quiet()
    try:
        if f is not None:
            r = f(out=o, **kw) if o is not None else f(**kw)
        else:
            r = func(self._a, out=o, **kw) if o is not None else func(self._a, **kw)
    finally:
        loud(tok)
    if o is not None:
        return out
    return new(r) if type(r) is _np_ndarray else new(_asarray(r))


class Flags:
    """cupy/_core/flags.pyx: only c_contiguous, f_contiguous and owndata (no ``writeable``)."""

    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, c: bool, f: bool, owndata: bool) -> None:
        self.c_contiguous, self.f_contiguous, self.owndata = c, f, owndata

    @property
    def fnc(self) -> bool:
        return self.f_contiguous and not self.c_contiguous

    @property
    def forc(self) -> bool:
        return self.f_contiguous or self.c_contiguous

    def __getitem__(self, name: str) -> bool:
        key = {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous", "OWNDATA": "owndata"}.get(name)
        if key is None:
            raise KeyError(f"{name} is not defined for cupy.ndarray.flags")
        return getattr(self, key)

    def __repr__(self) -> str:
        return "\n".join(f"  {k.upper()} : {getattr(self, k)}" for k in self.__slots__)


class ndarray:  # noqa: N801  (CuPy's name)
    """A device array (see the package docstring for what the stand-in enforces)."""

    __slots__ = ("_a", "_base", "__weakref__")
    __array_priority__ = 100
    __hash__ = None  # type: ignore[assignment]  # CuPy arrays are unhashable

    def __init__(self, shape: Any, dtype: Any = float, memptr: Any = None, strides: Any = None, order: str = "C"):
        dt = np.dtype(dtype)
        if dt.char not in SUPPORTED_CHARS:
            raise ValueError(f"Unsupported dtype {dt}")
        if memptr is None:
            a = np.empty(shape, dt, order=order)
            if strides is not None:
                a = np.lib.stride_tricks.as_strided(a, a.shape, strides)
        else:
            from ._memory import array_at

            a = array_at(memptr, shape, dt, strides, order)
        self._a = a
        self._base = None

    # -- attributes ------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._a.shape

    @shape.setter
    def shape(self, newshape: Any) -> None:
        try:
            r = self._a.reshape(newshape, copy=False)
        except ValueError as e:
            raise AttributeError(f"Incompatible shape for in-place modification ({e})") from None
        self._a = r

    @property
    def dtype(self) -> np.dtype:
        return self._a.dtype

    @property
    def ndim(self) -> int:
        return self._a.ndim

    @property
    def size(self) -> int:
        return self._a.size

    @property
    def itemsize(self) -> int:
        return self._a.itemsize

    @property
    def nbytes(self) -> int:
        return self._a.nbytes

    @property
    def strides(self) -> tuple:
        return self._a.strides

    @property
    def flags(self) -> Flags:
        f = self._a.flags
        return Flags(f.c_contiguous, f.f_contiguous, self._base is None)

    @property
    def base(self) -> ndarray | None:
        return self._base

    @property
    def T(self) -> ndarray:  # noqa: N802
        if self._a.ndim < 2:
            return self
        return new(self._a.T, self._base if self._base is not None else self)

    @property
    def data(self) -> Any:
        from ._memory import pointer_of

        return pointer_of(self)

    @property
    def device(self) -> Any:
        from .cuda.device import Device

        return Device(0)

    @property
    def __cuda_array_interface__(self) -> dict:
        a = self._a
        return {
            "shape": a.shape,
            "typestr": a.dtype.str,
            "descr": a.dtype.descr,
            "data": (a.__array_interface__["data"][0], False),
            "strides": None if a.flags.c_contiguous else a.strides,
            "version": 3,
            "stream": 1,
        }

    @property
    def real(self) -> ndarray:
        if self._a.dtype.kind == "c":
            return new(self._a.real, self._base if self._base is not None else self)
        return self

    @real.setter
    def real(self, value: Any) -> None:
        self.real[...] = value

    @property
    def imag(self) -> ndarray:
        if self._a.dtype.kind == "c":
            return new(self._a.imag, self._base if self._base is not None else self)
        return new(np.zeros_like(self._a))

    @imag.setter
    def imag(self, value: Any) -> None:
        if self._a.dtype.kind != "c":
            raise TypeError("cupy.ndarray does not have imaginary part to set")
        self.imag[...] = value

    @property
    def flat(self) -> Any:
        from ._indexing import flatiter

        return flatiter(self)

    # -- host transfers (each one a synchronisation) --------------------------------------------
    def get(self, stream: Any = None, order: str = "C", out: Any = None, blocking: bool = True) -> np.ndarray:
        _sync.record("get")
        if out is not None:
            if not isinstance(out, _np_ndarray):
                raise TypeError("Only numpy.ndarray can be obtained from cupy.ndarray")
            if out.dtype != self.dtype:
                raise TypeError(f"{self.dtype} array cannot be obtained from {out.dtype} array")
            if out.shape != self.shape:
                raise ValueError(f"Shape mismatch. Expected shape: {self.shape}, actual shape: {out.shape}")
            out[...] = self._a
            return out
        if order == "A":
            order = "F" if self._a.flags.f_contiguous and not self._a.flags.c_contiguous else "C"
        return np.array(self._a, order=order, copy=True)

    def set(self, arr: Any, stream: Any = None) -> None:
        if not isinstance(arr, _np_ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if self.dtype != arr.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if self.shape != arr.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        f = self._a.flags
        if not (f.c_contiguous or f.f_contiguous):
            raise RuntimeError("Cannot set to non-contiguous array")
        self._a[...] = arr

    def item(self) -> Any:
        if self._a.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        _sync.record("item")
        return self._a.item()

    def tolist(self) -> Any:
        _sync.record("tolist")
        return self._a.tolist()

    def tobytes(self, order: str = "C") -> bytes:
        _sync.record("tobytes")
        return self._a.tobytes(order)

    def tofile(self, fid: Any, sep: str = "", format: str = "%s") -> None:  # noqa: A002
        _sync.record("tofile")
        self._a.tofile(fid, sep, format)

    def dump(self, file: Any) -> None:
        import pickle

        pickle.dump(self, file, -1)

    def dumps(self) -> bytes:
        import pickle

        return pickle.dumps(self, -1)

    def __reduce__(self) -> tuple:
        from ._creation import array

        return array, (self.get(),)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        raise TypeError(IMPLICIT_MSG)

    def __int__(self) -> int:
        _sync.record("int")
        return int(self._a)

    def __float__(self) -> float:
        _sync.record("float")
        return float(self._a)

    def __complex__(self) -> complex:
        _sync.record("complex")
        return complex(self._a)

    def __bytes__(self) -> bytes:
        _sync.record("bytes")
        return bytes(self._a)

    def __bool__(self) -> bool:
        n = self._a.size
        if n == 0:
            warnings.warn(
                "The truth value of an empty array is ambiguous. Returning False, but in future this will result "
                "in an error. Use `array.size > 0` to check that an array is not empty.",
                DeprecationWarning,
                stacklevel=2,
            )
            return False
        if n == 1:
            _sync.record("bool")
            return bool(self._a.reshape(()))
        raise ValueError("The truth value of an array with more than one element is ambiguous. Use a.any() or a.all()")

    def __repr__(self) -> str:
        _sync.record("repr")
        return repr(self._a)

    def __str__(self) -> str:
        _sync.record("str")
        return str(self._a)

    def __format__(self, spec: str) -> str:
        _sync.record("format")
        return format(self._a, spec)

    # -- containers -----------------------------------------------------------------------------
    def __len__(self) -> int:
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return self._a.shape[0]

    def __iter__(self) -> Any:
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._a.shape[0]))

    def __copy__(self) -> ndarray:
        return self.copy()

    def __deepcopy__(self, memo: Any) -> ndarray:
        return self.copy()

    @classmethod
    def __class_getitem__(cls, item: tuple) -> Any:
        from types import GenericAlias

        item1, item2 = item
        return GenericAlias(ndarray, (item1, item2))

    # -- conversion and copies --------------------------------------------------------------------
    def astype(self, dtype: Any, order: str = "K", casting: Any = None, subok: Any = None, copy: bool = True):
        if casting is not None:
            raise TypeError("casting is not supported yet")
        if subok is not None:
            raise TypeError("subok is not supported yet")
        dt = np.dtype(dtype)
        if dt.char not in SUPPORTED_CHARS:
            raise ValueError(f"Unsupported dtype {dt}")
        if not copy and dt == self._a.dtype:
            f = self._a.flags
            o = order or "K"
            if (
                o in "Kk"
                or (o in "Aa" and (f.c_contiguous or f.f_contiguous))
                or (o in "Cc" and f.c_contiguous)
                or (o in "Ff" and f.f_contiguous)
            ):
                return self
        tok = quiet()
        try:
            return new(self._a.astype(dt, order=order or "K", copy=True))
        finally:
            loud(tok)

    def copy(self, order: str = "C") -> ndarray:
        return new(self._a.copy(order=order))

    def view(self, dtype: Any = None, type: Any = None) -> ndarray:  # noqa: A002
        if isinstance(dtype, builtins.type) and issubclass(dtype, ndarray):
            dtype = None
        if dtype is not None and np.dtype(dtype).char not in SUPPORTED_CHARS:
            raise ValueError(f"Unsupported dtype {np.dtype(dtype)}")
        r = self._a.view() if dtype is None else self._a.view(dtype)
        return new(r, self._base if self._base is not None else self)

    def fill(self, value: Any) -> None:
        t = type(value)
        if t is ndarray:
            if value._a.ndim != 0:
                raise ValueError("non-scalar cupy.ndarray cannot be used for fill")
            self._a[...] = value._a
            return
        if isinstance(value, _np_ndarray):
            if value.ndim != 0:
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
            value = value.astype(self.dtype, copy=False).item()
        elif t not in SCALAR_TYPES:
            raise TypeError(f"Unsupported type {t}")
        self._a.fill(value)

    # -- shape ----------------------------------------------------------------------------------
    def reshape(self, *shape: Any, order: str = "C") -> ndarray:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if not shape:
            shape = ()
        r = self._a.reshape(shape, order=order)
        return view_of(r, self)

    def transpose(self, *axes: Any) -> ndarray:
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = () if axes[0] is None else tuple(axes[0])
        r = self._a.transpose(*axes) if axes else self._a.transpose()
        return new(r, self._base if self._base is not None else self)

    def swapaxes(self, axis1: int, axis2: int) -> ndarray:
        return new(self._a.swapaxes(axis1, axis2), self._base if self._base is not None else self)

    def flatten(self, order: str = "C") -> ndarray:
        return new(self._a.flatten(order))

    def ravel(self, order: str = "C") -> ndarray:
        return view_of(np.ascontiguousarray(self._a.ravel(order)), self)

    def squeeze(self, axis: Any = None) -> ndarray:
        return new(self._a.squeeze(axis), self._base if self._base is not None else self)

    def repeat(self, repeats: Any, axis: Any = None) -> ndarray:
        if isinstance(repeats, ndarray):
            raise ValueError("cupy.ndaray cannot be specified as `repeats` argument.")
        if isinstance(repeats, _np_ndarray):
            raise host_error(repeats, "repeat")
        return new(self._a.repeat(repeats, axis))

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> ndarray:
        return new(writable(self._a.diagonal(offset, axis1, axis2)), self._base if self._base is not None else self)

    # -- calculation ----------------------------------------------------------------------------
    def sum(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:
        return reduction("sum", self, out, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:
        return reduction("prod", self, out, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:
        return reduction("mean", self, out, axis=axis, dtype=dtype, keepdims=keepdims)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False) -> ndarray:
        return reduction("var", self, out, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False) -> ndarray:
        return reduction("std", self, out, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)

    def max(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:
        return reduction("max", self, out, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:
        return reduction("min", self, out, axis=axis, keepdims=keepdims)

    def ptp(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:
        return reduction(np.ptp, self, out, axis=axis, keepdims=keepdims)

    def all(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:
        return reduction("all", self, out, axis=axis, keepdims=keepdims)

    def any(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:
        return reduction("any", self, out, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Any = None, out: Any = None, dtype: Any = None, keepdims: bool = False) -> ndarray:
        r = reduction("argmax", self, out, axis=axis, keepdims=keepdims)
        return r if dtype is None or out is not None else r.astype(dtype, copy=False)

    def argmin(self, axis: Any = None, out: Any = None, dtype: Any = None, keepdims: bool = False) -> ndarray:
        r = reduction("argmin", self, out, axis=axis, keepdims=keepdims)
        return r if dtype is None or out is not None else r.astype(dtype, copy=False)

    def cumsum(self, axis: Any = None, dtype: Any = None, out: Any = None) -> ndarray:
        return reduction("cumsum", self, out, axis=axis, dtype=dtype)

    def cumprod(self, axis: Any = None, dtype: Any = None, out: Any = None) -> ndarray:
        return reduction("cumprod", self, out, axis=axis, dtype=dtype)

    def trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None) -> ndarray:
        return reduction("trace", self, out, offset=offset, axis1=axis1, axis2=axis2, dtype=dtype)

    def round(self, decimals: int = 0, out: Any = None) -> ndarray:
        return reduction("round", self, out, decimals=decimals)

    def conj(self) -> ndarray:
        return new(np.conj(self._a)) if self._a.dtype.kind == "c" else self

    def conjugate(self) -> ndarray:
        return self.conj()

    def dot(self, b: Any, out: Any = None) -> ndarray:
        if type(b) is not ndarray:
            raise TypeError(
                f"Argument 'b' has incorrect type (expected cupy._core.core._ndarray_base, got {type(b).__name__})"
            )
        return reduction(np.dot, self, out, b=b._a)

    # -- sorting and searching --------------------------------------------------------------------
    def sort(self, axis: int = -1) -> None:
        if self._a.ndim == 0:
            raise np.exceptions.AxisError("Sorting arrays with the rank of zero is not supported")
        self._a.sort(axis=axis, kind="stable")

    def argsort(self, axis: Any = -1) -> ndarray:
        return new(np.argsort(self._a, axis=axis, kind="stable"))

    def partition(self, kth: Any, axis: int = -1) -> None:
        self._a.partition(kth, axis=axis)

    def argpartition(self, kth: Any, axis: Any = -1) -> ndarray:
        return new(np.argpartition(self._a, kth, axis=axis))

    def searchsorted(self, v: Any, side: str = "left", sorter: Any = None) -> ndarray:
        return wrap(np.searchsorted(self._a, unwrap(v, "searchsorted"), side, unwrap(sorter, "searchsorted")))

    # __getitem__/__setitem__, take/put/choose/nonzero/compress, scatter_* are attached by
    # ``_indexing``; __array_ufunc__/__array_function__ by ``_dispatch``; the operators by ``_ufunc``.


ndarray.__module__ = "cupy"
