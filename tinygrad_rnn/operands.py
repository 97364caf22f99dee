"""What may stand where a ``Tensor`` is expected, and what it becomes: user data as a backend array of
the right dtype (:func:`as_array`), a Python number or array meeting a tensor in an op (:func:`lift`,
:func:`pair`), and lists that must hold Tensors only (:func:`check_tensors`).

The dtype rules in one sentence: Python floats take the default dtype, numbers meeting a float tensor take
its dtype, integer and boolean tensors meeting a float tensor are cast to it, and two float tensors of
different precision are an error, never a silent upcast.

The class itself is ``tape.Tensor`` (bound by tensor.py), read when a function runs, so that this module
imports nothing above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import backend
from . import tape as _tape
from .backend import is_array, xp
from .spelling import _check_dtype, _scalar

if TYPE_CHECKING:
    from .tensor import Tensor

PY_SCALARS = (bool, int, float)


def as_array(data: Any, dtype: Any = None, op: str = "Tensor") -> Any:
    """Turn user data into a backend array, with the dtype rules of :class:`Tensor`."""
    if isinstance(data, _tape.Tensor):
        data = data.array
    want = None if dtype is None else _check_dtype(op, np.dtype(dtype))
    if is_array(data):
        a = data
    elif isinstance(data, (np.ndarray, np.generic)):
        _check_dtype(op, data.dtype)  # on the host, before any copy to the device
        a = backend.to_backend(data)
    else:
        if isinstance(data, (str, bytes)):
            raise TypeError(f"{op}: cannot make a tensor from a string ({data!r}); pass numbers")
        try:
            host = np.asarray(data)
        except ValueError as e:  # NumPy 2 refuses ragged nested sequences
            raise ValueError(
                f"{op}: cannot make a tensor from a ragged nested sequence (sub-lists of different lengths): {e}"
            ) from None
        if host.dtype == object:
            raise TypeError(
                f"{op}: cannot make a tensor from objects of type "
                f"{sorted({type(v).__name__ for v in np.ravel(host)})}; pass numbers or arrays"
            )
        if host.dtype.kind == "f" and want is None:  # Python floats take the default dtype
            want = backend.get_default_dtype()
        _check_dtype(op, host.dtype)
        a = backend.to_backend(host)
    _check_dtype(op, a.dtype)
    if want is not None and a.dtype != want:
        a = a.astype(want)
    return a


def lift(t: Tensor, other: Any, op: str) -> Tensor:
    """``other`` as a Tensor that may meet ``t`` in an op, without silent float upcasts.

    Python numbers and 0-d arrays adopt ``t``'s float dtype; integer/bool tensors meeting a float
    tensor are cast to its dtype; two float tensors of different precision are an error.
    """
    T = _tape.Tensor
    if isinstance(other, T):
        return other
    d = t.array.dtype
    if isinstance(other, PY_SCALARS) or (getattr(other, "ndim", None) == 0 and hasattr(other, "dtype")):
        other_float = isinstance(other, float) or getattr(getattr(other, "dtype", None), "kind", "") == "f"
        if d.kind == "f":
            return T._make(_scalar(other, d), False, None, 0)
        if other_float:
            return T._make(xp.asarray(other, dtype=backend.get_default_dtype()), False, None, 0)
        return T._make(xp.asarray(other), False, None, 0)
    return T(other) if not isinstance(other, (list, tuple)) or d.kind != "f" else T(other, dtype=d)


def pair(t: Tensor, other: Any, op: str, reflected: bool = False) -> tuple:
    """The operands of a binary op, ``(t, other)`` (``(other, t)`` when ``reflected``), of one dtype."""
    T = _tape.Tensor
    if type(other) is T and other.array.dtype is t.array.dtype:  # the common case, kept short
        return (other, t) if reflected else (t, other)
    b = lift(t, other, op)
    a = t
    da, db = a.array.dtype, b.array.dtype
    if da != db:
        fa, fb = da.kind == "f", db.kind == "f"
        if fa and fb:
            if b.ndim == 0:
                b = b.astype(da)
            elif a.ndim == 0:
                a = a.astype(db)
            else:
                x, y = (b, a) if reflected else (a, b)
                raise TypeError(
                    f"{op}: dtype mismatch, {x.dtype} {x.shape} and {y.dtype} {y.shape}; "
                    "tinygrad_rnn never upcasts silently: cast one side with .astype(...)"
                )
        elif fa:
            b = T._make(b.array.astype(da), False, None, 0)
        elif fb:
            a = T._make(a.array.astype(db), False, None, 0)
    return (b, a) if reflected else (a, b)


def check_tensors(op: str, items: Sequence[Any], what: str) -> None:
    """Raise ``TypeError`` at the first of ``items`` that is not a Tensor, naming it ``{what} {i}``."""
    for i, x in enumerate(items):
        if not isinstance(x, _tape.Tensor):
            raise TypeError(f"{op}: {what} {i} is a {type(x).__name__}, expected a Tensor")
