"""CuPy's ufuncs (``cupy.add``, ``cupy.exp``, ...) and the ndarray operators built on them.

Rules followed (cupy/_core/_kernel.pyx and core.pyx at v13.6.0):

- an operand must be a device array or a Python/NumPy scalar (``_preprocess_arg``); anything else,
  a host ``numpy.ndarray`` included (0-d too), is ``TypeError('Unsupported type ...')``;
- keyword arguments are ``out``, ``dtype`` and ``casting`` only (``Wrong arguments`` otherwise);
- type promotion is CuPy 13's, NumPy 1.x-like: when no scalar is of a higher kind than the arrays
  (``_check_should_use_min_scalar``), NumPy scalars are weak like Python scalars, so
  ``float32_array * numpy.float64(2)`` stays float32 (NumPy 2 would give float64);
- ``ufunc.at`` exists only where CuPy gives the ufunc a ``scatter_op`` (add, maximum, minimum,
  bitwise_and/or/xor), ``reduce``/``accumulate`` only for add and multiply, ``reduceat`` for add;
  the others raise NotImplementedError as CuPy's do;
- no floating-point warnings (``_core.quiet``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._core import _NP_SCALARS, _PY_SCALARS, SCALAR_TYPES, loud, ndarray, new, quiet, wrap

_np_ndarray = np.ndarray
_KIND = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 2}  # _kernel.pyx: _get_kind_score
_PY_KIND = {bool: 0, int: 1, float: 2, complex: 2}


def _unsupported(x: Any) -> TypeError:
    if isinstance(x, _np_ndarray):
        return _core.host_error(x)
    return TypeError(f"Unsupported type {type(x)}")


def operands(args: tuple) -> list:
    """The NumPy operands of a device elementwise operation, with CuPy 13's scalar promotion."""
    conv = []
    np_scalars = False
    for x in args:
        t = type(x)
        if t is ndarray:
            conv.append(x._a)
        elif t in _PY_SCALARS:
            conv.append(x)
        elif t in _NP_SCALARS:
            conv.append(x)
            np_scalars = True
        elif isinstance(x, ndarray):
            conv.append(x._a)
        else:
            raise _unsupported(x)
    if np_scalars:
        arr_kind, sc_kind = -1, -1
        for x in conv:
            if type(x) is _np_ndarray:
                arr_kind = max(arr_kind, _KIND.get(x.dtype.kind, -1))
            else:
                sc_kind = max(sc_kind, _PY_KIND.get(type(x), -1) if type(x) in _PY_KIND else _KIND[x.dtype.kind])
        if arr_kind >= 0 and arr_kind >= sc_kind:
            conv = [x.item() if type(x) in _NP_SCALARS else x for x in conv]
    return conv


