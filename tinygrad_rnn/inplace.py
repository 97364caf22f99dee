"""In-place ops (``add_``, ``mul_``, ``copy_``, ``fill_``, ``uniform_``, ...) and item assignment, with
PyTorch's autograd rules.

Each in-place op is its out-of-place op plus a write into the tensor's own memory, so views and aliases
see the new values:

* with grad mode off, or when neither the tensor nor the operands require grad, the values are written
  and the version counter is bumped; the tape is not touched;
* on a leaf that requires grad (or a view of one) it is an error outside ``no_grad`` (its gradient would
  be of values that no longer exist);
* otherwise the op is recorded on a copy of the old values (when its derivative reads them) and the
  tensor takes the recorded node as its new history (``views.set_history``). On a view, the *base* is
  given the new history: ``base_new = ViewAssign(base_old, op(view_of(base_old)))``, and the view
  rebuilds its own from the base when next used.

Nodes that saved a value and find its version moved on raise at backward, naming the op (autograd.py).
"""

from __future__ import annotations

import builtins
from typing import Any, cast

import numpy as np

from . import backend
from . import views as _views
from .modes import MODES

_ops: Any = None
_functions: Any = None
_Tensor: Any = None
_index: Any = None


def bind(ops: Any, functions: Any, tensor: Any, index: Any) -> None:
    """Called once by tensor.py when everything this module builds on exists."""
    global _ops, _functions, _Tensor, _index
    _ops, _functions, _Tensor, _index = ops, functions, tensor, index


def _writable(op: str, t: Any) -> None:
    if t.array.ndim == 0 and not backend.is_array(t.array):
        # a NumPy scalar (what elementwise ops on 0-d arrays return) is immutable and shared with nobody:
        # give the tensor a 0-d array of its own to write into
        t.array = backend.xp.array(t.array)
    a, v = t.array, t._view
    while v is not None and not getattr(v.cls, "read_only_view", False):
        v = v.parent
    # an expand() (or a view of one) on every backend; a zero stride for arrays that came in broadcast;
    # NumPy's writeable flag for its other read-only arrays (CuPy arrays have no such flag)
    overlap = any(st == 0 and n > 1 for st, n in zip(a.strides, a.shape))
    if v is not None or overlap or not getattr(a.flags, "writeable", True):
        raise ValueError(
            f"{op}: this tensor of shape {t.shape} is a read-only view (an expand() or broadcast, where elements "
            "share memory); clone() it first"
        )


def _check(op: str, t: Any, new: Any) -> None:
    if new.shape != t.shape:
        raise ValueError(
            f"{op}: the result has shape {new.shape} but the tensor has shape {t.shape}; an in-place op cannot "
            "change a tensor's shape (the other operand may broadcast to this tensor, not the reverse)"
        )
    if new.dtype != t.dtype:
        raise TypeError(
            f"{op}: the result would be {new.dtype} but the tensor is {t.dtype}; an in-place op keeps its "
            "tensor's dtype (cast the other operand, or use the out-of-place op)"
        )


def _requires_grad(x: Any) -> bool:
    return isinstance(x, _Tensor) and x.requires_grad


def apply(t: Any, op: str, compute: Any, reads: bool = True, operands: tuple = ()) -> Any:
    """Run ``compute`` (Tensor -> Tensor of ``t``'s shape and dtype) in place on ``t``; returns ``t``."""
    view = t._view
    base = t if view is None else view.base
    state = MODES
    grad_on = state.grad_enabled
    if grad_on and base._requires_grad and base._fn is None:
        what = "a leaf tensor" if view is None else "a view of a leaf tensor"
        raise RuntimeError(
            f"{op}: {what} that requires grad (shape {base.shape}) cannot be modified in place while grad mode is "
            "on: its gradient would be for values that no longer exist. Update it inside `with tg.no_grad():` "
            "(as optimizers do), or modify a copy (x.clone())"
        )
    _writable(op, t)
    if not (grad_on and (base._requires_grad or builtins.any(_requires_grad(o) for o in operands))):
        state.grad_enabled = False
        try:
            new = compute(t)
        finally:
            state.grad_enabled = grad_on
        _check(op, t, new)
        t.array[...] = new.array
        _views.bump(t)
        return t
    if view is None:
        old = _Tensor._make(t.array.copy() if reads else t.array, t._requires_grad, t._fn, t._idx)
        new = compute(old)
        _check(op, t, new)
        t.array[...] = new.array
        _views.bump(t)
        _views.set_history(t, new._fn, new._idx, new._requires_grad)
        return t
    old_base = _Tensor._make(base.array, base._requires_grad, base._fn, base._idx)
    region = _views.replay(view.steps, old_base)
    if reads:
        region = _Tensor._make(region.array.copy(), region._requires_grad, region._fn, region._idx)
    new = compute(region)
    _check(op, t, new)
    new_base = _ops.ViewAssign.apply(old_base, new, steps=view.steps)
    _views.bump(base)
    _views.set_history(base, new_base._fn, new_base._idx, new_base._requires_grad)
    return t  # stale now: rebuilt from the base when next used


