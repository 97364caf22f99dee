"""What ``x[index]`` and ``x[index] = v`` index with: the user's index as a backend index, range-checked.

Tensors and lists inside an index become backend arrays (integer or boolean); slices, ints, ``None`` and
``Ellipsis`` pass as they are. Integer arrays are checked against the dimension they index, since CuPy
checks nothing itself (see :func:`tinygrad_rnn.ops.movement.check_index_arrays`).

tensor.py imports this module at the end of its own import, after the ops it builds on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import backend
from . import tape as _tape
from .ops.movement import check_index_arrays


def as_index(index: Any) -> Any:
    """Tensors and lists inside an index become backend arrays (integer or boolean)."""
    if isinstance(index, tuple):
        return tuple(as_index(i) for i in index)
    if isinstance(index, _tape.Tensor):
        return index.array
    if isinstance(index, (list, np.ndarray)):
        a = np.asarray(index)
        if a.dtype.kind not in "biu":
            raise IndexError(f"getitem: index arrays must hold integers or booleans, got {a.dtype}")
        return backend.to_backend(a)
    return index


def index(op: str, shape: tuple, key: Any) -> Any:
    """The backend index for ``key`` into an array of ``shape``, its integer arrays range-checked."""
    idx = as_index(key)
    check_index_arrays(op, shape, idx)
    return idx