class ufunc:  # noqa: N801  (CuPy's name)
    """A CuPy universal function over a NumPy one (or an elementwise NumPy function)."""

    def __init__(self, name: str, func: Any, nin: int, nout: int, scatter_op: str | None = None) -> None:
        self.name = self.__name__ = f"cupy_{name}"
        self._func = func
        self._is_np_ufunc = isinstance(func, np.ufunc)
        self.nin, self.nout, self.nargs = nin, nout, nin + nout
        self._scatter_op = scatter_op
        self.__doc__ = f"CuPy stand-in for numpy.{getattr(func, '__name__', name)}"

    def __repr__(self) -> str:
        return f"<ufunc '{self.name}'>"

    @property
    def types(self) -> list[str]:
        if not self._is_np_ufunc:
            return []
        ok = _core.SUPPORTED_CHARS
        return [t for t in self._func.types if all(c in ok for c in t.replace("->", ""))]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        nin = self.nin
        if not kwargs and len(args) == nin:  # the common case
            conv = operands(args)
            tok = quiet()
            try:
                return wrap(self._func(*conv))
            finally:
                loud(tok)
        out = kwargs.pop("out", None)
        dtype = kwargs.pop("dtype", None)
        casting = kwargs.pop("casting", "same_kind")
        if kwargs:
            raise TypeError(f"Wrong arguments {kwargs}")
        n = len(args)
        if not nin <= n <= self.nargs:
            raise TypeError(
                f"Wrong number of arguments for {self.name!r}. It must be either {nin} or {self.nargs} "
                f"(with outputs), but given {n}."
            )
        outs = args[nin:]
        if out is not None:
            if outs:
                raise ValueError("Cannot specify 'out' as both a positional and keyword argument")
            if isinstance(out, tuple):
                if len(out) != self.nout:
                    raise ValueError("The 'out' tuple must have exactly one entry per ufunc output")
                outs = out
            else:
                if self.nout != 1:
                    raise ValueError("'out' must be a tuple of arrays")
                outs = (out,)
        for o in outs:
            if o is not None and type(o) is not ndarray:
                raise _unsupported(o)
        conv = operands(args[:nin])
        np_outs = tuple(None if o is None else o._a for o in outs) + (None,) * (self.nout - len(outs))
        kw: dict[str, Any] = {}
        if dtype is not None:
            kw["dtype"] = dtype
        tok = quiet()
        try:
            if self._is_np_ufunc:
                r = self._func(*conv, out=np_outs if outs else None, casting=casting, **kw)
            else:
                r = self._func(*conv)
                if outs:
                    np.copyto(np_outs[0], r, casting=casting)
        finally:
            loud(tok)
        if not outs:
            return wrap(r)
        res = tuple(o if o is not None else wrap(ri) for o, ri in zip(outs, r if self.nout > 1 else (r,)))
        return res[0] if self.nout == 1 else res

    def outer(self, A: Any, B: Any, **kwargs: Any) -> Any:  # noqa: N803
        from ._creation import array

        A, B = array(A), array(B)
        a = A.reshape(A.shape + (1,) * B.ndim)
        b = B.reshape((1,) * A.ndim + B.shape)
        return self(a, b, **kwargs)

    def at(self, a: Any, indices: Any, b: Any = None) -> None:
        if self._scatter_op is None:
            raise NotImplementedError(f"`{self.name}.at` is not supported yet")
        from ._indexing import scatter

        scatter(a, indices, b, self._scatter_op)

    def reduce(self, array: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        if self.name == "cupy_add":
            return array.sum(axis, dtype, out, keepdims)
        if self.name == "cupy_multiply":
            return array.prod(axis, dtype, out, keepdims)
        raise NotImplementedError(f"`{self.name}.reduce` is not supported yet")

    def accumulate(self, array: Any, axis: Any = 0, dtype: Any = None, out: Any = None) -> Any:
        if self.name == "cupy_add":
            return array.cumsum(axis, dtype, out)
        if self.name == "cupy_multiply":
            return array.cumprod(axis, dtype, out)
        raise NotImplementedError(f"`{self.name}.accumulate` is not supported yet")

    def reduceat(self, array: Any, indices: Any, axis: int = 0, dtype: Any = None, out: Any = None) -> Any:
        if self.name != "cupy_add":
            raise NotImplementedError(f"`{self.name}.reduceat` is not supported yet")
        if type(array) is not ndarray:
            raise _unsupported(array)
        idx = indices._a if type(indices) is ndarray else np.asarray(indices)
        r = np.add.reduceat(array._a, idx, axis=axis, dtype=dtype)
        if out is not None:
            out._a[...] = r
            return out
        return new(r)


ufunc.__module__ = "cupy"

# CuPy's ufuncs whose NumPy counterpart is a plain function (cupy/_math/special.py, rounding.py)
_FUNCTION_UFUNCS = {"i0": np.i0, "sinc": np.sinc, "fix": np.fix}
# the ufuncs CuPy builds with a scatter_op (cupy/_core/_routines_math.pyx, _routines_binary.pyx,
# cupy/_math/misc.py), i.e. those with a working ``ufunc.at``
SCATTER_OPS = {"add": "add", "maximum": "max", "minimum": "min", "bitwise_and": "and", "bitwise_or": "or",
               "bitwise_xor": "xor"}  # fmt: skip


def make_ufuncs(names: list[str]) -> dict[str, ufunc]:
    """One stand-in ufunc per CuPy ufunc name (aliases such as abs/absolute share one object)."""
    made: dict[int, ufunc] = {}
    table: dict[str, ufunc] = {}
    for name in names:
        f = _FUNCTION_UFUNCS.get(name, getattr(np, name, None))
        if f is None:
            continue
        if id(f) not in made:
            if isinstance(f, np.ufunc):
                u = ufunc(f.__name__, f, f.nin, f.nout, SCATTER_OPS.get(f.__name__))
            else:
                u = ufunc(name, f, 1, 1)
            made[id(f)] = u
        table[name] = made[id(f)]
    return table


# ---- operators ----------------------------------------------------------------------------------
def _should_use_rop(x: Any, y: Any) -> bool:
    """core.pyx: defer to ``y``'s reflected operator when it opts out of NumPy's ufunc protocol."""
    try:
        y_ufunc = y.__array_ufunc__
    except AttributeError:
        return getattr(x, "__array_priority__", 0) < getattr(y, "__array_priority__", 0)
    return y_ufunc is None


def _binary(u: ufunc, npf: Any) -> tuple[Any, Any, Any]:
    def op(self: ndarray, other: Any) -> Any:
        t = type(other)
        if t is ndarray or t in SCALAR_TYPES:
            return u(self, other)
        if _should_use_rop(self, other):
            return NotImplemented
        return npf(self, other)  # through NumPy's dispatch, as CuPy does: __array_ufunc__ or NumPy's TypeError

    def rop(self: ndarray, other: Any) -> Any:
        # CuPy's binary operators take (x, y) in either order (Cython's c_api_binop_methods), and call
        # the ufunc on the other operand whatever it is
        return u(other, self)

    def iop(self: ndarray, other: Any) -> Any:
        return u(self, other, out=self)

    return op, rop, iop


def _compare(u: ufunc, npf: Any, kind: str) -> Any:
    def cmp(self: ndarray, other: Any) -> Any:
        t = type(other)
        if t is ndarray or t in SCALAR_TYPES:
            return u(self, other)
        if _should_use_rop(self, other):
            return NotImplemented
        if isinstance(other, _np_ndarray) and other.ndim == 0:
            return u(self, other.item())  # core.pyx: a 0-d host array in a comparison is read as its value
        if kind in ("eq", "ne") and (other is None or type(other).__eq__ is object.__eq__):
            fill = np.zeros if kind == "eq" else np.ones
            return new(fill(self._a.shape, dtype=bool))
        return npf(self, other)

    return cmp


def attach_operators(uf: dict[str, ufunc], matmul: Any) -> None:
    for name, npname in [
        ("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "true_divide"),
        ("floordiv", "floor_divide"), ("mod", "remainder"), ("pow", "power"), ("lshift", "left_shift"),
        ("rshift", "right_shift"), ("and", "bitwise_and"), ("or", "bitwise_or"), ("xor", "bitwise_xor"),
    ]:  # fmt: skip
        op, rop, iop = _binary(uf[npname], getattr(np, npname))
        setattr(ndarray, f"__{name}__", op)
        setattr(ndarray, f"__r{name}__", rop)
        setattr(ndarray, f"__i{name}__", iop)
    for name, npname in [("lt", "less"), ("le", "less_equal"), ("eq", "equal"), ("ne", "not_equal"),
                         ("gt", "greater"), ("ge", "greater_equal")]:  # fmt: skip
        setattr(ndarray, f"__{name}__", _compare(uf[npname], getattr(np, npname), name))

    dm = uf["divmod"]

    def __divmod__(self: ndarray, other: Any) -> Any:  # noqa: N807
        if type(other) is ndarray or type(other) in SCALAR_TYPES:
            return dm(self, other)
        if _should_use_rop(self, other):
            return NotImplemented
        return np.divmod(self, other)

    def __rdivmod__(self: ndarray, other: Any) -> Any:  # noqa: N807
        return dm(other, self)

    def __matmul__(self: ndarray, other: Any) -> Any:  # noqa: N807
        if type(other) is ndarray:
            return matmul(self, other)
        if _should_use_rop(self, other):
            return NotImplemented
        return np.matmul(self, other)

    def __rmatmul__(self: ndarray, other: Any) -> Any:  # noqa: N807
        return matmul(other, self)

    def __imatmul__(self: ndarray, other: Any) -> Any:  # noqa: N807
        # CuPy 13's ndarray has no __imatmul__: Python falls back to ``a = a @ b`` (a new array)
        return NotImplemented

    def __pos__(self: ndarray) -> ndarray:  # noqa: N807
        if self._a.dtype == np.bool_:
            import warnings

            warnings.warn("Applying '+' to a non-numerical array is ill-defined. Returning a copy, but in the "
                          "future this will error.", DeprecationWarning, stacklevel=2)  # fmt: skip
            return new(self._a.copy())
        return uf["positive"](self)

    ndarray.__divmod__ = __divmod__
    ndarray.__rdivmod__ = __rdivmod__
    ndarray.__matmul__ = __matmul__
    ndarray.__rmatmul__ = __rmatmul__
    ndarray.__neg__ = lambda self: uf["negative"](self)
    ndarray.__pos__ = __pos__
    ndarray.__abs__ = lambda self: uf["absolute"](self)
    ndarray.__invert__ = lambda self: uf["invert"](self)
    del __imatmul__
