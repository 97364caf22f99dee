"""Ways to make tensors: ``tensor``, ``zeros``, ``ones``, ``full``, ``randn``, ``rand``, ``arange``, ..."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import backend
from .backend import xp
from .tensor import Tensor


def _shape(shape: tuple) -> tuple:
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def _float(dtype: Any) -> np.dtype:
    return backend.get_default_dtype() if dtype is None else np.dtype(dtype)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*shape: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(xp.zeros(_shape(shape), dtype=_float(dtype)), requires_grad=requires_grad)


def ones(*shape: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(xp.ones(_shape(shape), dtype=_float(dtype)), requires_grad=requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(xp.full(_shape((shape,)), fill_value, dtype=_float(dtype)), requires_grad=requires_grad)


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(xp.zeros_like(t.data), requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(xp.ones_like(t.data), requires_grad=requires_grad)


def randn(*shape: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the seeded generator (:func:`manual_seed`)."""
    a = backend.host_rng().standard_normal(_shape(shape)).astype(_float(dtype))
    return Tensor(backend.to_backend(a), requires_grad=requires_grad)


def rand(*shape: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the seeded generator."""
    a = backend.host_rng().random(_shape(shape)).astype(_float(dtype))
    return Tensor(backend.to_backend(a), requires_grad=requires_grad)


def uniform(*shape: int, low: float = 0.0, high: float = 1.0, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    a = backend.host_rng().uniform(low, high, _shape(shape)).astype(_float(dtype))
    return Tensor(backend.to_backend(a), requires_grad=requires_grad)


def arange(
    start: float, stop: float | None = None, step: float = 1, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """NumPy's arange; integer arguments give int64 unless a dtype is given, floats the default dtype."""
    if stop is None:
        start, stop = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, stop, step)):
        dtype = backend.get_default_dtype()
    return Tensor(xp.arange(start, stop, step, dtype=dtype), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(xp.eye(n, m, dtype=_float(dtype)), requires_grad=requires_grad)


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
            data = data.data
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