def value(op: str, t: Any, v: Any) -> Any:
    """``v`` as a Tensor of ``t``'s dtype for ``copy_``/``fill_``/assignment. Converts any value that keeps
    its meaning (ints and bools into floats, floats of another precision, bools into ints); refuses
    floats into integer or boolean tensors and integers out of the destination's range (they would be
    truncated or wrap)."""
    d = t.dtype
    if isinstance(v, _Tensor):
        src = v.dtype
    else:
        host = backend.to_numpy(v) if backend.is_array(v) else np.asarray(v)
        if host.dtype == object or host.dtype.kind not in "biuf":
            raise TypeError(f"{op}: cannot write a value of type {type(v).__name__} into a {d} tensor")
        src = host.dtype
    if src != d:
        if (src.kind == "f" and d.kind != "f") or (src.kind in "iu" and d.kind == "b"):
            raise TypeError(
                f"{op}: writing {src} values into a {d} tensor would truncate them; convert explicitly first "
                f"(e.g. .round().to({d}))"
            )
        if not isinstance(v, _Tensor) and src.kind in "iu" and d.kind in "iu":
            info = np.iinfo(d)
            if host.size and (host.min() < info.min or host.max() > info.max):
                raise OverflowError(f"{op}: the value {v!r} does not fit in {d} (range {info.min}..{info.max})")
    if isinstance(v, _Tensor):
        return v if src == d else v.astype(d)
    return _Tensor._make(backend.to_backend(host.astype(d)), False, None, 0)


def _rng(generator: Any) -> Any:
    return backend.host_rng() if generator is None else generator.numpy()


def _fill_with(t: Any, op: str, host: np.ndarray) -> Any:
    v = _Tensor._make(backend.to_backend(host.astype(t.dtype)), False, None, 0)
    return apply(t, op, lambda x: _ops.Assign.apply(x, v), reads=False)


def _float_only(op: str, t: Any) -> None:
    if t.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point tensor, got {t.dtype}")


