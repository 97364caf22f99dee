"""The one place this package reaches inside a Tensor, and the one place it builds Tensors from arrays.

Everything else in ``tg.utils.data`` goes through these helpers, so a change to what ``Tensor.array``
holds is a change here only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import autograd, backend
from ...tensor import Tensor


def _array(t: Tensor) -> Any:
    """The backend array (NumPy or CuPy) a Tensor holds."""
    return t.array


def _host(x: Any) -> np.ndarray:
    """A host NumPy array of a Tensor, a backend array or anything ``np.asarray`` takes."""
    if isinstance(x, Tensor):
        return backend.to_numpy(_array(x))
    if backend.is_array(x):
        return backend.to_numpy(x)
    return np.asarray(x)


def _from_host(a: np.ndarray) -> Tensor:
    """A Tensor of a host array, keeping its dtype (one host-to-device copy under CuPy)."""
    return Tensor(backend.to_backend(a))


def _from_backend(a: Any) -> Tensor:
    """A Tensor wrapping an array already on the active backend, keeping its dtype."""
    return Tensor(a)


def _needs_tape(items: Any) -> bool:
    """Whether joining these Tensors must be recorded so gradients reach them (PyTorch's stack would be)."""
    return autograd.is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad for t in items)
