"""Ways to make tensors: ``tensor``, ``zeros``, ``ones``, ``empty``, ``full``, the ``*_like`` forms, ``randn``,
``rand``, ``randint``, ``randperm``, ``arange``, ``eye``, ``from_numpy``, ``as_tensor``, ...

Sizes take PyTorch's forms (``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros(size=(2, 3))``); ``device=`` is
accepted when it names the device this process's backend runs on (see ``Tensor.to``)."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from . import backend
from .backend import xp
from .device import check as _check_device
from .spelling import _as_dtype
from .tensor import Tensor, as_array


def _shape(shape: tuple, size: Any = None, op: str = "zeros") -> tuple:
    """PyTorch's size forms: ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])``, ``f(tg.Size(...))``, ``f(size=(2, 3))``,
    ``f()`` (0-d); the entries may be NumPy or 0-d tensor integers."""
    if size is not None:
        if shape:
            raise TypeError(f"{op}: got the size both positionally and as size=")
        shape = (size,)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    dims = tuple(shape)
    if not all([type(n) is int for n in dims]):  # NumPy or 0-d tensor integers (the plain-int case skips this)
        try:
            dims = tuple([operator.index(n) for n in dims])
        except TypeError:
            raise TypeError(f"{op}: a size is a sequence of ints, got {shape!r}") from None
    if dims and min(dims) < 0:
        raise ValueError(f"{op}: dimensions must be non-negative, got size {dims}")
    return dims


def _float(dtype: Any, op: str = "tensor") -> np.dtype:
    return backend.get_default_dtype() if dtype is None else _as_dtype(op, dtype)


def _only_float(dtype: Any, op: str) -> np.dtype:
    d = _float(dtype, op)
    if d.kind != "f":
        raise TypeError(f"{op}: draws floating-point samples; dtype {d} is not a float dtype")
    return d


def _make(a: Any, requires_grad: bool, device: Any, op: str) -> Tensor:
    if device is not None:
        _check_device(op, device)
    return Tensor(a, requires_grad=requires_grad)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, device: Any = None) -> Tensor:
    """A new tensor from data (a copy of a Tensor's data is not made; use :meth:`Tensor.clone`)."""
    if device is not None:
        _check_device("tensor", device)
    return Tensor(data, requires_grad=requires_grad, dtype=None if dtype is None else _as_dtype("tensor", dtype))


def zeros(*shape: Any, size: Any = None, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Zeros of the given size (``zeros(2, 3)`` or ``zeros((2, 3))``), in the default float dtype unless ``dtype``."""
    return _make(xp.zeros(_shape(shape, size, "zeros"), dtype=_float(dtype, "zeros")), requires_grad, device, "zeros")


def ones(*shape: Any, size: Any = None, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(xp.ones(_shape(shape, size, "ones"), dtype=_float(dtype, "ones")), requires_grad, device, "ones")


def empty(*shape: Any, size: Any = None, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """An uninitialised tensor, as in PyTorch: its values are whatever the memory held; write before reading."""
    return _make(xp.empty(_shape(shape, size, "empty"), dtype=_float(dtype, "empty")), requires_grad, device, "empty")


def _fill_dtype(fill_value: Any, dtype: Any, op: str) -> np.dtype:
    """PyTorch's inference for ``full``: bool -> bool, int -> int64, float -> the default dtype."""
    if dtype is not None:
        return _as_dtype(op, dtype)
    if isinstance(fill_value, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(fill_value, (int, np.integer)):
        return np.dtype(np.int64)
    return backend.get_default_dtype()


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None) -> Tensor:
    """``size`` filled with ``fill_value``; the dtype follows the value as in PyTorch (bool, int64, or the
    default float dtype) unless ``dtype`` is given."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    a = xp.full(_shape((size,), None, "full"), fill_value, dtype=_fill_dtype(fill_value, dtype, "full"))
    return _make(a, requires_grad, device, "full")


def _like(t: Any) -> Any:
    return t.array if isinstance(t, Tensor) else as_array(t, op="like")


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Zeros of ``t``'s shape, in ``t``'s dtype unless ``dtype``."""
    a = _like(t)
    d = a.dtype if dtype is None else _as_dtype("zeros_like", dtype)
    return _make(xp.zeros(a.shape, dtype=d), requires_grad, device, "zeros_like")


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    a = _like(t)
    d = a.dtype if dtype is None else _as_dtype("ones_like", dtype)
    return _make(xp.ones(a.shape, dtype=d), requires_grad, device, "ones_like")


def empty_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    a = _like(t)
    d = a.dtype if dtype is None else _as_dtype("empty_like", dtype)
    return _make(xp.empty(a.shape, dtype=d), requires_grad, device, "empty_like")


def full_like(t: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    a = _like(t)
    d = a.dtype if dtype is None else _as_dtype("full_like", dtype)
    return _make(xp.full(a.shape, fill_value, dtype=d), requires_grad, device, "full_like")


def randn(*shape: Any, size: Any = None, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Standard normal samples from the seeded generator (:func:`manual_seed`)."""
    d = _only_float(dtype, "randn")
    a = backend.host_rng().standard_normal(_shape(shape, size, "randn")).astype(d)
    return _make(backend.to_backend(a), requires_grad, device, "randn")


def rand(*shape: Any, size: Any = None, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uniform samples in [0, 1) from the seeded generator."""
    d = _only_float(dtype, "rand")
    a = backend.host_rng().random(_shape(shape, size, "rand")).astype(d)
    return _make(backend.to_backend(a), requires_grad, device, "rand")


def randn_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    a = _like(t)
    return randn(a.shape, dtype=a.dtype if dtype is None else dtype, requires_grad=requires_grad, device=device)


def rand_like(t: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    a = _like(t)
    return rand(a.shape, dtype=a.dtype if dtype is None else dtype, requires_grad=requires_grad, device=device)


def uniform(*shape: int, low: float = 0.0, high: float = 1.0, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    a = backend.host_rng().uniform(low, high, _shape(shape, None, "uniform")).astype(_float(dtype, "uniform"))
    return Tensor(backend.to_backend(a), requires_grad=requires_grad)


def randint(*args: Any, size: Any = None, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """PyTorch's ``randint(high, size)`` / ``randint(low, high, size)``: integers in ``[low, high)`` (low
    defaults to 0), int64 unless ``dtype``, from the seeded generator."""
    bounds = list(args)
    if size is None and bounds and isinstance(bounds[-1], (tuple, list)):
        size = bounds.pop()
    if size is None or not isinstance(size, (tuple, list)):
        raise TypeError(
            f"randint: give the size as a tuple, randint(low, high, size) or randint(high, size); got {size!r}"
        )
    if len(bounds) == 1:
        low, high = 0, operator.index(bounds[0])
    elif len(bounds) == 2:
        low, high = operator.index(bounds[0]), operator.index(bounds[1])
    else:
        raise TypeError(f"randint: expected randint(high, size) or randint(low, high, size), got {len(bounds)} bounds")
    if low >= high:
        raise ValueError(f"randint: the range [low, high) = [{low}, {high}) is empty")
    d = np.dtype(np.int64) if dtype is None else _as_dtype("randint", dtype)
    a = backend.host_rng().integers(low, high, _shape((size,), None, "randint")).astype(d)
    return _make(backend.to_backend(a), requires_grad, device, "randint")


def randperm(n: int, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A random permutation of ``0 .. n - 1`` (int64 unless ``dtype``), from the seeded generator."""
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    d = np.dtype(np.int64) if dtype is None else _as_dtype("randperm", dtype)
    return _make(backend.to_backend(backend.host_rng().permutation(n).astype(d)), requires_grad, device, "randperm")


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1,
    dtype: Any = None,
    requires_grad: bool = False,
    *,
    end: float | None = None,
    device: Any = None,
) -> Tensor:
    """NumPy's arange (``end=`` is PyTorch's name for ``stop``); integer arguments give int64 unless a dtype
    is given, floats the default dtype."""
    if end is not None:
        if stop is not None:
            raise TypeError("arange: got both stop and end= (NumPy's and PyTorch's name for the same argument)")
        stop = end
    if stop is None:
        start, stop = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, stop, step)):
        dtype = backend.get_default_dtype()
    elif dtype is None:
        dtype = np.int64
    return _make(xp.arange(start, stop, step, dtype=_as_dtype("arange", dtype)), requires_grad, device, "arange")


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(xp.eye(n, m, dtype=_float(dtype, "eye")), requires_grad, device, "eye")


def from_numpy(a: np.ndarray) -> Tensor:
    """A tensor over a NumPy array, keeping its dtype. Under NumPy it shares the array's memory (writes to
    one show in the other, as in PyTorch); under CuPy the array is copied to the GPU."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(a).__name__}")
    return Tensor._make(as_array(a, op="from_numpy"), False, None, 0)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor without copying when it can: a Tensor of that dtype is returned itself, a
    backend array of that dtype is shared; anything else is converted (Tensor: a differentiable cast)."""
    if device is not None:
        _check_device("as_tensor", device)
    d = None if dtype is None else _as_dtype("as_tensor", dtype)
    if isinstance(data, Tensor):
        return data if d is None else data.astype(d)
    return Tensor._make(as_array(data, d, "as_tensor"), False, None, 0)


def _legacy_constructor(name: str, dtype: Any) -> Any:
    def make(*args: Any, requires_grad: bool = False) -> Tensor:
        # PyTorch's legacy constructors: ints are a shape (PyTorch leaves the memory uninitialised; here
        # it is zeros), anything else is data (`LongTensor([1, 2])`, `FloatTensor(array)`)
        if not args or all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return Tensor(xp.zeros(args, dtype=dtype), requires_grad=requires_grad)
        if len(args) != 1:
            raise TypeError(f"{name}: expected a shape (ints) or one data argument, got {args!r}")
        data = args[0]
        if isinstance(data, Tensor):
            data = data.array
        return Tensor(data, dtype=dtype, requires_grad=requires_grad)

    make.__name__ = make.__qualname__ = name
    make.__doc__ = (
        f"PyTorch's legacy ``torch.{name}``: ``{name}(data)`` or ``{name}(*sizes)`` (zeros), dtype {np.dtype(dtype)}."
    )
    return make


FloatTensor = _legacy_constructor("FloatTensor", np.float32)
DoubleTensor = _legacy_constructor("DoubleTensor", np.float64)
HalfTensor = _legacy_constructor("HalfTensor", np.float16)
LongTensor = _legacy_constructor("LongTensor", np.int64)
IntTensor = _legacy_constructor("IntTensor", np.int32)
ShortTensor = _legacy_constructor("ShortTensor", np.int16)
CharTensor = _legacy_constructor("CharTensor", np.int8)
ByteTensor = _legacy_constructor("ByteTensor", np.uint8)
BoolTensor = _legacy_constructor("BoolTensor", np.bool_)
