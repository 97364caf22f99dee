"""Helpers that run on backend arrays *and* on Tensors.

Every ``backward`` is written with these (plus Python operators), so one derivative serves the fast
path (arrays, nothing recorded) and ``create_graph=True`` (Tensors, the backward itself recorded).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import scatter_add, xp
from ..tensor import Tensor


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


def value(x: Any) -> Any:
    """The raw array, for quantities the derivative treats as constants (masks, signs, argmax)."""
    return x.array if isinstance(x, Tensor) else x


def unbroadcast(g: Any, shape: tuple) -> Any:
    """Sum ``g`` down to ``shape``: the adjoint of broadcasting ``shape`` up to ``g.shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def broadcast_to(g: Any, shape: tuple) -> Any:
    return g.broadcast_to(shape) if isinstance(g, Tensor) else xp.broadcast_to(g, shape)


def exp(x: Any) -> Any:
    return x.exp() if isinstance(x, Tensor) else xp.exp(x)


def log(x: Any) -> Any:
    return x.log() if isinstance(x, Tensor) else xp.log(x)


def sin(x: Any) -> Any:
    return x.sin() if isinstance(x, Tensor) else xp.sin(x)


def cos(x: Any) -> Any:
    return x.cos() if isinstance(x, Tensor) else xp.cos(x)


def mask(g: Any, cond: Any) -> Any:
    """``g`` where ``cond`` holds, else 0 (``cond`` is a constant; NaN/Inf in masked-out g stay out)."""
    cond = value(cond)
    if isinstance(g, Tensor):
        return mv.Where.apply(g, Tensor._make(xp.zeros((), dtype=g.dtype), False, None, 0), cond=cond)
    return xp.where(cond, g, 0)


def permute(g: Any, axes: Sequence[int]) -> Any:
    return g.permute(*axes) if isinstance(g, Tensor) else g.transpose(axes)


def index_put(g: Any, index: Any, shape: tuple) -> Any:
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    if isinstance(g, Tensor):
        return mv.IndexPut.apply(g, index=index, shape=shape)
    return mv.index_put_array(g, index, shape)


def split(g: Any, sizes: Sequence[int], axis: int) -> list:
    if isinstance(g, Tensor):
        return list(mv.Split.apply(g, sizes=tuple(sizes), axis=axis))
    return mv.split_array(g, sizes, axis)


def unbind(g: Any, axis: int) -> list:
    if isinstance(g, Tensor):
        return list(mv.Unbind.apply(g, axis=axis))
    return mv.unbind_array(g, axis)


def _fill(gs: Sequence[Any], shapes: Sequence[tuple], like: Any) -> list:
    """Replace missing output gradients (None) with zeros."""
    out = []
    for g, s in zip(gs, shapes):
        if g is None:
            z = xp.zeros(s, dtype=like.dtype)
            g = Tensor._make(z, False, None, 0) if isinstance(like, Tensor) else z
        out.append(g)
    return out


def concat(gs: Sequence[Any], shapes: Sequence[tuple], axis: int) -> Any:
    like = next(g for g in gs if g is not None)
    gs = _fill(gs, shapes, like)
    if isinstance(like, Tensor):
        return mv.Concat.apply(*gs, axis=axis)
    return xp.concatenate(gs, axis=axis)


def stack(gs: Sequence[Any], shape: tuple, axis: int) -> Any:
    like = next(g for g in gs if g is not None)
    gs = _fill(gs, [shape] * len(gs), like)
    if isinstance(like, Tensor):
        return mv.Stack.apply(*gs, axis=axis)
    return xp.stack(gs, axis=axis)


__all__ = [
    "is_tensor",
    "value",
    "unbroadcast",
    "broadcast_to",
    "exp",
    "log",
    "sin",
    "cos",
    "mask",
    "permute",
    "index_put",
    "split",
    "unbind",
    "concat",
    "stack",
    "scatter_add",
]

from . import movement as mv  # noqa: E402  (movement uses these helpers too)
