"""PyTorch's spellings, resolved once: ``dim=``/``axis=`` and ``keepdim=``/``keepdims=`` arguments, ``Size``,
the named results of ``max``/``min``/``sort``/``topk``, and dtype names (``'torch.LongTensor'``).

:class:`~tinygrad_rnn.tensor.Tensor` and the function forms take both spellings through these helpers,
so each rule (which wins, what passing both means) is written once.
"""

from __future__ import annotations

from collections import namedtuple
from types import SimpleNamespace
from typing import Any, SupportsIndex, overload

import numpy as np

from . import tape as _tape
from .backend import xp
from .device import check as _check_device


def _check_dtype(op: str, d: np.dtype) -> np.dtype:
    if d.kind not in "biuf":
        raise TypeError(f"{op}: unsupported dtype {d}; tensors hold booleans, integers or floats")
    return d


# ---- PyTorch spellings ---------------------------------------------------------------------------
class _Default:
    """A default that tells "not passed" apart from an explicit value, so that passing both PyTorch's
    and NumPy's name for one argument (``dim=`` and ``axis=``) is caught even when one of them is given
    its default value. Its repr is the value it stands for, so signatures read ``dim=None``."""

    __slots__ = ("shown",)

    def __init__(self, shown: str) -> None:
        self.shown = shown

    def __repr__(self) -> str:
        return self.shown


_NONE: Any = _Default("None")
_FALSE: Any = _Default("False")
_ZERO: Any = _Default("0")
_LAST: Any = _Default("-1")


def _both(op: str, torch_name: str, numpy_name: str) -> TypeError:
    return TypeError(
        f"{op}: got both {torch_name}= and {numpy_name}= (PyTorch's and NumPy's name for the same argument); pass one"
    )


def _pick_dim(op: str, dim: Any, axis: Any, default: Any) -> Any:
    """The dimension given as ``dim`` (or positionally) or as NumPy's ``axis``, else ``default``."""
    unset = type(dim) is _Default
    if axis is _NONE:
        return default if unset else dim
    if not unset:
        raise _both(op, "dim", "axis")
    return axis


def _pick_keep(op: str, keepdim: Any, keepdims: Any) -> bool:
    if keepdims is _FALSE:
        return False if keepdim is _FALSE else bool(keepdim)
    if keepdim is not _FALSE:
        raise _both(op, "keepdim", "keepdims")
    return bool(keepdims)


def _reduce_args(op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> tuple:
    """(axes, keepdims) for a reduction. PyTorch reduces every dimension for ``dim=()`` (NumPy's
    ``axis=()`` reduces none), so an empty tuple means "all" only when it came as ``dim``."""
    if not dim and type(dim) in _SEQS:
        dim = None
    return _pick_dim(op, dim, axis, None), _pick_keep(op, keepdim, keepdims)


_SEQS = (tuple, list)


class Size(tuple):
    """PyTorch's ``torch.Size``: the tuple of dimensions that :meth:`Tensor.size` returns.

    It is a plain tuple (compares equal to ``(2, 3)``, unpacks, indexes) with ``numel()`` and a
    PyTorch-like repr; slicing it or adding a tuple gives a ``Size`` again, as in PyTorch.
    """

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n

    @overload
    def __getitem__(self, i: SupportsIndex) -> int: ...
    @overload
    def __getitem__(self, i: slice) -> Size: ...
    def __getitem__(self, i: Any) -> Any:
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r

    def __add__(self, other: Any) -> Size:
        return Size(tuple.__add__(self, tuple(other)))

    def __repr__(self) -> str:
        return f"tinygrad_rnn.Size({list(self)})"


# x.max(dim) / x.min(dim) return these, like PyTorch's torch.return_types.max / .min
_max_result = namedtuple("max", ("values", "indices"), module="tinygrad_rnn.return_types")  # type: ignore[name-match]
_min_result = namedtuple("min", ("values", "indices"), module="tinygrad_rnn.return_types")  # type: ignore[name-match]
# x.sort(dim) / x.topk(k) return these (torch.return_types.sort / .topk)
_sort_result = namedtuple("sort", ("values", "indices"), module="tinygrad_rnn.return_types")  # type: ignore[name-match]
_topk_result = namedtuple("topk", ("values", "indices"), module="tinygrad_rnn.return_types")  # type: ignore[name-match]
return_types = SimpleNamespace(max=_max_result, min=_min_result, sort=_sort_result, topk=_topk_result)

# PyTorch's legacy type names (x.type(), x.type("torch.LongTensor")) and their NumPy dtypes
_TYPE_NAMES: dict[str, np.dtype] = {
    "FloatTensor": np.dtype(np.float32),
    "DoubleTensor": np.dtype(np.float64),
    "HalfTensor": np.dtype(np.float16),
    "LongTensor": np.dtype(np.int64),
    "IntTensor": np.dtype(np.int32),
    "ShortTensor": np.dtype(np.int16),
    "CharTensor": np.dtype(np.int8),
    "ByteTensor": np.dtype(np.uint8),
    "BoolTensor": np.dtype(np.bool_),
}
_TYPE_OF_DTYPE = {d: n for n, d in _TYPE_NAMES.items()}
_PREFIXES = ("torch.cuda.", "tinygrad_rnn.cuda.", "torch.", "tinygrad_rnn.")


def _cuda_name(device: Any) -> Any:
    """``x.cuda()`` / ``x.cuda(1)`` / ``x.cuda("cuda:1")`` as a device name."""
    return "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device)


def _as_dtype(op: str, dtype: Any) -> np.dtype:
    """A dtype from a NumPy dtype/type, a dtype name ('float64') or PyTorch's type name ('torch.LongTensor')."""
    given = dtype
    if isinstance(dtype, str):
        dtype = dtype.strip()
        for p in _PREFIXES:
            if dtype.startswith(p):
                if ".cuda." in p:
                    _check_device(op, "cuda")
                dtype = dtype[len(p) :]
                break
        if dtype in _TYPE_NAMES:
            return _TYPE_NAMES[dtype]
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"{op}: {given!r} is not a dtype (e.g. tinygrad_rnn.float64, 'float64', 'torch.LongTensor')"
        ) from None
    return _check_dtype(op, d)