class InPlaceMethods:
    """The in-place methods of :class:`Tensor`: each returns the tensor itself, as PyTorch's do."""

    __slots__ = ()

    # ---- arithmetic --------------------------------------------------------------------------------
    def add_(self, other: Any, *, alpha: Any = 1) -> Any:
        o = other if alpha == 1 else other * alpha
        return apply(self, "add_", lambda x: x + o, reads=False, operands=(o,))

    def sub_(self, other: Any, *, alpha: Any = 1) -> Any:
        o = other if alpha == 1 else other * alpha
        return apply(self, "sub_", lambda x: x - o, reads=False, operands=(o,))

    def mul_(self, other: Any) -> Any:
        return apply(self, "mul_", lambda x: x * other, operands=(other,))

    def div_(self, other: Any) -> Any:
        return apply(self, "div_", lambda x: x / other, operands=(other,))

    def pow_(self, exponent: Any) -> Any:
        return apply(self, "pow_", lambda x: x**exponent, operands=(exponent,))

    def addcmul_(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
        """``self += value * tensor1 * tensor2``."""
        return apply(
            self, "addcmul_", lambda x: x + tensor1 * tensor2 * value, reads=False, operands=(tensor1, tensor2)
        )

    def addcdiv_(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
        """``self += value * tensor1 / tensor2``."""
        return apply(
            self, "addcdiv_", lambda x: x + tensor1 / tensor2 * value, reads=False, operands=(tensor1, tensor2)
        )

    def lerp_(self, end: Any, weight: Any) -> Any:
        """``self += weight * (end - self)``."""
        return apply(self, "lerp_", lambda x: x + (end - x) * weight, operands=(end, weight))

    __iadd__, __isub__, __imul__, __itruediv__, __ipow__ = add_, sub_, mul_, div_, pow_

    # ---- elementwise functions ---------------------------------------------------------------------
    def neg_(self) -> Any: return apply(self, "neg_", lambda x: -x, reads=False)  # fmt: skip

    def abs_(self) -> Any: return apply(self, "abs_", lambda x: x.abs())  # fmt: skip

    def exp_(self) -> Any: return apply(self, "exp_", lambda x: x.exp())  # fmt: skip

    def log_(self) -> Any: return apply(self, "log_", lambda x: x.log())  # fmt: skip

    def sqrt_(self) -> Any: return apply(self, "sqrt_", lambda x: x.sqrt())  # fmt: skip

    def tanh_(self) -> Any: return apply(self, "tanh_", lambda x: x.tanh())  # fmt: skip

    def sigmoid_(self) -> Any: return apply(self, "sigmoid_", lambda x: x.sigmoid())  # fmt: skip

    def relu_(self) -> Any: return apply(self, "relu_", lambda x: x.relu())  # fmt: skip

    def clamp_(self, min: Any = None, max: Any = None) -> Any:  # noqa: A002
        return apply(self, "clamp_", lambda x: x.clamp(min, max))

    clip_ = clamp_

    # ---- writing values ----------------------------------------------------------------------------
    def copy_(self, src: Any, non_blocking: bool = False) -> Any:
        """Write ``src`` (broadcast to this shape, converted to this dtype) into this tensor's memory; the
        gradient flows to ``src``."""
        v = value("copy_", self, src)
        return apply(self, "copy_", lambda x: _ops.Assign.apply(x, v), reads=False, operands=(v,))

    def fill_(self, value_: Any) -> Any:
        v = value("fill_", self, value_)
        if v.ndim != 0:
            raise ValueError(f"fill_: the value must be a number or a 0-d tensor, got shape {v.shape}")
        return apply(self, "fill_", lambda x: _ops.Assign.apply(x, v), reads=False, operands=(v,))

    def zero_(self) -> Any:
        return self.fill_(0)

    def masked_fill_(self, mask: Any, value: Any) -> Any:
        return apply(self, "masked_fill_", lambda x: _functions.masked_fill(x, mask, value), reads=False,
                     operands=(value,))  # fmt: skip

    def scatter_(self, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Any:
        return apply(self, "scatter_", lambda x: _ops.indexing.scatter(x, dim, index, src, value=value), reads=False,
                     operands=(src,))  # fmt: skip

    def scatter_add_(self, dim: int, index: Any, src: Any) -> Any:
        return apply(self, "scatter_add_", lambda x: _ops.indexing.scatter_add(x, dim, index, src), reads=False,
                     operands=(src,))  # fmt: skip

    def __setitem__(self, index: Any, value_: Any) -> None:
        """``t[index] = value``: basic indices write through a view of ``t``, advanced ones (integer arrays,
        boolean masks) as an index assignment; differentiable in both the tensor and the value."""
        idx = _index("setitem", cast(Any, self).shape, index)
        v = value("setitem", self, value_)
        if _ops.movement._is_basic_index(idx):
            state = MODES
            was, state.grad_enabled = state.grad_enabled, False
            try:
                region = _ops.GetItem.apply(self, index=idx)
            finally:
                state.grad_enabled = was
            if region._view is None:  # an empty selection: nothing to write
                return
            while v.ndim > region.ndim and v.shape[0] == 1:  # as PyTorch (and NumPy): t[0] = ones(1, n)
                v = v.reshape(v.shape[1:])
            apply(region, "setitem", lambda r: _ops.Assign.apply(r, v, op="setitem"), reads=False, operands=(v,))
        else:
            apply(self, "setitem", lambda x: _ops.IndexAssign.apply(x, v, index=idx), reads=False, operands=(v,))

    # ---- random fills (from the seeded generator, or ``generator=``) -------------------------------------
    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Any:
        t: Any = self
        _float_only("uniform_", t)
        return _fill_with(t, "uniform_", _rng(generator).uniform(a, b, t.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Any:
        t: Any = self
        _float_only("normal_", t)
        return _fill_with(t, "normal_", _rng(generator).normal(mean, std, t.shape))

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> Any:
        """1 with probability ``p`` (a number, or a tensor that broadcasts to this shape), else 0."""
        t: Any = self
        prob = backend.to_numpy(p.array) if isinstance(p, _Tensor) else p
        return _fill_with(t, "bernoulli_", _rng(generator).random(t.shape) < prob)

    # ---- the tape ----------------------------------------------------------------------------------
    def detach_(self) -> Any:
        """Cut this tensor from the tape in place (``detach()`` without a new tensor)."""
        t: Any = self
        if t._view is not None:
            raise RuntimeError("detach_: cannot detach a view in place; use detach(), which returns a new tensor")
        if t._fn is not None:
            # nothing was written, so the version stays: nodes recorded before (at this version) must
            # keep routing to the old history, hence a start between this version and the next
            _views.set_history(t, None, 0, False, start=_views.version(t) + 0.5)
            t._cut = True
        t._requires_grad = False
        return t
