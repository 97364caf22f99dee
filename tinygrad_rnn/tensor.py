"""``Tensor``: a backend array, a ``requires_grad`` flag, a ``grad``, and the tape node that made it.

This module holds the class's core: construction, the autograd attributes and methods, the operators,
casts and the shape methods. The rest of its API comes from mixins named for what they hold:
:mod:`.tensor_python` (host copies, numbers, ``len``/``iter``/``bool``, ``repr``), :mod:`.tensor_reduce`
(reductions), :mod:`.tensor_torch` (the rest of PyTorch's methods) and :mod:`.inplace` (in-place ops and
item assignment). :mod:`.operands` holds the dtype rules of operands, :mod:`.subscripts` what an index
becomes.

The ops build on ``Tensor`` and ``Tensor`` on the ops: that one import cycle is resolved in one place, at
the end of this module, which binds the class and the ops into the modules that need them.
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import backend
from . import inplace as _inplace
from . import operands as _operands
from . import tape as _tape
from . import tensor_reduce as _tensor_reduce
from . import tensor_torch as _tensor_torch
from . import views as _views
from .backend import xp
from .inplace import InPlaceMethods
from .operands import PY_SCALARS, as_array
from .spelling import _NONE, _ZERO, _check_dtype, _pick_dim
from .tensor_python import PythonMethods
from .tensor_reduce import ReduceMethods
from .tensor_torch import TorchMethods

__all__ = ["Tensor", "as_array"]


class Tensor(PythonMethods, ReduceMethods, TorchMethods, InPlaceMethods):
    """An n-dimensional array that records the ops applied to it so gradients can flow back.

    ``Tensor(data, requires_grad=False, dtype=None)``: Python floats become the default dtype (float32
    unless :func:`set_default_dtype` changed it), Python ints become int64, NumPy arrays keep their dtype.
    """

    __slots__ = ("array", "_requires_grad", "grad", "_fn", "_idx", "_ver", "_view", "_hist", "_cut", "__weakref__")
    __array_ufunc__ = None  # make NumPy hand `ndarray (op) Tensor` to our reflected operators
    __array_priority__ = 1000
    array: Any  # the backend array (NumPy or CuPy) holding the values
    _fn: Any  # the Function node that made this tensor (None for leaves and untracked results)
    _idx: int
    _ver: list | None  # the version counter shared with views of the same memory (views.py); None: version 0
    _view: Any  # a views.ViewInfo when this tensor is a view of another's memory
    _hist: Any  # earlier histories after in-place writes (views.set_history)
    _cut: bool

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, *, _share: bool = False) -> None:
        a = as_array(data, dtype)
        if not _share and (a is data or (isinstance(data, Tensor) and a is data.array)):
            a = a.copy()  # as in PyTorch, a new tensor owns its memory (tg.from_numpy / as_tensor share)
        self.array = a
        self._fn = self._ver = self._view = self._hist = None
        self._idx = 0
        self.grad: Tensor | None = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, data: Any, requires_grad: bool, fn: Any, idx: int) -> Tensor:
        t = object.__new__(cls)
        t.array, t._requires_grad, t.grad, t._fn, t._idx = data, requires_grad, None, fn, idx
        t._ver = t._view = t._hist = None
        return t

    @property
    def data(self) -> Tensor:
        """The values as a new tensor that shares this one's memory and is cut from the tape, as in
        PyTorch (``p.data.add_(...)``, ``out.data.topk(1)``). Writes through it are not tracked: it has
        its own version counter, so use it for updates that autograd must not see. The backend array
        itself is :attr:`array`."""
        return Tensor._make(self.array, False, None, 0)

    @data.setter
    def data(self, value: Any) -> None:
        """Rebind this tensor to other values (any shape), as PyTorch's ``p.data = t``; the graph is untouched."""
        a = value.array if isinstance(value, Tensor) else as_array(value, op="data")
        if self._requires_grad and a.dtype.kind != "f":
            raise TypeError(f"data: a tensor that requires grad needs floating-point data, got {a.dtype}")
        self.array = a

    # ---- attributes --------------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._fresh()._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if flag and self.array.dtype.kind != "f":
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients; this one is "
                f"{self.array.dtype} with shape {self.shape}. Cast it first, e.g. .astype('float32')"
            )
        if not flag and self._fn is not None:
            raise RuntimeError("requires_grad: cannot turn off gradients of a non-leaf tensor; use .detach()")
        self._requires_grad = bool(flag)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = flag
        return self

    shape = property(lambda self: tuple(self.array.shape))
    ndim = property(lambda self: self.array.ndim)
    dtype = property(lambda self: self.array.dtype)
    is_leaf = property(lambda self: self._fresh()._fn is None)
    grad_fn = property(lambda self: self._fresh()._fn)
    _version = property(lambda self: _views.version(self))

    def _fresh(self) -> Tensor:
        if self._view is not None:
            _views.refresh(self)
        return self

    T = property(lambda self: self.permute(*range(self.ndim - 1, -1, -1)))

    __hash__ = object.__hash__

    # ---- autograd ----------------------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (``grad`` is required unless self is a scalar)."""
        _autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def detach(self) -> Tensor:
        """The same values cut from the tape (shares memory); truncated BPTT uses this on carried state."""
        t = Tensor._make(self.array, False, None, 0)
        t._cut = self._fn is not None  # graph drawings show where a tape was cut
        t._ver = _views.counter(self)  # in-place writes through either are seen by the other's backward
        return t

    def retain_grad(self) -> Tensor:
        """Keep this non-leaf tensor's gradient in ``.grad`` after ``backward()``."""
        if self._fn is not None:
            if self._fn.retained is None:
                self._fn.retained = {}
            self._fn.retained[self._idx] = weakref.ref(self)
        elif not self._requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        return self

    def register_post_accumulate_grad_hook(self, hook: Any) -> Any:
        """PyTorch's: ``hook(self)`` runs during ``backward()`` once this leaf's ``.grad`` is final."""
        return _autograd.register_post_accumulate_grad_hook(self, hook)

    # ---- operands: the dtype rules of operands.py ----------------------------------------------------
    _lift = _operands.lift
    _pair = _operands.pair

    # The operator table stays one line per op, like the ops' own forward/backward.
    # fmt: off
    # ---- arithmetic --------------------------------------------------------------------------------
    def __add__(self, o): return _ops.Add.apply(*self._pair(o, "add"))
    def __radd__(self, o): return _ops.Add.apply(*self._pair(o, "add", True))
    def __sub__(self, o): return _ops.Sub.apply(*self._pair(o, "sub"))
    def __rsub__(self, o): return _ops.Sub.apply(*self._pair(o, "sub", True))
    def __mul__(self, o): return _ops.Mul.apply(*self._pair(o, "mul"))
    def __rmul__(self, o): return _ops.Mul.apply(*self._pair(o, "mul", True))
    def __truediv__(self, o): return _ops.Div.apply(*self._pair(o, "div"))
    def __rtruediv__(self, o): return _ops.Div.apply(*self._pair(o, "div", True))
    def __matmul__(self, o): return _ops.MatMul.apply(*self._pair(o, "matmul"))
    def __rmatmul__(self, o): return _ops.MatMul.apply(*self._pair(o, "matmul", True))
    def __neg__(self): return _ops.Neg.apply(self)
    def __abs__(self): return _ops.Abs.apply(self)
    def __pos__(self): return self

    def __pow__(self, o):
        if isinstance(o, PY_SCALARS) and self.array.dtype.kind == "f":
            # np.float64 subclasses float: take its Python value so it cannot upcast a float32 tensor
            return _ops.PowScalar.apply(self, p=o.item() if isinstance(o, np.generic) else o)
        return _ops.Pow.apply(*self._pair(o, "pow"))

    def __rpow__(self, o): return _ops.Pow.apply(*self._pair(o, "pow", True))

    add, sub, mul, div, matmul, pow = __add__, __sub__, __mul__, __truediv__, __matmul__, __pow__
    neg, abs = __neg__, __abs__

    # comparisons give boolean tensors outside the tape
    def _cmp(self, o, f): a, b = self._pair(o, f.__name__); return Tensor._make(f(a.array, b.array), False, None, 0)
    def __lt__(self, o): return self._cmp(o, xp.less)
    def __le__(self, o): return self._cmp(o, xp.less_equal)
    def __gt__(self, o): return self._cmp(o, xp.greater)
    def __ge__(self, o): return self._cmp(o, xp.greater_equal)
    def __eq__(self, o): return self._cmp(o, xp.equal)
    def __ne__(self, o): return self._cmp(o, xp.not_equal)
    def __invert__(self): return Tensor._make(~self.array, False, None, 0)
    def any(self) -> bool: return bool(backend.item(self.array.any()))
    def all(self) -> bool: return bool(backend.item(self.array.all()))

    def maximum(self, o): return _ops.Maximum.apply(*self._pair(o, "maximum"))
    def minimum(self, o): return _ops.Minimum.apply(*self._pair(o, "minimum"))

    # ---- unary -------------------------------------------------------------------------------------
    def exp(self): return _ops.Exp.apply(self)
    def log(self): return _ops.Log.apply(self)
    def log1p(self): return _ops.Log1p.apply(self)
    def sin(self): return _ops.Sin.apply(self)
    def cos(self): return _ops.Cos.apply(self)
    def sqrt(self): return _ops.Sqrt.apply(self)
    def tanh(self): return _ops.Tanh.apply(self)
    def sigmoid(self): return _ops.Sigmoid.apply(self)
    def relu(self): return _ops.Relu.apply(self)
    # fmt: on

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        # NumPy scalar / 0-d bounds (np.float64) would upcast a float32 tensor: use their Python values
        min, max = (
            v.item() if isinstance(v, (np.generic, np.ndarray)) and v.ndim == 0 else v  # noqa: A001
            for v in (min, max)
        )
        return _ops.Clip.apply(self, lo=min, hi=max)

    clamp = clip

    def astype(self, dtype: Any) -> Tensor:
        """NumPy's name for a cast (PyTorch: :meth:`to`, :meth:`type`). Float to float is differentiable;
        a cast to an integer or boolean dtype is not, so its result never requires grad."""
        d = _check_dtype("astype", np.dtype(dtype))
        if d == self.array.dtype:
            return self
        if self._requires_grad and d.kind != "f":
            return Tensor._make(self.array.astype(d), False, None, 0)
        return _ops.Cast.apply(self, dtype=d)

    # ---- movement ----------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return self if shape == self.array.shape else _ops.Reshape.apply(self, shape=shape)

    view = reshape

    def flatten(self, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        """PyTorch's flatten: dims ``start_dim..end_dim`` (inclusive) merged into one; a 0-d tensor gives shape (1,)."""
        if self.ndim == 0:
            return self.reshape(1)
        s = self.array.shape
        a = _ops.reduce.normalize_axis("flatten", start_dim, len(s))
        b = _ops.reduce.normalize_axis("flatten", end_dim, len(s))
        if a > b:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {s})")
        n = 1
        for k in s[a : b + 1]:
            n *= k
        return self.reshape(s[:a] + (n,) + s[b + 1 :])

    def unsqueeze(self, dim: Any = _NONE, *, axis: Any = _NONE) -> Tensor:
        """A new dimension of length 1 at ``dim`` (in ``-ndim-1..ndim``)."""
        d = _pick_dim("unsqueeze", dim, axis, None)
        if d is None:
            raise TypeError("unsqueeze: missing the dim argument")
        d = _ops.reduce.normalize_axis("unsqueeze", d, self.ndim + 1)
        s = self.array.shape
        return self.reshape(s[:d] + (1,) + s[d:])

    def squeeze(self, dim: Any = _NONE, *, axis: Any = _NONE) -> Tensor:
        """Drop dimensions of length 1: all of them, or those in ``dim`` (an int or a tuple).

        PyTorch's rule for ``dim``: a named dimension that is not of length 1 is left as it is. NumPy's
        ``axis=`` keeps NumPy's rule: such a dimension is a ``ValueError``.
        """
        numpy_rule = axis is not _NONE
        d = _pick_dim("squeeze", dim, axis, None)
        s = self.array.shape
        if d is None:
            return self.reshape(tuple(n for n in s if n != 1))
        axes = _ops.reduce.normalize_axes("squeeze", d, self.ndim)
        if numpy_rule:
            for a in axes:
                if a < len(s) and s[a] != 1:
                    raise ValueError(f"squeeze: axis {a} has length {s[a]}, not 1 (shape {tuple(s)})")
        return self.reshape(tuple(n for i, n in enumerate(s) if not (i in axes and n == 1)))

    def permute(self, *axes: int) -> Tensor:
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return _ops.Permute.apply(self, axes=axes)

    def transpose(self, *axes: int) -> Tensor:
        """No arguments: reverse the axes. ``(d0, d1)``: swap two axes (PyTorch). All axes: permute."""
        if not axes:
            return self.T
        if len(axes) == 2 and self.ndim != 2:
            return self.swapaxes(*axes)
        if len(axes) == 2 and self.ndim == 2:
            return self.permute(1, 0) if axes[0] % 2 != axes[1] % 2 else self
        return self.permute(*axes)

    def swapaxes(self, a: int, b: int) -> Tensor:
        order = list(range(self.ndim))
        a, b = a % max(self.ndim, 1), b % max(self.ndim, 1)
        order[a], order[b] = order[b], order[a]
        return self.permute(*order)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        shape = tuple(shape)
        return self if shape == self.array.shape else _ops.Expand.apply(self, shape=shape)

    def expand(self, *shape: int) -> Tensor:
        """PyTorch's expand: -1 keeps a dimension's size."""
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        lead = len(shape) - self.ndim
        return self.broadcast_to(
            tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape))
        )

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.GetItem.apply(self, index=_subscripts.index("getitem", self.shape, index))

    def split(self, split_size_or_sections: Any, dim: Any = _ZERO, *, axis: Any = _NONE) -> tuple:
        """PyTorch's split along ``dim`` (default 0): an int is each piece's size, a list the sizes."""
        return _functions.split(self, split_size_or_sections, _pick_dim("split", dim, axis, 0))

    def unbind(self, dim: Any = _ZERO, *, axis: Any = _NONE) -> tuple:
        """The slices along ``dim`` (default 0), as a tuple."""
        d = (0 if dim is _ZERO else dim) if axis is _NONE else _pick_dim("unbind", dim, axis, 0)
        return _ops.Unbind.apply(self, axis=d)


_tape.Tensor = Tensor

from . import autograd as _autograd  # noqa: E402
from . import creation as _creation  # noqa: E402
from . import op_functions as _functions  # noqa: E402
from . import ops as _ops  # noqa: E402
from . import subscripts as _subscripts  # noqa: E402  (it builds on the ops)

_tensor_torch.bind(_functions, _creation, _ops, as_array, Tensor)
_tensor_reduce.bind(_ops)
_inplace.bind(_ops, _functions, Tensor, _subscripts.index)
