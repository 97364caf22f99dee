"""tinygrad_rnn's sequence layers with ``fused=False``: every op of every step is a node on the tape
(the same structure as PyTorch's cell loop), so this row measures the tape itself; the default
(fused) layers are in ``tinygrad_impl.py``."""

from __future__ import annotations

import numpy as np

from .common import Config
from .tinygrad_impl import TinygradRunner, supports  # noqa: F401  (supports: same cases)
from .tinygrad_impl import available as _available

NAME = "tinygrad_composed"
LABEL = "tinygrad_rnn composed cells (fused=False)"


def available() -> tuple[bool, str]:
    ok, info = _available()
    if ok:
        from tinygrad_rnn import nn

        try:
            nn.LSTM(1, 1, fused=False)
        except TypeError:  # a version of the package without the switch: everything is composed
            return False, "this tinygrad_rnn has no fused= switch (its default row is the composed path)"
    return ok, info


def build(
    cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32
) -> TinygradRunner:
    return TinygradRunner(cfg, weights, x, dtype, fused=False)
