"""Helpers shared by the two PyTorch implementations (imported only once torch is known to import)."""

from __future__ import annotations

from typing import Any

import numpy as np


def torch_available() -> tuple[bool, str]:
    try:
        import torch
    except ImportError as e:
        return False, f"torch not installed ({e})"
    return True, f"torch {torch.__version__} ({torch.get_num_threads()} threads)"


def torch_dtype(dtype: np.dtype | type) -> Any:
    import torch

    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(dtype)]
