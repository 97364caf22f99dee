r"""Ops that pick or place elements by an integer index along one dimension, each beside its derivative.

``gather(x, dim, index)`` reads ``out[i][j][k] = x[i][index[i][j][k]][k]`` (for ``dim=1``);
``scatter(x, dim, index, src)`` writes ``out[i][index[i][j][k]][k] = src[i][j][k]`` into a copy of
``x``; ``scatter_add`` adds instead of writing; ``index_select(x, dim, index)`` takes whole slices;
``embedding`` is ``index_select`` on the rows of a 2-D weight. The adjoint pairs:

.. math::

    \frac{\partial\,\mathrm{gather}}{\partial x}^{\!\top} g = \mathrm{scatter\_add}(0, \text{dim}, \text{index}, g),
    \qquad
    \frac{\partial\,\mathrm{scatter}}{\partial \mathrm{src}}^{\!\top} g = \mathrm{gather}(g, \text{dim}, \text{index}),
    \qquad
    \frac{\partial\,\mathrm{scatter}}{\partial x}^{\!\top} g = g \odot [\text{not written}]

Every index tensor is range-checked (:func:`..checks.index_range`) before it is used: CuPy does no
bounds check (an out-of-range index reads or writes another element silently), and NumPy's message
does not name the op or the dimension. On the GPU the check runs on the device and reports at the next
read-back to the host, so it costs no sync.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..backend import xp
from ..checks import index_range as _check_index_range
from ..tape import Function
from ..tensor import Tensor
from . import dual
from . import movement as mv
from .reduce import normalize_axis


def index_array(op: str, index: Any) -> Any:
    """An index argument (Tensor, array or nested list) as a backend integer array."""
    a = index.array if isinstance(index, Tensor) else index
    if not backend.is_array(a):
        a = np.asarray(a)
    if a.dtype.kind not in "iu":  # checked before any copy to the device
        raise TypeError(f"{op}: index must hold integers (e.g. int64), got dtype {a.dtype}")
    return backend.to_backend(a)


def _grid(index: Any, dim: int) -> tuple:
    """The advanced index that reads ``x[..., index[...], ...]``: ``index`` on ``dim``, every other
    dimension by position (an open grid of aranges that broadcasts against ``index``)."""
    nd = index.ndim
    return tuple(
        index if d == dim else xp.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
        for d, n in enumerate(index.shape)
    )


def _pick(g: Any, index: Any) -> Any:
    """``g[index]`` on an array or (recorded) on a Tensor."""
    return mv.GetItem.apply(g, index=index) if dual.is_tensor(g) else g[index]


def _check_shapes(op: str, x_shape: tuple, index_shape: tuple, dim: int, src_shape: tuple | None = None) -> None:
    if len(index_shape) != len(x_shape) or (src_shape is not None and len(src_shape) != len(x_shape)):
        shapes = f"index {index_shape}" + ("" if src_shape is None else f" and src {src_shape}")
        raise ValueError(f"{op}: {shapes} must have as many dimensions as the input {x_shape}")
    for d, (n, m) in enumerate(zip(index_shape, x_shape)):
        if d != dim and n > m:
            raise ValueError(
                f"{op}: index {index_shape} is larger than the input {x_shape} at dimension {d} "
                f"(only dimension {dim} may be larger)"
            )
        if src_shape is not None and n > src_shape[d]:
            raise ValueError(f"{op}: index {index_shape} is larger than src {src_shape} at dimension {d}")


class Gather(Function):
    """out = x[grid(index)]; the backward adds g back at the same places (repeated indices accumulate)."""

    def forward(self, x, index, dim):
        self.shape = x.shape
        self.grid = _grid(index, dim)
        return x[self.grid]

    def backward(self, g, x):
        return dual.index_put(g, self.grid, self.shape)


class Scatter(Function):
    """A copy of x with ``src`` (its leading ``index.shape`` block) or ``value`` written at grid(index).

    Where ``index`` names one target twice, which write wins is unspecified (as in PyTorch); the
    derivative of ``src`` is ``gather(g)`` for every entry, PyTorch's rule.
    """

    def forward(self, x, *src, index, dim, value=None):
        self.grid = _grid(index, dim)
        out = x.copy()
        if src:
            self.src_shape = src[0].shape
            self.block = tuple(slice(0, n) for n in index.shape)
            out[self.grid] = src[0][self.block]
        else:
            out[self.grid] = value
        self.keep = xp.ones(x.shape, dtype=bool)
        self.keep[self.grid] = False
        return out

    def backward(self, g, x, *src):
        gx = dual.mask(g, self.keep) if self.needs_input_grad[0] else None
        if not src:
            return gx
        gs = _pick(g, self.grid) if self.needs_input_grad[1] else None
        if gs is not None and gs.shape != self.src_shape:  # src larger than index: the rest of it is unused
            gs = dual.index_put(gs, self.block, self.src_shape)
        return gx, gs


class ScatterAdd(Function):
    """A copy of x with ``src``'s leading ``index.shape`` block added at grid(index) (repeats accumulate)."""

    def forward(self, x, src, index, dim):
        self.grid = _grid(index, dim)
        self.src_shape = src.shape
        self.block = tuple(slice(0, n) for n in index.shape)
        out = x.copy()
        backend.scatter_add(out, self.grid, src[self.block])
        return out

    def backward(self, g, x, src):
        gs = _pick(g, self.grid) if self.needs_input_grad[1] else None
        if gs is not None and gs.shape != self.src_shape:
            gs = dual.index_put(gs, self.block, self.src_shape)
        return (g if self.needs_input_grad[0] else None), gs


