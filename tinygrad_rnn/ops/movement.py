"""Ops that move, select or join elements without arithmetic. Their gradients route values back."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import checks
from ..backend import is_array, scatter_add, xp
from ..tape import Function
from . import dual
from .reduce import normalize_axis


def _is_basic_index(idx: Any) -> bool:
    """Slices, ints, None and Ellipsis only: such an index never selects an element twice."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    return all(p is None or p is Ellipsis or isinstance(p, (slice, int)) and not isinstance(p, bool) for p in parts)


def check_index_arrays(op: str, shape: tuple, idx: Any) -> None:
    """Range-check every integer array in the index ``idx`` of an array of ``shape``, against the dimension
    it indexes (negative entries count from the end). CuPy does no bounds check of its own: there an
    out-of-range entry would read, write and scatter gradients to another element without a word."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    if _is_basic_index(parts):
        return
    used = sum(0 if p is None or p is Ellipsis else p.ndim if is_array(p) and p.dtype.kind == "b" else 1 for p in parts)
    d = 0
    for p in parts:
        if p is Ellipsis:
            d += len(shape) - used
        elif p is not None:
            if is_array(p) and p.dtype.kind in "iu" and d < len(shape):
                checks.index_range(op, p, shape[d], d, low=-shape[d])
            d += p.ndim if is_array(p) and p.dtype.kind == "b" else 1


def index_put_array(g: Any, index: Any, shape: tuple) -> Any:
    z = xp.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        z[index] = g
    else:
        scatter_add(z, index, g)
    return z


def _along(axis: int, part: Any) -> tuple:
    """The basic index that takes ``part`` (an int or a slice) along ``axis`` (negative counts from the end)."""
    if axis >= 0:
        return (slice(None),) * axis + (part,)
    return (Ellipsis, part) + (slice(None),) * (-axis - 1)


def split_array(x: Any, sizes: Sequence[int], axis: int) -> list:
    out, start = [], 0
    lead = (slice(None),) * axis
    for n in sizes:
        out.append(x[lead + (slice(start, start + n),)])
        start += n
    return out


def unbind_array(x: Any, axis: int) -> list:
    lead = (slice(None),) * axis
    return [x[lead + (i,)] for i in range(x.shape[axis])]


class Reshape(Function):
    is_view, reads_inputs = True, False
    param_suffix = ".reshape{shape}"
    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                             f"into shape {tuple(shape)}") from None
    def backward(self, g, x): return g.reshape(self.in_shape)


class Permute(Function):
    is_view, reads_inputs = True, False
    param_suffix = ".permute{axes}"  # drawn Wᵀ for a matrix
    def forward(self, x, axes):
        if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)) or len(axes) != x.ndim:
            raise ValueError(f"permute: axes {tuple(axes)} are not a permutation of the {x.ndim} axes "
                             f"of a tensor of shape {x.shape}")
        self.axes = tuple(a % x.ndim for a in axes)
        return x.transpose(self.axes)
    def backward(self, g, x):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return dual.permute(g, inverse)


class Expand(Function):
    # its elements share memory, so it and every view of it are read-only (in-place ops refuse them)
    is_view, reads_inputs, read_only_view = True, False, True
    param_suffix = ".expand{shape}"
    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return xp.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"expand: cannot broadcast shape {x.shape} to {tuple(shape)}") from None
    def backward(self, g, x): return dual.unbroadcast(g, self.in_shape)


class GetItem(Function):
    """x[index]; the backward scatters into zeros and accumulates repeated indices."""
    is_view, reads_inputs = True, False
    param_suffix = "{index}"
    def forward(self, x, index):
        self.index, self.in_shape = index, x.shape
        out = x[index]
        if not hasattr(out, "shape") or (out.ndim == 0 and not isinstance(out, xp.ndarray)):
            # a NumPy scalar copies; a 0-d view keeps t[i, j] writable through (t[i, j] += 1)
            out = x[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
        return out
    def backward(self, g, x): return dual.index_put(g, self.index, self.in_shape)


class IndexPut(Function):
    """zeros(shape) with g added at index: the adjoint of GetItem (and its backward is GetItem)."""
    reads_inputs = False
    def forward(self, g, index, shape):
        self.index = index
        return index_put_array(g, index, shape)
    def backward(self, g, _): return GetItem.apply(g, index=self.index) if dual.is_tensor(g) else g[self.index]


class Where(Function):
    """cond ? a : b with a constant boolean ``cond``; broadcasting over all three."""
    reads_inputs = False
    label_params = ()  # the mask is data, not a setting of the op
    def forward(self, a, b, cond):
        self.cond, self.shapes = cond, (a.shape, b.shape)
        return xp.where(cond, a, b)
    def backward(self, g, a, b):
        ga = dual.unbroadcast(dual.mask(g, self.cond), self.shapes[0]) if self.needs_input_grad[0] else None
        gb = dual.unbroadcast(dual.mask(g, ~self.cond), self.shapes[1]) if self.needs_input_grad[1] else None
        return ga, gb


class Concat(Function):
    reads_inputs = False
    def forward(self, *xs, axis=0):
        if not xs:
            raise ValueError("concat: expected at least one tensor")
        self.axis = normalize_axis("concat", axis, xs[0].ndim)
        self.shapes = [x.shape for x in xs]
        try:
            return xp.concatenate(xs, axis=self.axis)
        except ValueError:
            raise ValueError(f"concat: along axis {axis}, every other dimension must match; got shapes "
                             f"{[tuple(s) for s in self.shapes]}") from None
    def backward(self, g, *xs): return tuple(dual.split(g, [s[self.axis] for s in self.shapes], self.axis))


class Stack(Function):
    reads_inputs = False
    def forward(self, *xs, axis=0):
        if not xs:
            raise ValueError("stack: expected at least one tensor")
        self.axis = normalize_axis("stack", axis, xs[0].ndim + 1)
        shapes = {x.shape for x in xs}
        if len(shapes) != 1:
            raise ValueError(f"stack: every tensor must have the same shape; got {[tuple(x.shape) for x in xs]}")
        return xp.stack(xs, axis=self.axis)
    def backward(self, g, *xs): return tuple(dual.unbind(g, self.axis))


class Split(Function):
    """Pieces of the given sizes along ``axis``; backward gets all pieces' gradients in one call."""
    is_view, reads_inputs = True, False
    @classmethod
    def view_step(cls, params, i):
        sizes, axis = params["sizes"], params.get("axis", 0)
        start = sum(sizes[:i])
        return GetItem, {"index": _along(axis, slice(start, start + sizes[i]))}
    multi_output = True
    def forward(self, x, sizes, axis=0):
        self.axis = normalize_axis("split", axis, x.ndim)
        if sum(sizes) != x.shape[self.axis] or any(n < 0 for n in sizes):
            raise ValueError(f"split: sizes {list(sizes)} do not add up to {x.shape[self.axis]}, the length of "
                             f"axis {axis} of a tensor of shape {x.shape}")
        self.shapes = [x.shape[:self.axis] + (n,) + x.shape[self.axis + 1:] for n in sizes]
        return tuple(split_array(x, sizes, self.axis))
    def backward(self, gs, x): return dual.concat(gs, self.shapes, self.axis)