def _is_dtype(v: Any) -> bool:
    if isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, (np.generic, bool, int, float))):
        return True
    if isinstance(v, str):
        try:
            _as_dtype("to", v)
        except (TypeError, ValueError):
            return False
        return True
    return False


def _parse_to_args(op: str, args: tuple, kwargs: dict) -> tuple:
    """PyTorch's ``to`` signatures, ``to(dtype)``, ``to(device, dtype=None)``, ``to(tensor)``, each with
    ``non_blocking=`` and ``copy=``, as ``(dtype or None, copy)``. Every device goes through
    :func:`_check_device`, the one place that knows which devices exist."""
    kw = dict(kwargs)
    dtype, device = kw.pop("dtype", None), kw.pop("device", None)
    copy = bool(kw.pop("copy", False))
    kw.pop("non_blocking", None)  # nothing runs asynchronously here
    if kw.pop("memory_format", None) not in (None, "preserve_format"):
        raise TypeError(f"{op}: memory_format is not supported (arrays keep their own layout)")
    if kw:
        raise TypeError(f"{op}: unexpected keyword argument(s) {sorted(kw)}")
    rest = list(args)
    if rest and isinstance(rest[0], _tape.Tensor):
        dtype, device = rest.pop(0).dtype, None
    elif rest and not _is_dtype(rest[0]) and not isinstance(rest[0], bool):
        device = rest.pop(0)  # None included: to(None) keeps the device, as in PyTorch
    if rest and _is_dtype(rest[0]):
        if dtype is not None:
            raise TypeError(f"{op}: dtype given both positionally and as dtype=")
        dtype = rest.pop(0)
    for name in ("non_blocking", "copy"):  # the trailing positional flags of to(dtype, non_blocking, copy)
        if rest and isinstance(rest[0], bool):
            flag = rest.pop(0)
            copy = flag if name == "copy" else copy
    if rest:
        raise TypeError(
            f"{op}: cannot read the arguments {args!r}; expected to(dtype), to(device, dtype) or to(tensor)"
        )
    if device is not None:
        _check_device(op, device)
    return (None if dtype is None else _as_dtype(op, dtype)), copy


_SCALAR_CACHE: dict = {}


def _scalar(v: Any, d: np.dtype) -> Any:
    """A 0-d array of ``v`` in dtype ``d``, shared between ops: only ever an internal operand (``Tensor._lift``),
    never a tensor handed to the user, so no in-place op writes it."""
    if not isinstance(v, (int, float, np.generic)) or (isinstance(v, (float, np.floating)) and (v == 0.0 or v != v)):
        # arrays (host or device) are unhashable; -0.0 == 0.0 and NaN != NaN as dict keys
        return xp.asarray(v, dtype=d)
    key = (type(v), v, d)
    a = _SCALAR_CACHE.get(key)
    if a is None:
        if len(_SCALAR_CACHE) > 4096:
            _SCALAR_CACHE.clear()
        a = _SCALAR_CACHE[key] = xp.asarray(v, dtype=d)
    return a


def _sum_mean_args(x: Any, op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any, dtype: Any) -> tuple:
    """(input, axis, keepdims) for ``Sum``/``Mean``. The common call (PyTorch's spelling or no arguments)
    is resolved with identity tests alone, so ``x.sum()`` / ``x.sum(1)`` build nothing."""
    if axis is _NONE and keepdims is _FALSE:
        if dim is _NONE or (not dim and type(dim) in _SEQS):  # dim=() reduces everything (PyTorch)
            dim = None
        keepdim = False if keepdim is _FALSE else keepdim
    else:
        dim, keepdim = _reduce_args(op, dim, keepdim, axis, keepdims)
    return (x if dtype is None else x.astype(dtype)), dim, keepdim
