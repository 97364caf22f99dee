"""Reductions and the (numerically stable) softmax family."""
from __future__ import annotations

from typing import Any

from ..backend import xp
from ..tape import Function
from . import dual
from .dual import value


def normalize_axes(op: str, axis: Any, ndim: int) -> tuple:
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if not isinstance(a, (int,)) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimension(s)")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def normalize_axis(op: str, axis: int, ndim: int) -> int:
    return normalize_axes(op, axis, ndim)[0]


class Reduce(Function):
    def setup(self, x: Any, axis: Any, keepdims: bool) -> tuple:
        self.shape = x.shape
        self.axes = normalize_axes(self.op_name(), axis, x.ndim)
        self.kshape = tuple(1 if i in self.axes else n for i, n in enumerate(x.shape))
        return self.axes

    def spread(self, g: Any) -> Any:
        """The reduced gradient broadcast back over the reduced axes."""
        return dual.broadcast_to(g.reshape(self.kshape), self.shape)


class Sum(Reduce):
    reads_inputs = False
    def forward(self, x, axis=None, keepdims=False):
        return xp.asarray(x.sum(axis=self.setup(x, axis, keepdims), keepdims=keepdims))
    def backward(self, g, x): return self.spread(g)


class Mean(Reduce):
    reads_inputs = False
    def forward(self, x, axis=None, keepdims=False):
        axes = self.setup(x, axis, keepdims)
        self.count = 1
        for a in axes:
            self.count *= x.shape[a]
        return xp.asarray(x.mean(axis=axes, keepdims=keepdims))
    def backward(self, g, x): return self.spread(g / self.count)  # divide first: the spread is a view


class Max(Reduce):
    """Ties share the gradient equally (the subgradient PyTorch's amax uses)."""
    needs_output = True
    def forward(self, x, axis=None, keepdims=False):
        axes = self.setup(x, axis, keepdims)
        if x.size == 0 and (not axes or any(x.shape[a] == 0 for a in axes)):  # (0, 3).max(axis=1) is fine
            raise ValueError(f"{self.op_name()}: cannot reduce an empty tensor of shape {x.shape}"
                             + ("" if axis is None else f" along axis {axis}"))
        return xp.asarray(self.reduce(x, axis=axes, keepdims=keepdims))
    @staticmethod
    def reduce(x, axis, keepdims): return x.max(axis=axis, keepdims=keepdims)
    def backward(self, g, x, out):
        hit = value(x) == value(out).reshape(self.kshape)
        weight = hit / hit.sum(axis=self.axes, keepdims=True)
        return self.spread(g) * weight.astype(value(x).dtype)


class Min(Max):
    """The same backward as Max: ties share the gradient equally (PyTorch's amin)."""
    @staticmethod
    def reduce(x, axis, keepdims): return x.min(axis=axis, keepdims=keepdims)


class Softmax(Function):
    """y = exp(x - max x) / Σ exp(x - max x) along ``axis``."""
    needs_output = True
    def forward(self, x, axis=-1):
        self.axis = normalize_axis("softmax", axis, x.ndim)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)
    def backward(self, g, x, y):
        return y * (g - (g * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - max x - log Σ exp(x - max x) along ``axis``."""
    needs_output = True

    @classmethod
    def op_name(cls) -> str:
        return "log_softmax"  # the user-facing name, so error prefixes are not doubled ('logsoftmax: log_softmax:')

    def forward(self, x, axis=-1):
        self.axis = normalize_axis("log_softmax", axis, x.ndim)
        z = x - x.max(axis=self.axis, keepdims=True)
        return z - xp.log(xp.exp(z).sum(axis=self.axis, keepdims=True))
    def backward(self, g, x, y):
        return g - dual.exp(y) * g.sum(axis=self.axis, keepdims=True)
