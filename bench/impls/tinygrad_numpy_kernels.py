"""tinygrad_rnn's default (fused) layers on the NumPy recurrent kernels: the fallback when numba is
not installed, kept as fast as it was. The worker sets ``TINYGRAD_RNN_KERNELS=numpy`` before
tinygrad_rnn is imported (the variable is read at import); everything else is ``tinygrad_impl``'s."""

from __future__ import annotations

import numpy as np

from .common import Config
from .tinygrad_impl import TinygradRunner, kernel_info, supports  # noqa: F401  (supports: same cases)
from .tinygrad_impl import available as _available

NAME = "tinygrad_numpy_kernels"
LABEL = "tinygrad_rnn on the NumPy kernels (TINYGRAD_RNN_KERNELS=numpy)"
ENV: dict[str, str | None] = {"TINYGRAD_RNN_KERNELS": "numpy"}


def available() -> tuple[bool, str]:
    ok, info = _available()
    if not ok:
        return ok, info
    kernels = (kernel_info() or {}).get("kernels")
    if kernels not in (None, "numpy"):  # a library that ignored the request would time the wrong row
        return False, f"TINYGRAD_RNN_KERNELS=numpy was set, but tinygrad_rnn.info() reports kernels {kernels!r}"
    return ok, info


def build(
    cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32
) -> TinygradRunner:
    return TinygradRunner(cfg, weights, x, dtype)
