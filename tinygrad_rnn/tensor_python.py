"""How a ``Tensor`` behaves as a Python value: host copies (``numpy()``, ``tolist()``, ``np.asarray(t)``),
numbers (``item()``, ``float(t)``, ``int(t)``, use as an index), ``len``, iteration, truth and ``repr``.

:class:`~tinygrad_rnn.tensor.Tensor` inherits :class:`PythonMethods`. Each of these reads the values on
the host, so under CuPy each is a copy from the GPU (and the point where deferred device checks raise).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from . import backend

if TYPE_CHECKING:
    from .tensor import Tensor


class PythonMethods:
    __slots__ = ()
    array: Any  # the backend array (Tensor's slot)
    _fn: Any  # Tensor's slots, properties and methods that these read
    _requires_grad: bool
    shape: tuple
    ndim: int
    dtype: Any
    unbind: Callable[..., tuple]

    def numpy(self) -> np.ndarray:
        """A host NumPy array (a copy from the GPU under CuPy; shared memory under NumPy)."""
        return backend.to_numpy(self.array)

    def item(self) -> Any:
        if self.array.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python number; shape is {self.shape}")
        return backend.item(self.array)

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise ValueError(
                f"bool: the truth value of a tensor with shape {self.shape} is ambiguous; use .any() or .all()"
            )
        return bool(backend.item(self.array))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, not {self.dtype}")
        return int(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="Tensor(")
        extra = f", dtype={self.dtype}"
        if self._fn is not None:
            extra += f", grad_fn=<{type(self._fn).__name__}>"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"
