"""A strict CuPy 13 stand-in for tests: NumPy underneath, CuPy's rules on top (never installed).

Put ``tests/fake_gpu`` first on ``PYTHONPATH`` so ``import cupy`` finds this package. See
tests/fake_gpu/README.md for the rules it enforces and what it does not emulate. The namespace is
an allowlist: the public names of CuPy v13.6.0's cupy/__init__.py (``_names``); a NumPy name CuPy
lacks is an AttributeError here, and ``numpy.<that function>(device_array)`` a TypeError.

Every module here imports its siblings relatively, so the package can be loaded under another name
(the stand-in's own tests do, to leave ``sys.modules["cupy"]`` alone).
"""

from __future__ import annotations

from typing import Any

import numpy as _np

from . import _core, _creation, _dispatch, _functions, _indexing, _names, _standin, _sync, _ufunc
from ._core import ndarray
from ._ufunc import ufunc

__version__ = "13.6.0+standin"
__standin__ = True

_indexing.attach()
_dispatch.attach()
_ufuncs = _ufunc.make_ufuncs(
    [n for n, (k, _) in _names.CUPY.items() if k == "object" and (isinstance(getattr(_np, n, None), _np.ufunc)
                                                              or n in _ufunc._FUNCTION_UFUNCS)]
)  # fmt: skip
_ufunc.attach_operators(_ufuncs, _functions.matmul)
_functions._CLIP = _ufunc.ufunc("clip", _np._core.umath.clip, 3, 1)
ndarray.clip = _functions.ndarray_clip


# ---- CuPy-specific functions ---------------------------------------------------------------------
def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None, *, blocking: bool = True) -> Any:
    if isinstance(a, ndarray):
        return a.get(stream=stream, order=order, out=out, blocking=blocking)
    temp = _np.asarray(a, order=order)
    if out is not None:
        out[...] = temp
        return out
    return temp


def get_array_module(*args: Any) -> Any:
    import sys

    for arg in args:
        if isinstance(arg, ndarray):
            return sys.modules[__name__]
    return _np


def get_default_memory_pool() -> Any:
    return _memory.DEFAULT_POOL


def get_default_pinned_memory_pool() -> Any:
    return _memory.DEFAULT_PINNED_POOL


def is_available() -> bool:
    return True


def size(a: Any, axis: Any = None) -> int:
    return a.size if axis is None else a.shape[axis]


def ndim(a: Any) -> int:
    try:
        return a.ndim
    except AttributeError:
        return _np.ndim(a)


def shape(a: Any) -> tuple:
    return a.shape if isinstance(a, ndarray) else _np.shape(a)


def can_cast(from_: Any, to: Any, casting: str = "safe") -> bool:
    return _np.can_cast(from_.dtype if isinstance(from_, ndarray) else from_, to, casting=casting)


def result_type(*arrays_and_dtypes: Any) -> _np.dtype:
    return _np.result_type(*[a.dtype if isinstance(a, ndarray) else a for a in arrays_and_dtypes])


def common_type(*arrays: Any) -> type:
    if not arrays:
        return _np.float16
    dts = []
    for a in arrays:
        if a.dtype.kind == "b":
            raise TypeError("can't get common type for non-numeric array")
        dts.append(_np.dtype("float64") if a.dtype.kind in "iu" else a.dtype)
    out = dts[0]
    for d in dts[1:]:
        out = _np.promote_types(out, d)
    return out.type


def min_scalar_type(a: Any) -> _np.dtype:
    if isinstance(a, ndarray):
        return a.dtype
    return _np.min_scalar_type(a)


def binary_repr(num: int, width: Any = None) -> str:
    return _np.binary_repr(num, width)