class IndexSelect(Function):
    """Whole slices ``x[:, ..., index, ...]`` along ``dim``; the backward scatter-adds them back."""

    @classmethod
    def op_name(cls) -> str:
        return "index_select"

    def forward(self, x, index, dim):
        self.shape = x.shape
        self.where = (slice(None),) * dim + (index,)
        return x[self.where]

    def backward(self, g, x):
        return dual.index_put(g, self.where, self.shape)


class Embedding(Function):
    """Rows ``weight[index]``; the gradient is added back into the rows looked up, except ``padding_idx``'s."""

    def forward(self, weight, index, padding_idx=None):
        self.shape, self.index = weight.shape, index
        self.keep = None if padding_idx is None else (index != padding_idx)[..., None]
        return weight[index]

    def backward(self, g, weight):
        if self.keep is not None:
            g = dual.mask(g, self.keep)
        return dual.index_put(g, (self.index,), self.shape)


# ---- the Tensor-level entry points (PyTorch's argument rules), used by Tensor methods and tg.* ----------
def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def gather(x: Any, dim: int, index: Any) -> Tensor:
    """PyTorch's ``gather``: ``out[i][j] = x[i][index[i][j]]`` for ``dim=1``; ``index`` has ``x``'s number of
    dimensions and is no larger than ``x`` except along ``dim``. Differentiable in ``x``."""
    x = _as_tensor(x)
    idx = index_array("gather", index)
    if x.ndim == 0:  # PyTorch allows a 0-d input with a 0-d index (which must be 0)
        normalize_axis("gather", dim, 1)
        if idx.ndim != 0:
            raise ValueError(f"gather: a 0-d input takes a 0-d index, got index of shape {tuple(idx.shape)}")
        return gather(x.reshape(1), 0, Tensor._make(idx.reshape(1), False, None, 0)).reshape(())
    d = normalize_axis("gather", dim, x.ndim)
    _check_shapes("gather", x.shape, tuple(idx.shape), d)
    _check_index_range("gather", idx, x.shape[d], dim)
    return Gather.apply(x, index=idx, dim=d)


def _scatter_src(op: str, x: Tensor, src: Any) -> Tensor:
    if not isinstance(src, Tensor):
        src = Tensor(src, dtype=x.dtype)
    if src.dtype != x.dtype:
        raise TypeError(f"{op}: src has dtype {src.dtype} but the input has {x.dtype}; cast one with .astype(...)")
    return src


