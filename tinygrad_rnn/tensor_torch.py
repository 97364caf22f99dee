"""The part of the ``Tensor`` API that PyTorch programs use beyond the core: chunks and views, selection by
index, sorting and scans, batched products, ``new_*``, sizes and the cast methods (``x.long()``).

:class:`~tinygrad_rnn.tensor.Tensor` inherits :class:`TorchMethods`. Each method is a thin front end to
the function forms (:mod:`tinygrad_rnn.op_functions`) and creation functions, which themselves import
``tensor``: so this module takes them from ``tensor.py``, which binds ``_functions`` and ``_creation``
here at the end of its import, in the same place where it resolves its own import cycle.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, SupportsIndex, cast, overload

import numpy as np

from . import backend
from .backend import xp
from .device import check as _check_device
from .device import current as _current_device
from .device import device as _device
from .spelling import (
    _FALSE,
    _LAST,
    _NONE,
    _TYPE_OF_DTYPE,
    Size,
    _as_dtype,
    _cuda_name,
    _max_result,
    _min_result,
    _parse_to_args,
    _reduce_args,
)

if TYPE_CHECKING:
    from .tensor import Tensor

_functions: Any = None  # tinygrad_rnn.op_functions
_creation: Any = None  # tinygrad_rnn.creation
_ops: Any = None  # tinygrad_rnn.ops
_as_array: Any = None  # tensor.as_array
_Tensor: Any = None  # tensor.Tensor


def bind(functions: Any, creation: Any, ops: Any, as_array: Any, tensor: Any) -> None:
    """Called once by tensor.py when everything this module builds on exists."""
    global _functions, _creation, _ops, _as_array, _Tensor
    _functions, _creation, _ops, _as_array, _Tensor = functions, creation, ops, as_array, tensor


class TorchMethods:
    __slots__ = ()
    array: Any  # the backend array (Tensor's slot)
    reshape: Callable[..., Tensor]  # Tensor's own methods that these build on
    broadcast_to: Callable[..., Tensor]
    astype: Callable[..., Tensor]

    # ---- devices (one per process: see tinygrad_rnn/device.py) ----------------------------------------
    @property
    def device(self) -> _device:
        return _current_device()

    @property
    def is_cuda(self) -> builtins.bool:
        return backend.name == "cupy"

    def cpu(self) -> Tensor:
        """This tensor under NumPy. Under CuPy it stays on the GPU, the only device of the process;
        ``.numpy()``/``.item()``/``.tolist()`` copy to the host, so ``y.cpu().numpy()`` works on both."""
        return cast("Tensor", self)  # (the mixin is only ever a Tensor)

    def cuda(self, device: Any = None, non_blocking: builtins.bool = False) -> Tensor:
        """This tensor under CuPy; a ``ValueError`` under NumPy (this process has no GPU)."""
        _check_device("cuda", _cuda_name(device))
        return cast("Tensor", self)  # (the mixin is only ever a Tensor)

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple:
        """PyTorch's chunk: pieces of ``ceil(n / chunks)`` along ``dim``; there may be fewer than ``chunks``."""
        return _functions.chunk(self, chunks, dim)

    def narrow(self, dim: builtins.int, start: builtins.int, length: builtins.int) -> Tensor:
        """Elements ``start .. start + length - 1`` along ``dim`` (a differentiable slice)."""
        return _functions.narrow(self, dim, start, length)

    def t(self) -> Tensor:
        """A 2-D tensor transposed; 0-d and 1-D unchanged (PyTorch's ``t()``)."""
        return _functions.t(self)

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    reshape_as = view_as

    def expand_as(self, other: Tensor) -> Tensor:
        return self.broadcast_to(other.shape)

    def contiguous(self, memory_format: Any = None) -> Tensor:
        """``self`` when its array is C-contiguous, else a C-ordered copy (the gradient passes through)."""
        return cast("Tensor", self) if self.array.flags.c_contiguous else _ops.Contiguous.apply(self)

    def is_contiguous(self, memory_format: Any = None) -> builtins.bool:
        return builtins.bool(self.array.flags.c_contiguous)

    def clone(self, memory_format: Any = None) -> Tensor:
        """A copy with its own memory, still on the tape (the gradient passes through unchanged)."""
        return _ops.Clone.apply(self)

    def flip(self, *args: Any, dims: Any = None) -> Tensor:
        """Reverse the order along ``dims``: ``x.flip(0)``, ``x.flip(0, 1)``, ``x.flip((0, 1))``,
        ``x.flip(dims=[0])``."""
        return _functions.flip(self, *args, dims=dims)

    def repeat(self, *sizes: Any) -> Tensor:
        """PyTorch's repeat (NumPy's ``tile``, not NumPy's ``repeat``): ``sizes[i]`` copies along dim i."""
        return _functions.repeat(self, *sizes)

    def repeat_interleave(self, repeats: Any, dim: Any = None, *, output_size: Any = None) -> Tensor:
        """Each element (or slice along ``dim``) repeated in place: NumPy's ``repeat``."""
        return _functions.repeat_interleave(self, repeats, dim, output_size=output_size)

    def tril(self, diagonal: builtins.int = 0) -> Tensor:
        return _functions.tril(self, diagonal)

    def triu(self, diagonal: builtins.int = 0) -> Tensor:
        return _functions.triu(self, diagonal)

    def diag(self, diagonal: builtins.int = 0) -> Tensor:
        return _functions.diag(self, diagonal)

    # ---- selection by index (PyTorch) ----------------------------------------------------------------
    def gather(self, dim: builtins.int, index: Any) -> Tensor:
        """``out[i][j] = self[i][index[i][j]]`` for ``dim=1``; differentiable in ``self``."""
        return _functions.gather(self, dim, index)

    def scatter(self, dim: builtins.int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
        """Out of place: a copy with ``src`` (or ``value``) written at ``index`` along ``dim``."""
        return _functions.scatter(self, dim, index, src, value=value)

    def scatter_add(self, dim: builtins.int, index: Any, src: Any) -> Tensor:
        """Out of place: a copy with ``src`` added at ``index`` along ``dim`` (repeats accumulate)."""
        return _functions.scatter_add(self, dim, index, src)

    def index_select(self, dim: builtins.int, index: Any) -> Tensor:
        return _functions.index_select(self, dim, index)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """``value`` where the boolean ``mask`` is True (broadcast); zero gradient there."""
        return _functions.masked_fill(self, mask, value)

    # ---- sorting and scans (PyTorch) -----------------------------------------------------------------
    def sort(self, dim: Any = _LAST, descending: builtins.bool = False, stable: builtins.bool = False, *,
             axis: Any = _NONE) -> Any:  # fmt: skip
        """The namedtuple ``(values, indices)`` sorted along ``dim``; always stable (see :func:`sort`)."""
        return _functions.sort(self, dim, descending, stable, axis=axis)

    def argsort(self, dim: Any = _LAST, descending: builtins.bool = False, stable: builtins.bool = False, *,
                axis: Any = _NONE) -> Tensor:  # fmt: skip
        return _functions.argsort(self, dim, descending, stable, axis=axis)

    def topk(self, k: builtins.int, dim: Any = _LAST, largest: builtins.bool = True, sorted: builtins.bool = True,
             *, axis: Any = _NONE) -> Any:  # fmt: skip
        """The namedtuple ``(values, indices)`` of the ``k`` largest (or smallest) along ``dim``."""
        return _functions.topk(self, k, dim, largest, sorted, axis=axis)

    def cumsum(self, dim: Any = _NONE, *, dtype: Any = None, axis: Any = _NONE) -> Tensor:
        return _functions.cumsum(self, dim, dtype=dtype, axis=axis)

    def cumprod(self, dim: Any = _NONE, *, dtype: Any = None, axis: Any = _NONE) -> Tensor:
        return _functions.cumprod(self, dim, dtype=dtype, axis=axis)

    # ---- batched products (PyTorch) ------------------------------------------------------------------
    def bmm(self, other: Tensor) -> Tensor:
        return _functions.bmm(self, other)

    def baddbmm(self, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
        return _functions.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    # ---- new tensors like this one (PyTorch): this dtype unless dtype= says otherwise -----------------
    def _new(self, op: str, make: Any, size: tuple, dtype: Any, requires_grad: builtins.bool, device: Any) -> Tensor:
        d = self.array.dtype if dtype is None else _as_dtype(op, dtype)
        return _creation._make(make(_creation._shape(size, None, op), dtype=d), requires_grad, device, op)

    def new_zeros(
        self, *size: Any, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None
    ) -> Tensor:
        return self._new("new_zeros", xp.zeros, size, dtype, requires_grad, device)

    def new_ones(
        self, *size: Any, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None
    ) -> Tensor:
        return self._new("new_ones", xp.ones, size, dtype, requires_grad, device)

    def new_empty(
        self, *size: Any, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None
    ) -> Tensor:
        """Uninitialised, as :func:`empty`."""
        return self._new("new_empty", xp.empty, size, dtype, requires_grad, device)

    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: builtins.bool = False,
                 device: Any = None) -> Tensor:  # fmt: skip
        full = lambda shape, dtype: xp.full(shape, fill_value, dtype=dtype)  # noqa: E731
        return self._new("new_full", full, (size,), dtype, requires_grad, device)

    def new_tensor(
        self, data: Any, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None
    ) -> Tensor:
        """A copy of ``data`` (never shared, as in PyTorch) in this tensor's dtype unless ``dtype``."""
        d = self.array.dtype if dtype is None else _as_dtype("new_tensor", dtype)
        return _creation._make(_as_array(data, d, "new_tensor").copy(), requires_grad, device, "new_tensor")

    # ---- sizes (PyTorch) ---------------------------------------------------------------------------
    @overload
    def size(self) -> Size: ...
    @overload
    def size(self, dim: SupportsIndex) -> builtins.int: ...
    def size(self, dim: Any = None) -> Any:
        """PyTorch's ``size()``: the :class:`Size` of the tensor, or with ``dim`` (negative counts from the
        end) that dimension's length. ``.shape`` is the same tuple (a plain one); :meth:`numel` counts elements."""
        s = self.array.shape
        if dim is None:
            return Size(s)
        n = len(s)
        if isinstance(dim, builtins.bool) or not isinstance(dim, (builtins.int, np.integer)):
            raise TypeError(f"size: dim must be an int, got {dim!r}")
        if not -n <= dim < n:
            raise IndexError(
                f"size: dim {dim} is out of range for a tensor with {n} dimension(s)"
                + (f" (valid: {-n}..{n - 1})" if n else " (a 0-d tensor has none)")
            )
        return builtins.int(s[dim])

    def numel(self) -> builtins.int:
        """The number of elements (NumPy's ``.size``)."""
        return builtins.int(self.array.size)

    nelement = numel

    def dim(self) -> builtins.int:
        """The number of dimensions (``ndim``)."""
        return self.array.ndim

    ndimension = dim

    # ---- dtype conversions (PyTorch) -----------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """PyTorch's ``to``: ``to(dtype)``, ``to(device, dtype=None)``, ``to(other)`` (its dtype), with
        ``copy=`` and ``non_blocking=``. The device must be the one this process's backend runs on
        (``'cpu'`` under NumPy, ``'cuda'`` under CuPy); asking for another is a ``ValueError``."""
        dtype, copy = _parse_to_args("to", args, kwargs)
        out = cast("Tensor", self) if dtype is None else self.astype(dtype)
        if copy and out is self:  # a differentiable copy, like PyTorch's clone()
            out = _ops.Cast.apply(self, dtype=self.array.dtype)
        return out

    def type(self, dtype: Any = None, non_blocking: builtins.bool = False) -> Any:
        """No argument: PyTorch's type name (``'tinygrad_rnn.FloatTensor'``; ``'tinygrad_rnn.cuda.FloatTensor'``
        under CuPy). With a dtype, a dtype name or a type name (``'torch.LongTensor'``): the cast tensor."""
        if dtype is None:
            d = self.array.dtype
            name = _TYPE_OF_DTYPE.get(d, f"{d.name.capitalize()}Tensor")
            return ("tinygrad_rnn.cuda." if backend.name == "cupy" else "tinygrad_rnn.") + name
        return self.astype(_as_dtype("type", dtype))

    def is_floating_point(self) -> builtins.bool:
        return self.array.dtype.kind == "f"

    def element_size(self) -> builtins.int:
        """Bytes per element (PyTorch's ``element_size``; NumPy's ``itemsize``)."""
        return self.array.dtype.itemsize

    # ---- casts (PyTorch) ---------------------------------------------------------------------------
    # x.float(), x.long(), ...: made from _CASTS below this class (one line each would be nine copies
    # of one method). Declared here for type checkers; last in the class, since a name like ``int``
    # or ``bool`` shadows the builtin in the rest of the class body.
    float: Callable[[], Tensor]
    double: Callable[[], Tensor]
    half: Callable[[], Tensor]
    long: Callable[[], Tensor]
    int: Callable[[], Tensor]
    short: Callable[[], Tensor]
    char: Callable[[], Tensor]
    byte: Callable[[], Tensor]
    bool: Callable[[], Tensor]


def _max_min(x: Tensor, op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Any:
    """The forms of ``x.max(...)`` / ``x.min(...)`` (see :meth:`Tensor.max`)."""
    reduce = _ops.Max if op == "max" else _ops.Min
    if axis is _NONE and keepdims is _FALSE:
        keep = keepdim is not _FALSE and bool(keepdim)
        if dim is _NONE or dim is None:
            return reduce.apply(x, axis=None, keepdims=keep)
        if isinstance(dim, _Tensor):
            return x.maximum(dim) if op == "max" else x.minimum(dim)
        return _max_min_dim(x, op, dim, keep)
    dim, keepdim = _reduce_args(op, dim, keepdim, axis, keepdims)
    return reduce.apply(x, axis=dim, keepdims=keepdim)


def _max_min_dim(x: Tensor, op: str, dim: Any, keepdim: bool) -> Any:
    """``x.max(dim)`` / ``x.min(dim)``: (values, indices) along one dimension, as PyTorch returns them.

    The values are ``x`` indexed at the arg-extremum, so the gradient goes to that one element (PyTorch's
    rule for max/min with a dim), and the backward (a scatter) is itself differentiable.
    """
    if isinstance(dim, np.integer):
        dim = builtins.int(dim)
    if isinstance(dim, builtins.bool) or not isinstance(dim, builtins.int):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}; to reduce several dims use a{op}(dim=...)")
    data = x.array
    nd = data.ndim
    make = _max_result if op == "max" else _min_result
    if nd == 0:  # PyTorch accepts dim 0 or -1 on a 0-d tensor: the value itself, index 0
        _ops.reduce.normalize_axis(op, dim if dim >= 0 else dim + 1, 1)
        return make(x, _Tensor._make(xp.zeros((), dtype=np.int64), False, None, 0))
    a = _ops.reduce.normalize_axis(op, dim, nd)
    if data.shape[a] == 0:
        raise ValueError(f"{op}: cannot reduce dim {dim} of length 0 (shape {tuple(data.shape)})")
    idx = (data.argmax(axis=a) if op == "max" else data.argmin(axis=a)).astype(np.int64, copy=False)
    # idx has the shape without dim a; an open grid over the other dims broadcasts against it
    index: list = []
    j = 0
    for i, n in enumerate(data.shape):
        if i == a:
            index.append(idx)
        else:
            index.append(xp.arange(n).reshape((1,) * j + (n,) + (1,) * (nd - 2 - j)))
            j += 1
    values = _ops.GetItem.apply(x, index=tuple(index))
    if keepdim:
        values = values.unsqueeze(a)
        idx = xp.expand_dims(idx, a)
    return make(values, _Tensor._make(idx, False, None, 0))


def _arg_reduce(x: Tensor, op: str, dim: Any, keepdim: bool) -> Tensor:
    data = x.array
    if data.size == 0:
        raise ValueError(f"{op}: cannot take the {op} of an empty tensor (shape {tuple(data.shape)})")
    f = data.argmax if op == "argmax" else data.argmin
    if dim is None:
        r = f()
        if keepdim:
            r = xp.reshape(r, (1,) * data.ndim)
    elif data.ndim == 0:
        _ops.reduce.normalize_axis(op, dim if dim >= 0 else dim + 1, 1)
        r = xp.zeros((), dtype=np.int64)
    else:
        r = f(axis=_ops.reduce.normalize_axis(op, dim, data.ndim), keepdims=keepdim)
    return _Tensor._make(xp.asarray(r).astype(np.int64, copy=False), False, None, 0)


_CASTS = {
    "float": np.float32,
    "double": np.float64,
    "half": np.float16,
    "long": np.int64,
    "int": np.int32,
    "short": np.int16,
    "char": np.int8,
    "byte": np.uint8,
    "bool": np.bool_,
}


def _cast_method(name: str, dtype: Any) -> Callable[[Tensor], Tensor]:
    def cast(self) -> Tensor:
        return self.astype(dtype)

    cast.__name__ = cast.__qualname__ = name
    cast.__doc__ = f"``self.astype({np.dtype(dtype).name})``: PyTorch's ``{name}()``."
    return cast


for _name, _dtype in _CASTS.items():
    setattr(TorchMethods, _name, _cast_method(_name, _dtype))