def _no_kernels(name: str) -> type:
    class NoKernel:
        """Exists as in CuPy; the stand-in compiles nothing, so making one raises."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise NotImplementedError("the CuPy stand-in compiles no kernels")

    NoKernel.__name__ = NoKernel.__qualname__ = name
    return NoKernel


def fuse(*args: Any, **kwargs: Any) -> Any:
    """cupy.fuse exists; a fused function raises when called (the stand-in compiles no kernels)."""

    def decorate(f: Any) -> Any:
        def fused(*a: Any, **k: Any) -> Any:
            raise NotImplementedError("the CuPy stand-in compiles no kernels (cupy.fuse)")

        fused.__name__ = getattr(f, "__name__", "fused")
        return fused

    if len(args) == 1 and callable(args[0]) and not kwargs:
        return decorate(args[0])
    return decorate


def _removed_in_numpy2(name: str, instead: str) -> Any:
    def f(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"This function has been removed in NumPy v2. Use {instead} instead.")

    f.__name__ = name
    return f


_SPECIAL: dict[str, Any] = {
    **_functions.SPECIAL, **_creation.SPECIAL,
    "ndarray": ndarray, "ufunc": ufunc, "asnumpy": asnumpy, "get_array_module": get_array_module,
    "get_default_memory_pool": get_default_memory_pool,
    "get_default_pinned_memory_pool": get_default_pinned_memory_pool,
    "is_available": is_available, "size": size, "ndim": ndim, "shape": shape, "can_cast": can_cast,
    "result_type": result_type, "common_type": common_type, "min_scalar_type": min_scalar_type,
    "binary_repr": binary_repr, "fuse": fuse, "disable_experimental_feature_warning": False,
    "ElementwiseKernel": _no_kernels("ElementwiseKernel"), "RawKernel": _no_kernels("RawKernel"),
    "ReductionKernel": _no_kernels("ReductionKernel"),
    "Inf": _np.inf, "Infinity": _np.inf, "infty": _np.inf, "PINF": _np.inf, "NINF": -_np.inf, "NAN": _np.nan,
    "NaN": _np.nan, "PZERO": 0.0, "NZERO": -0.0,
    "find_common_type": _removed_in_numpy2("find_common_type", "`promote_types` or `result_type`"),
    "set_string_function": _removed_in_numpy2("set_string_function", "`np.set_printoptions`"),
    "get_array_wrap": _removed_in_numpy2("get_array_wrap", "<no replacement>"),
    "disp": _removed_in_numpy2("disp", "your own print function"),
    "safe_eval": _removed_in_numpy2("safe_eval", "`ast.literal_eval`"),
}  # fmt: skip


def _numpy_object(path: str) -> Any:
    obj: Any = _np
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _build() -> tuple[dict[str, Any], set[str]]:
    ns: dict[str, Any] = {}
    missing: set[str] = set()
    for name, (kind, detail) in _names.CUPY.items():
        if name in _names.NOT_EMULATED:
            missing.add(name)
        elif name in _SPECIAL:
            ns[name] = _SPECIAL[name]
        elif name in _ufuncs:
            ns[name] = _ufuncs[name]
        elif kind == "numpy":
            try:
                ns[name] = _numpy_object(detail)
            except AttributeError:
                missing.add(name)
        elif kind == "function":
            np_name = _names.NUMPY_RENAMED.get(name, name)
            f = getattr(_np, np_name, None) if np_name else None
            if callable(f):
                ns[name] = _functions.make_function(name, f, detail)
            else:
                missing.add(name)
        elif kind != "module":
            missing.add(name)
    return ns, missing


_ns, _NOT_HERE = _build()
globals().update(_ns)
del _ns

from . import _cupyx, _memory, cuda, fft, linalg, random  # noqa: E402, F401  (submodules are attributes)

# only CuPy's names are public: drop what this file's own imports and helpers put in the namespace
for _k in [k for k in globals() if not k.startswith("_") and k not in _names.CUPY]:
    del globals()[_k]


def __getattr__(name: str) -> Any:
    if name in _NOT_HERE or name in _names.CUPY:
        raise AttributeError(f"cupy.{name} exists in CuPy {_names.TAG} but the CuPy stand-in does not emulate it")
    raise AttributeError(f"module 'cupy' has no attribute {name!r}")


_ = (_core, _standin, _sync)
