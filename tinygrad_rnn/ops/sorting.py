"""``sort``, ``argsort`` and ``topk``: a stable argsort along one dimension, then the values gathered.

The values are ``gather(x, dim, indices)``, so their gradient goes to the elements that were picked
(PyTorch's rule) and needs no op of its own; the indices are int64 and carry no gradient.

Ties and stability: PyTorch's ``sort`` is not promised to be stable unless ``stable=True``, and its
``topk`` order among ties is unspecified. Here every sort is stable, whatever ``stable`` says: equal
elements keep their order of appearance, ascending *and* descending (so ``topk`` picks the earliest of
tied elements). NaN sorts as the largest value, as in PyTorch: last ascending, first descending.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..backend import xp
from ..spelling import _sort_result as sort_result
from ..spelling import _topk_result as topk_result
from ..tensor import Tensor
from .indexing import Gather
from .reduce import normalize_axis


def _stable_argsort(a: Any, axis: int) -> Any:
    # CuPy's argsort is always stable and accepts no kind= other than None
    return xp.argsort(a, axis=axis, kind="stable") if backend.name == "numpy" else xp.argsort(a, axis=axis)


def argsort_array(a: Any, axis: int, descending: bool) -> Any:
    """int64 indices that sort ``a`` along ``axis``, stably in both directions.

    Descending is the ascending argsort of the reversed array, reversed and mapped back: equal elements
    then keep their original order, NaN (last ascending) comes first, and no negation is needed (which
    would break on bool and unsigned dtypes).
    """
    if not descending:
        return _stable_argsort(a, axis).astype(np.int64, copy=False)
    n = a.shape[axis]
    r = xp.flip(_stable_argsort(xp.flip(a, axis=axis), axis), axis=axis)
    return (n - 1 - r).astype(np.int64, copy=False)


def _indices(idx: Any) -> Tensor:
    return Tensor._make(idx, False, None, 0)


def sort(x: Tensor, dim: int = -1, descending: bool = False) -> Any:
    """``(values, indices)`` of ``x`` sorted along ``dim``; see the module docstring for ties."""
    if x.ndim == 0:  # PyTorch: a 0-d tensor is its own sort, index 0
        normalize_axis("sort", dim, 1)
        return sort_result(x, _indices(xp.zeros((), dtype=np.int64)))
    d = normalize_axis("sort", dim, x.ndim)
    idx = argsort_array(x.array, d, descending)
    return sort_result(Gather.apply(x, index=idx, dim=d), _indices(idx))


def argsort(x: Tensor, dim: int = -1, descending: bool = False) -> Tensor:
    """The int64 ``indices`` of :func:`sort`."""
    if x.ndim == 0:
        normalize_axis("argsort", dim, 1)
        return _indices(xp.zeros((), dtype=np.int64))
    return _indices(argsort_array(x.array, normalize_axis("argsort", dim, x.ndim), descending))


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True) -> Any:
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) entries along ``dim``, in
    sorted order (largest first, or smallest first). A full stable sort: O(n log n), but the tie rule
    (earliest first) holds exactly, which a partial selection would not promise."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk: k must be an int, got {k!r}")
    n = 1 if x.ndim == 0 else x.shape[normalize_axis("topk", dim, x.ndim)]
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for dimension {dim} of size {n} (need 0 <= k <= {n})")
    if x.ndim == 0:
        normalize_axis("topk", dim, 1)
        return topk_result(x, _indices(xp.zeros((), dtype=np.int64)))
    d = normalize_axis("topk", dim, x.ndim)
    idx = argsort_array(x.array, d, largest)
    idx = idx[(slice(None),) * d + (slice(0, int(k)),)]
    return topk_result(Gather.apply(x, index=idx, dim=d), _indices(idx))