def scatter(x: Any, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
    """PyTorch's out-of-place ``scatter``: a copy of ``x`` with ``src[i][j]`` written at ``[i][index[i][j]]``
    (``dim=1``), or the number ``value`` there. Only ``src``'s leading ``index.shape`` block is used.
    Differentiable in ``x`` (zero where written) and ``src`` (``gather`` of the gradient)."""
    x = _as_tensor(x)
    if (src is None) == (value is None):
        raise TypeError("scatter: pass exactly one of src (a tensor) and value (a number)")
    if src is not None and not isinstance(src, Tensor) and not hasattr(src, "shape") and np.ndim(src) == 0:
        src, value = None, src  # scatter(dim, index, 1.5): PyTorch's value overload
    idx = index_array("scatter", index)
    if x.ndim == 0:
        normalize_axis("scatter", dim, 1)
        one = Tensor._make(idx.reshape(1), False, None, 0)
        if src is not None:
            s = _scatter_src("scatter", x, src)
            return scatter(x.reshape(1), 0, one, s.reshape(1) if s.ndim == 0 else s).reshape(())
        return scatter(x.reshape(1), 0, one, value=value).reshape(())
    d = normalize_axis("scatter", dim, x.ndim)
    if src is None:
        _check_shapes("scatter", x.shape, tuple(idx.shape), d)
        _check_index_range("scatter", idx, x.shape[d], dim)
        v = value.item() if isinstance(value, Tensor) else value
        return Scatter.apply(x, index=idx, dim=d, value=xp.asarray(v, dtype=x.dtype))
    s = _scatter_src("scatter", x, src)
    _check_shapes("scatter", x.shape, tuple(idx.shape), d, s.shape)
    _check_index_range("scatter", idx, x.shape[d], dim)
    return Scatter.apply(x, s, index=idx, dim=d)


def scatter_add(x: Any, dim: int, index: Any, src: Any) -> Tensor:
    """PyTorch's out-of-place ``scatter_add``: a copy of ``x`` with ``src[i][j]`` added at ``[i][index[i][j]]``
    (``dim=1``); repeated targets accumulate. Differentiable in ``x`` (identity) and ``src`` (gather)."""
    x = _as_tensor(x)
    if not isinstance(src, Tensor) and not hasattr(src, "shape"):
        raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__}")
    s = _scatter_src("scatter_add", x, src)
    idx = index_array("scatter_add", index)
    if x.ndim == 0:
        normalize_axis("scatter_add", dim, 1)
        one = Tensor._make(idx.reshape(1), False, None, 0)
        return scatter_add(x.reshape(1), 0, one, s.reshape(1) if s.ndim == 0 else s).reshape(())
    d = normalize_axis("scatter_add", dim, x.ndim)
    _check_shapes("scatter_add", x.shape, tuple(idx.shape), d, s.shape)
    _check_index_range("scatter_add", idx, x.shape[d], dim)
    return ScatterAdd.apply(x, s, index=idx, dim=d)


def index_select(x: Any, dim: int, index: Any) -> Tensor:
    """The slices at ``index`` (a 1-D integer tensor; 0-d counts as one entry) along ``dim``, in that order;
    repeats allowed. Differentiable in ``x``."""
    x = _as_tensor(x)
    idx = index_array("index_select", index)
    if idx.ndim > 1:
        raise IndexError(f"index_select: index must be 1-D (a vector), got shape {tuple(idx.shape)}")
    idx = idx.reshape(-1)
    if x.ndim == 0:
        normalize_axis("index_select", dim, 1)
        if idx.size != 1:
            raise IndexError(f"index_select: a 0-d input takes a single index, got {idx.size}")
        _check_index_range("index_select", idx, 1, dim)
        return x.clone()
    d = normalize_axis("index_select", dim, x.ndim)
    _check_index_range("index_select", idx, x.shape[d], dim)
    return IndexSelect.apply(x, index=idx, dim=d)


def embedding(ids: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` ``(num_embeddings, embedding_dim)`` at integer ``ids`` of any shape: the result
    is ``(*ids.shape, embedding_dim)``. The row ``padding_idx`` (negative counts from the end) is looked
    up as it is but gets no gradient, as in PyTorch's ``F.embedding``."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"embedding: weight must be a Tensor, got {type(weight).__name__}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    idx = index_array("embedding", ids)
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for {n} embeddings")
        padding_idx %= n
    _check_index_range("embedding", idx, n, "0 (the rows of weight)")
    return Embedding.apply(weight, index=idx, padding_idx=padding_idx)
