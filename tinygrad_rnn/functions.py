"""Function forms of the ops (``tg.concat``, ``tg.where``, ``tg.tanh`` ...), for code that reads like math.

The dimension arguments use PyTorch's names (``dim``, ``keepdim``) with NumPy's (``axis``, ``keepdims``)
as aliases, as the :class:`Tensor` methods do. This module defines ``sum``, ``max`` and ``min``
(``torch.max(x, 1)``), so Python's own are written ``builtins.min`` here.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from . import ops
from .backend import xp
from .tensor import _FALSE, _NONE, _ZERO, Tensor, _pick_dim


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
    c = cond.data if isinstance(cond, Tensor) else xp.asarray(cond)
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
    return y if threshold is None else where(z.data > threshold, x, y)


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
