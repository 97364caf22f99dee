"""The reductions of a ``Tensor``: ``sum``, ``mean``, ``max``/``min`` (and ``amax``/``amin``), ``argmax``/
``argmin``, ``softmax`` and ``log_softmax``, in PyTorch's spelling and NumPy's.

:class:`~tinygrad_rnn.tensor.Tensor` inherits :class:`ReduceMethods`. The ops import ``tensor``, so this
module takes them from tensor.py, which binds ``_ops`` here at the end of its import, where it resolves
its own import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from .spelling import _FALSE, _NONE, _pick_dim, _pick_keep, _reduce_args, _sum_mean_args
from .tensor_torch import _arg_reduce, _max_min

if TYPE_CHECKING:
    from .tensor import Tensor

_ops: Any = None  # tinygrad_rnn.ops


def bind(ops: Any) -> None:
    """Called once by tensor.py when the ops exist."""
    global _ops
    _ops = ops


class ReduceMethods:
    __slots__ = ()
    astype: Callable[..., Tensor]  # Tensor's own method that these build on

    # PyTorch's spelling first (``dim``, ``keepdim``, positional dim); NumPy's ``axis=``/``keepdims=``
    # are aliases. The checks below are identity tests on the defaults, so the common call (no keyword,
    # ``x.sum()`` or ``x.sum(1)``) builds nothing.
    def sum(self, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE,
            dtype: Any = None) -> Tensor:  # fmt: skip
        """Sum over ``dim`` (an int, a tuple, or None/``()`` for all), keeping the reduced dims with ``keepdim``."""
        x, dim, keepdim = _sum_mean_args(self, "sum", dim, keepdim, axis, keepdims, dtype)
        return _ops.Sum.apply(x, axis=dim, keepdims=keepdim)

    def mean(self, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE,
             dtype: Any = None) -> Tensor:  # fmt: skip
        """Mean over ``dim`` (an int, a tuple, or None/``()`` for all)."""
        x, dim, keepdim = _sum_mean_args(self, "mean", dim, keepdim, axis, keepdims, dtype)
        return _ops.Mean.apply(x, axis=dim, keepdims=keepdim)

    def max(self, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Any:
        """PyTorch's max. ``x.max()``: the largest element (0-d; ties share the gradient equally).
        ``x.max(dim, keepdim=False)``: the namedtuple ``(values, indices)``; the gradient goes to the
        element at ``indices``, which on ties is the first maximum (NumPy's and PyTorch's argmax).
        ``x.max(other)`` with a tensor: the elementwise maximum.

        NumPy's spelling keeps NumPy's meaning: ``x.max(axis=1)`` (or any call with ``axis=`` or
        ``keepdims=``) returns the values only, like :meth:`amax`.
        """
        return _max_min(cast("Tensor", self), "max", dim, keepdim, axis, keepdims)

    def min(self, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Any:
        """PyTorch's min; see :meth:`max` (the same forms, with ``(values, indices)`` of the minimum)."""
        return _max_min(cast("Tensor", self), "min", dim, keepdim, axis, keepdims)

    def amax(self, dim: Any = (), keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Tensor:
        """The maximum over ``dim`` (an int or a tuple; ``()``, the default, means all). Values only;
        ties share the gradient equally, as in PyTorch's amax."""
        dim, keepdim = _reduce_args("amax", _NONE if dim == () else dim, keepdim, axis, keepdims)
        return _ops.Max.apply(self, axis=dim, keepdims=keepdim)

    def amin(self, dim: Any = (), keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Tensor:
        """The minimum over ``dim``; see :meth:`amax`."""
        dim, keepdim = _reduce_args("amin", _NONE if dim == () else dim, keepdim, axis, keepdims)
        return _ops.Min.apply(self, axis=dim, keepdims=keepdim)

    def argmax(self, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Tensor:
        """int64 indices of the maxima along ``dim`` (None: into the flattened tensor); the first on ties.
        Not differentiable."""
        dim, keepdim = _pick_dim("argmax", dim, axis, None), _pick_keep("argmax", keepdim, keepdims)
        return _arg_reduce(cast("Tensor", self), "argmax", dim, keepdim)

    def argmin(self, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Tensor:
        """int64 indices of the minima along ``dim``; see :meth:`argmax`."""
        dim, keepdim = _pick_dim("argmin", dim, axis, None), _pick_keep("argmin", keepdim, keepdims)
        return _arg_reduce(cast("Tensor", self), "argmin", dim, keepdim)

    def softmax(self, dim: Any = _NONE, dtype: Any = None, *, axis: Any = _NONE) -> Tensor:
        """Softmax along ``dim`` (default: the last), computed in ``dtype`` when one is given."""
        d = (-1 if dim is _NONE else dim) if axis is _NONE else _pick_dim("softmax", dim, axis, -1)
        x = self if dtype is None else self.astype(dtype)
        return _ops.Softmax.apply(x, axis=-1 if d is None else d)

    def log_softmax(self, dim: Any = _NONE, dtype: Any = None, *, axis: Any = _NONE) -> Tensor:
        """Log-softmax along ``dim`` (default: the last), computed in ``dtype`` when one is given."""
        d = (-1 if dim is _NONE else dim) if axis is _NONE else _pick_dim("log_softmax", dim, axis, -1)
        x = self if dtype is None else self.astype(dtype)
        return _ops.LogSoftmax.apply(x, axis=-1 if d is None else d)
