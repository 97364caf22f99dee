"""Bit-exact comparison of training states (checkpoints, ``Trainer.checkpoint()``), shared by the
interrupt/resume tests of one process and of K ranks."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn import backend
from tinygrad_rnn.tensor import Tensor


def flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    """A checkpoint (or ``Trainer.checkpoint()``) as {path: value}, arrays as (dtype, shape, raw bytes)."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k in sorted(obj):
            out.update(flat(obj[k], f"{prefix}/{k}"))
        return out
    if isinstance(obj, (list, tuple)):
        out = {f"{prefix}#": len(obj)}
        for i, v in enumerate(obj):
            out.update(flat(v, f"{prefix}/{i}"))
        return out
    if isinstance(obj, Tensor):
        obj = obj.numpy()
    elif backend.is_array(obj):  # a device array (CuPy) in an optimizer's state
        obj = backend.to_numpy(obj)
    if isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        return {prefix: (str(a.dtype), a.shape, a.tobytes())}
    return {prefix: (type(obj).__name__, repr(obj))}


def differences(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    return sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))
