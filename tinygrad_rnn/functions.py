"""Function forms of the ops (``tg.concat``, ``tg.where``, ``tg.tanh`` ...), for code that reads like math."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import ops
from .backend import xp
from .tensor import Tensor


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _same_dtype(op: str, xs: Sequence[Tensor]) -> list:
    xs = [_t(x) for x in xs]
    if len({x.dtype for x in xs}) > 1:
        raise TypeError(f"{op}: all tensors must share one dtype, got {[str(x.dtype) for x in xs]}")
    return xs


def concat(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return ops.Concat.apply(*_same_dtype("concat", tensors), axis=axis)


cat = concat


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join equally shaped tensors along a new axis (the inverse of :func:`unbind`)."""
    return ops.Stack.apply(*_same_dtype("stack", tensors), axis=axis)


def split(x: Tensor, split_size_or_sections: int | Sequence[int], axis: int = 0) -> tuple:
    """PyTorch's split: an int is the size of each piece (the last may be smaller); a list gives the sizes."""
    x = _t(x)
    if x.ndim == 0:
        raise ValueError(f"split: axis {axis} is out of range for a 0-d tensor")
    n = x.shape[ops.reduce.normalize_axis("split", axis, x.ndim)]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split size must be positive, got {step}")
        sizes = [min(step, n - i) for i in range(0, n, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
    return ops.Split.apply(x, sizes=tuple(sizes), axis=axis)


def unbind(x: Tensor, axis: int = 0) -> tuple:
    """The slices along ``axis`` as a tuple; one tape node, so its backward is O(total size)."""
    return ops.Unbind.apply(_t(x), axis=axis)


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


def softmax(x: Any, axis: int = -1) -> Tensor:
    return _t(x).softmax(axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return _t(x).log_softmax(axis)


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