class Unbind(Function):
    """The slices x[..., i, ...] along ``axis``; backward stacks all their gradients in one call (O(T))."""
    is_view, reads_inputs = True, False
    @classmethod
    def view_step(cls, params, i):
        return GetItem, {"index": _along(params.get("axis", 0), i)}
    multi_output = True
    def forward(self, x, axis=0):
        if x.ndim == 0:
            raise ValueError(f"unbind: axis {axis} is out of range for a 0-d tensor")
        self.axis = normalize_axis("unbind", axis, x.ndim)
        self.shape = x.shape[:self.axis] + x.shape[self.axis + 1:]
        return tuple(unbind_array(x, self.axis))
    def backward(self, gs, x): return dual.stack(gs, self.shape, self.axis)


class Pad(Function):
    """Constant padding; ``pad_width`` is NumPy's: one (before, after) pair per axis."""
    reads_inputs = False
    def forward(self, x, pad_width, value=0.0):
        try:
            pw = [(int(b), int(a)) for b, a in pad_width]
        except (TypeError, ValueError):
            raise ValueError(f"pad: pad_width must be one (before, after) pair per axis, got {pad_width!r}") from None
        if len(pw) != x.ndim or any(b < 0 or a < 0 for b, a in pw):
            raise ValueError(f"pad: pad_width needs {x.ndim} non-negative (before, after) pairs for a tensor of "
                             f"shape {x.shape}, got {pad_width!r}")
        self.slices = tuple(slice(b, b + n) for (b, _), n in zip(pw, x.shape))
        return xp.pad(x, pw, mode="constant", constant_values=value)
    def backward(self, g, x): return g[self.slices]
