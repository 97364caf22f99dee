"""Function forms of the ops (``tg.concat``, ``tg.where``, ``tg.tanh`` ...), for code that reads like math.

The dimension arguments use PyTorch's names (``dim``, ``keepdim``) with NumPy's (``axis``, ``keepdims``)
as aliases, as the :class:`Tensor` methods do. This module defines ``sum``, ``max`` and ``min``
(``torch.max(x, 1)``), so Python's own are written ``builtins.min`` here.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import backend, ops
from .backend import xp
from .ops import indexing as _indexing
from .ops import sorting as _sorting
from .spelling import _FALSE, _LAST, _NONE, _ZERO, _pick_dim
from .tensor import Tensor


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _same_dtype(op: str, xs: Sequence[Tensor]) -> list:
    xs = [_t(x) for x in xs]
    if len({x.dtype for x in xs}) > 1:
        raise TypeError(f"{op}: all tensors must share one dtype, got {[str(x.dtype) for x in xs]}")
    return xs


def concat(tensors: Sequence[Any], dim: Any = _ZERO, *, axis: Any = _NONE) -> Tensor:
    """Join tensors along an existing dimension ``dim`` (default 0)."""
    d = (0 if dim is _ZERO else dim) if axis is _NONE else _pick_dim("concat", dim, axis, 0)
    return ops.Concat.apply(*_same_dtype("concat", tensors), axis=d)


cat = concat


def stack(tensors: Sequence[Any], dim: Any = _ZERO, *, axis: Any = _NONE) -> Tensor:
    """Join equally shaped tensors along a new dimension ``dim`` (default 0; the inverse of :func:`unbind`)."""
    d = (0 if dim is _ZERO else dim) if axis is _NONE else _pick_dim("stack", dim, axis, 0)
    return ops.Stack.apply(*_same_dtype("stack", tensors), axis=d)


def split(x: Tensor, split_size_or_sections: int | Sequence[int], dim: Any = _ZERO, *, axis: Any = _NONE) -> tuple:
    """PyTorch's split: an int is the size of each piece (the last may be smaller); a list gives the sizes."""
    axis = _pick_dim("split", dim, axis, 0)
    x = _t(x)
    if x.ndim == 0:
        raise ValueError(f"split: axis {axis} is out of range for a 0-d tensor")
    n = x.shape[ops.reduce.normalize_axis("split", axis, x.ndim)]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split size must be positive, got {step}")
        sizes = [builtins.min(step, n - i) for i in range(0, n, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
    return ops.Split.apply(x, sizes=tuple(sizes), axis=axis)


def unbind(x: Tensor, dim: Any = _ZERO, *, axis: Any = _NONE) -> tuple:
    """The slices along ``dim`` (default 0) as a tuple; one tape node, so its backward is O(total size)."""
    d = (0 if dim is _ZERO else dim) if axis is _NONE else _pick_dim("unbind", dim, axis, 0)
    return ops.Unbind.apply(_t(x), axis=d)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a if cond else b``; ``cond`` is a boolean tensor/array (no gradient flows to it)."""
    c = cond.array if isinstance(cond, Tensor) else xp.asarray(cond)
    if c.dtype != bool:
        raise TypeError(f"where: cond must be boolean, got {c.dtype}")
    if isinstance(a, Tensor):
        a, b = a._pair(b, "where")
    elif isinstance(b, Tensor):
        b, a = b._pair(a, "where")
    else:
        a, b = _t(a)._pair(b, "where")
    return ops.Where.apply(a, b, cond=c)


def pad(x: Tensor, pad_width: Sequence[Sequence[int]], value: float = 0.0) -> Tensor:
    """Constant padding with NumPy's ``pad_width``: one ``(before, after)`` pair per axis."""
    try:
        pad_width = tuple(tuple(p) for p in pad_width)
    except TypeError:
        raise ValueError(f"pad: pad_width must be one (before, after) pair per axis, got {pad_width!r}") from None
    return ops.Pad.apply(_t(x), pad_width=pad_width, value=value)


def maximum(a: Any, b: Any) -> Tensor:
    return _t(a).maximum(b) if isinstance(a, Tensor) or not isinstance(b, Tensor) else b.maximum(a)


def minimum(a: Any, b: Any) -> Tensor:
    return _t(a).minimum(b) if isinstance(a, Tensor) or not isinstance(b, Tensor) else b.minimum(a)


def matmul(a: Any, b: Any) -> Tensor:
    return _t(a) @ b


def exp(x: Any) -> Tensor:
    return _t(x).exp()


def log(x: Any) -> Tensor:
    return _t(x).log()


def log1p(x: Any) -> Tensor:
    return _t(x).log1p()


def sin(x: Any) -> Tensor:
    return _t(x).sin()


def cos(x: Any) -> Tensor:
    return _t(x).cos()


def sqrt(x: Any) -> Tensor:
    return _t(x).sqrt()


def tanh(x: Any) -> Tensor:
    return _t(x).tanh()


def sigmoid(x: Any) -> Tensor:
    return _t(x).sigmoid()


def relu(x: Any) -> Tensor:
    return _t(x).relu()


def softmax(x: Any, dim: Any = _NONE, dtype: Any = None, *, axis: Any = _NONE) -> Tensor:
    """Softmax along ``dim``; without one, the last dimension (PyTorch would guess one and warn)."""
    return _t(x).softmax(dim, dtype, axis=axis)


def log_softmax(x: Any, dim: Any = _NONE, dtype: Any = None, *, axis: Any = _NONE) -> Tensor:
    """Log-softmax along ``dim``; without one, the last dimension."""
    return _t(x).log_softmax(dim, dtype, axis=axis)


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    return _t(x).clip(min, max)


def softplus(x: Any, beta: float = 1.0, threshold: float | None = 20.0) -> Tensor:
    r"""PyTorch's softplus: :math:`\frac{1}{\beta}\log(1 + e^{\beta x})`, and ``x`` itself where
    :math:`\beta x` exceeds ``threshold`` (``None``: the exact value everywhere).

    With :math:`z = \beta x` and :math:`m = \max(z, 0)` it is computed as
    :math:`m + \operatorname{log1p}(e^{z - 2m})`, where :math:`z - 2m = -|z|`: nothing overflows for
    any :math:`|z|`, and log1p keeps full precision where the value is tiny (very negative ``z``).
    Writing :math:`|z|` through the same :math:`m` keeps the derivative at :math:`z = 0` the true
    :math:`\tfrac12` whatever subgradient :math:`c` the kink of :math:`m` takes
    (:math:`c + (1 - 2c)\,\sigma(0) = \tfrac12`); separate ``relu`` and ``abs`` kinks would each take 0
    there and give a derivative of 0.
    """
    x = _t(x)
    if not beta > 0:
        raise ValueError(f"softplus: beta must be > 0, got {beta}")
    z = x if beta == 1.0 else x * beta
    m = z.clip(min=0.0)
    y = m + (z - 2.0 * m).exp().log1p()
    if beta != 1.0:
        y = y * (1.0 / beta)
    return y if threshold is None else where(z.array > threshold, x, y)


# ---- PyTorch's function forms of the reductions and shape queries (torch.max(x, 1), torch.sum(x, dim=0))
def sum(  # torch.sum
    x: Any, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE, dtype: Any = None
) -> Tensor:
    """:meth:`Tensor.sum` as a function."""
    return _t(x).sum(dim, keepdim, axis=axis, keepdims=keepdims, dtype=dtype)


def mean(
    x: Any, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE, dtype: Any = None
) -> Tensor:
    """:meth:`Tensor.mean` as a function."""
    return _t(x).mean(dim, keepdim, axis=axis, keepdims=keepdims, dtype=dtype)


def max(x: Any, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Any:
    """:meth:`Tensor.max` as a function: ``max(x)``, ``max(x, dim)`` → ``(values, indices)``, ``max(x, other)``."""
    return _t(x).max(dim, keepdim, axis=axis, keepdims=keepdims)


def min(x: Any, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Any:
    """:meth:`Tensor.min` as a function."""
    return _t(x).min(dim, keepdim, axis=axis, keepdims=keepdims)


def amax(x: Any, dim: Any = (), keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Tensor:
    return _t(x).amax(dim, keepdim, axis=axis, keepdims=keepdims)


def amin(x: Any, dim: Any = (), keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Tensor:
    return _t(x).amin(dim, keepdim, axis=axis, keepdims=keepdims)


def argmax(x: Any, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Tensor:
    return _t(x).argmax(dim, keepdim, axis=axis, keepdims=keepdims)


def argmin(x: Any, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Tensor:
    return _t(x).argmin(dim, keepdim, axis=axis, keepdims=keepdims)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return _t(x).flatten(start_dim, end_dim)


def squeeze(x: Any, dim: Any = _NONE, *, axis: Any = _NONE) -> Tensor:
    return _t(x).squeeze(dim, axis=axis)


def unsqueeze(x: Any, dim: Any = _NONE, *, axis: Any = _NONE) -> Tensor:
    return _t(x).unsqueeze(dim, axis=axis)


def numel(x: Any) -> int:
    return _t(x).numel()


def is_floating_point(x: Any) -> bool:
    return _t(x).is_floating_point()


# ---- PyTorch's tensor functions: selection, sorting, scans, layout, batched products -----------------
# Each is also a Tensor method (``x.gather(1, idx)``); the method calls the function here. The ops with a
# derivative of their own live in ops/indexing.py, ops/sorting.py, ops/scan.py, ops/copying.py and
# ops/triangular.py; the rest are compositions of existing ops, so their derivatives come from those.
gather = _indexing.gather
scatter = _indexing.scatter
scatter_add = _indexing.scatter_add
index_select = _indexing.index_select


def _dim(op: str, dim: Any, axis: Any, default: Any) -> Any:
    d = _pick_dim(op, dim, axis, default)
    if d is None:
        raise TypeError(f"{op}: missing the dim argument")
    return d


def _ints(op: str, what: str, values: tuple) -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` as one tuple of Python ints (0-d int tensors allowed)."""
    if len(values) == 1 and isinstance(values[0], (tuple, list)):
        values = tuple(values[0])
    try:
        return tuple(operator.index(v) for v in values)
    except TypeError:
        raise TypeError(f"{op}: {what} must be ints, got {values!r}") from None


def sort(x: Any, dim: Any = _LAST, descending: bool = False, stable: bool = False, *, axis: Any = _NONE) -> Any:
    """PyTorch's sort: the namedtuple ``(values, indices)`` along ``dim`` (default: the last).

    Always stable, whatever ``stable`` says (PyTorch promises stability only with ``stable=True``): equal
    elements keep their order, ascending and descending. NaN sorts as the largest value. The values'
    gradient goes to the elements they came from."""
    return _sorting.sort(_t(x), _dim("sort", dim, axis, -1), bool(descending))


def argsort(x: Any, dim: Any = _LAST, descending: bool = False, stable: bool = False, *, axis: Any = _NONE) -> Tensor:
    """The int64 indices of :func:`sort` (stable; not differentiable)."""
    return _sorting.argsort(_t(x), _dim("argsort", dim, axis, -1), bool(descending))


def topk(x: Any, k: int, dim: Any = _LAST, largest: bool = True, sorted: bool = True, *, axis: Any = _NONE) -> Any:  # noqa: A002
    """PyTorch's topk: the namedtuple ``(values, indices)`` of the ``k`` largest entries along ``dim`` (the
    ``k`` smallest with ``largest=False``). They always come sorted (``sorted=False`` allows any order in
    PyTorch; sorted is one of them); among ties the earliest entries win. Values are differentiable."""
    return _sorting.topk(_t(x), k, _dim("topk", dim, axis, -1), bool(largest))


def cumsum(x: Any, dim: Any = _NONE, *, dtype: Any = None, axis: Any = _NONE) -> Tensor:
    """Running sum along ``dim``; integer and bool inputs give int64 (PyTorch). The gradient is the reverse
    running sum of the output gradient."""
    return _scan("cumsum", ops.CumSum, _t(x), _dim("cumsum", dim, axis, None), dtype)


def cumprod(x: Any, dim: Any = _NONE, *, dtype: Any = None, axis: Any = _NONE) -> Tensor:
    """Running product along ``dim``; integer and bool inputs give int64. Differentiable, zeros included."""
    return _scan("cumprod", ops.CumProd, _t(x), _dim("cumprod", dim, axis, None), dtype)


def _scan(op: str, fn: Any, x: Tensor, dim: Any, dtype: Any) -> Tensor:
    if dtype is not None:
        x = x.astype(dtype)
    if x.ndim == 0:  # PyTorch: dim 0 (or -1) of a 0-d tensor is the value itself
        ops.reduce.normalize_axis(op, dim, 1)
        return fn.apply(x.reshape(1), axis=0).reshape(())
    return fn.apply(x, axis=dim)


def flip(x: Any, *args: Any, dims: Any = None) -> Tensor:
    """Reverse the order of the elements along each of ``dims`` (``flip(x, (0, 1))``, ``x.flip(0, 1)`` or
    ``x.flip(dims=[0])``)."""
    x = _t(x)
    if dims is not None:
        if args:
            raise TypeError("flip: got the dims both positionally and as dims=")
        args = (dims,)
    axes = _ints("flip", "dims", args)
    if x.ndim == 0:
        ops.reduce.normalize_axes("flip", axes, 1)
        return clone(x)
    return ops.Flip.apply(x, axes=ops.reduce.normalize_axes("flip", axes, x.ndim))


def repeat(x: Any, *sizes: Any) -> Tensor:
    """PyTorch's ``x.repeat(*sizes)``: ``sizes[i]`` copies along dimension i, like NumPy's ``tile``; extra
    leading sizes add dimensions. (NumPy's ``repeat`` is :func:`repeat_interleave`.)"""
    x = _t(x)
    reps = _ints("repeat", "sizes", sizes)
    if len(reps) < x.ndim:
        raise ValueError(
            f"repeat: got {len(reps)} sizes {reps} for a tensor with {x.ndim} dimensions (shape {x.shape})"
        )
    if builtins.min(reps, default=0) < 0:
        raise ValueError(f"repeat: sizes must be non-negative, got {reps}")
    return ops.Repeat.apply(x, reps=reps)


def repeat_interleave(x: Any, repeats: Any = None, dim: int | None = None, *, output_size: int | None = None) -> Tensor:
    """Each element (``dim=None``: of the flattened tensor) or each slice along ``dim`` repeated ``repeats``
    times in place: ``[1, 2] -> [1, 1, 2, 2]`` (NumPy's ``repeat``). ``repeats`` is an int or one count per
    slice; ``repeat_interleave(counts)`` alone gives ``arange(len(counts))`` repeated by ``counts``.
    Differentiable in ``x`` (an index_select; repeated slices add their gradients)."""
    if repeats is None:
        counts = _host_counts(_indexing.index_array("repeat_interleave", x))
        return Tensor._make(backend.to_backend(np.repeat(np.arange(counts.size), counts)), False, None, 0)
    x = _t(x)
    if dim is None:
        x, d = x.reshape(-1), 0
    else:
        d = ops.reduce.normalize_axis("repeat_interleave", dim, builtins.max(x.ndim, 1))
        if x.ndim == 0:
            x = x.reshape(1)
    n = x.shape[d]
    if isinstance(repeats, (int, np.integer)) and not isinstance(repeats, bool):
        counts = _host_counts(np.asarray(repeats).reshape(1))
    else:
        counts = _host_counts(_indexing.index_array("repeat_interleave", repeats))
        if counts.size not in (1, n):
            raise ValueError(
                f"repeat_interleave: repeats must be one count or one per slice ({n} along dim {d}), "
                f"got {counts.size} counts"
            )
    # the output length depends on the counts' values: they are read on the host (CuPy's repeat takes
    # no device array of counts either)
    index = np.repeat(np.arange(n, dtype=np.int64), counts if counts.size == n else counts[0])
    if output_size is not None and index.size != output_size:
        raise ValueError(f"repeat_interleave: output_size={output_size} but the repeats add up to {index.size}")
    return ops.IndexSelect.apply(x, index=backend.to_backend(index), dim=d)


def _host_counts(counts: Any) -> np.ndarray:
    if counts.ndim > 1:
        raise ValueError(f"repeat_interleave: repeats must be 0-d or 1-D, got shape {tuple(counts.shape)}")
    host = backend.to_numpy(counts).reshape(-1).astype(np.int64)
    if host.size and int(host.min()) < 0:
        raise ValueError(f"repeat_interleave: repeats must be non-negative, got {host.tolist()}")
    return host


def tril(x: Any, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions (entries with ``j - i <= diagonal``), zeros elsewhere."""
    return ops.Tril.apply(_t(x), diagonal=operator.index(diagonal))


def triu(x: Any, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions (entries with ``j - i >= diagonal``), zeros elsewhere."""
    return ops.Triu.apply(_t(x), diagonal=operator.index(diagonal))


def diag(x: Any, diagonal: int = 0) -> Tensor:
    """PyTorch's diag: a 1-D tensor becomes the square matrix with it on diagonal ``diagonal``; a 2-D
    tensor gives that diagonal as 1-D. Differentiable (an index-put and a gather)."""
    x = _t(x)
    k = operator.index(diagonal)
    if x.ndim == 1:
        n = x.shape[0]
        m = n + builtins.abs(k)
        r = xp.arange(n) + builtins.max(-k, 0)
        return ops.IndexPut.apply(x, index=(r, r + k), shape=(m, m))
    if x.ndim == 2:
        rows, cols = x.shape
        n = builtins.max(0, builtins.min(rows - builtins.max(-k, 0), cols - builtins.max(k, 0)))
        r = xp.arange(n) + builtins.max(-k, 0)
        return ops.GetItem.apply(x, index=(r, r + k))
    raise ValueError(f"diag: the input must be 1-D or 2-D, got shape {x.shape}")


def masked_fill(x: Any, mask: Any, value: Any) -> Tensor:
    """``x`` with ``value`` wherever the boolean ``mask`` (broadcast against ``x``) is True. ``value`` is a
    number or a 0-d tensor (cast to ``x``'s dtype; a float 0-d tensor gets the sum of the gradient at the
    filled places). The gradient of ``x`` is zero where it was filled."""
    x = _t(x)
    m = mask.array if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"masked_fill: mask must be boolean, got {m.dtype}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        v = value if value.dtype == x.dtype else value.astype(x.dtype)
    else:
        v = Tensor._make(xp.asarray(value, dtype=x.dtype), False, None, 0)
    try:
        return ops.Where.apply(v, x, cond=m)
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {tuple(m.shape)} does not broadcast with {x.shape}") from None


def chunk(x: Any, chunks: int, dim: int = 0) -> tuple:
    """PyTorch's chunk: pieces of ``ceil(n / chunks)`` along ``dim`` (the last smaller), so there may be
    fewer than ``chunks`` of them (6 into 4 gives 3 pieces of 2)."""
    x = _t(x)
    chunks = operator.index(chunks)
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    if x.ndim == 0:
        raise ValueError("chunk: the input needs at least 1 dimension, got a 0-d tensor")
    d = ops.reduce.normalize_axis("chunk", dim, x.ndim)
    n = x.shape[d]
    if n == 0:  # PyTorch: `chunks` empty pieces
        sizes = [0] * chunks
    else:
        step = -(-n // chunks)
        sizes = [builtins.min(step, n - i) for i in range(0, n, step)]
    return ops.Split.apply(x, sizes=tuple(sizes), axis=d)


def narrow(x: Any, dim: int, start: int, length: int) -> Tensor:
    """Elements ``start .. start + length - 1`` along ``dim`` (``start`` may be negative). A view in PyTorch;
    here a differentiable slice."""
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("narrow: the input needs at least 1 dimension, got a 0-d tensor")
    d = ops.reduce.normalize_axis("narrow", dim, x.ndim)
    n = x.shape[d]
    start, length = operator.index(start), operator.index(length)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start {start} is out of range for dimension {dim} of size {n} (valid: {-n}..{n})")
    if start < 0:
        start += n
    if length < 0:
        raise ValueError(f"narrow: length must be non-negative, got {length}")
    if start + length > n:
        raise ValueError(f"narrow: start ({start}) + length ({length}) exceeds dimension {dim} of size {n}")
    return ops.GetItem.apply(x, index=(slice(None),) * d + (slice(start, start + length),))


def t(x: Any) -> Tensor:
    """PyTorch's ``t()``: a 2-D tensor transposed; 0-d and 1-D tensors unchanged; more dimensions are an error."""
    x = _t(x)
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, got shape {x.shape}; use transpose(d0, d1)")
    return x if x.ndim < 2 else x.permute(1, 0)


def clone(x: Any) -> Tensor:
    """A copy with its own memory, still on the tape (the gradient passes through unchanged)."""
    return ops.Clone.apply(_t(x))


def bmm(a: Any, b: Any) -> Tensor:
    """Batched matrix product of ``(B, n, m)`` and ``(B, m, p)`` tensors (3-D only, no broadcasting)."""
    a, b = _t(a), _t(b)
    if a.ndim != 3 or b.ndim != 3:
        raise ValueError(f"bmm: both operands must be 3-D, (B, n, m) and (B, m, p); got shapes {a.shape} and {b.shape}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(
            f"bmm: shapes {a.shape} and {b.shape} do not fit: the second must be ({a.shape[0]}, {a.shape[2]}, p)"
        )
    return a @ b


def baddbmm(input: Any, batch1: Any, batch2: Any, *, beta: float = 1, alpha: float = 1) -> Tensor:  # noqa: A002
    """``beta * input + alpha * bmm(batch1, batch2)``; ``input`` broadcasts to the product's shape. With
    ``beta=0`` the input is ignored (NaN in it does not propagate) and gets a zero gradient, as in PyTorch."""
    prod = bmm(batch1, batch2)
    if alpha != 1:
        prod = prod * alpha
    inp = _t(input)
    try:
        shape = np.broadcast_shapes(inp.shape, prod.shape)
    except ValueError:
        shape = None
    if shape != prod.shape:
        raise ValueError(f"baddbmm: input of shape {inp.shape} does not broadcast to the product's {prod.shape}")
    if beta == 0:
        p, i = prod._pair(inp, "baddbmm")
        return ops.Where.apply(p, i, cond=xp.ones(prod.shape, dtype=bool))
    return (inp if beta == 1 else inp * beta) + prod


def is_tensor(obj: Any) -> bool:
    """True for a :class:`Tensor` (PyTorch's ``torch.is_tensor``)."""
    return isinstance(obj, Tensor)
