"""Parameter initialisers (drawn from the seeded host generator, so one seed gives one model everywhere)."""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from .module import Parameter


def uniform(shape: tuple, bound: float, dtype: Any = None) -> Parameter:
    """U(-bound, bound): PyTorch's default for Linear and the recurrent layers (bound = 1/sqrt(fan))."""
    d = backend.get_default_dtype() if dtype is None else dtype
    a = backend.host_rng().uniform(-bound, bound, size=shape).astype(d)
    return Parameter(backend.to_backend(a))


def normal(shape: tuple, std: float = 1.0, dtype: Any = None) -> Parameter:
    d = backend.get_default_dtype() if dtype is None else dtype
    a = (backend.host_rng().standard_normal(size=shape) * std).astype(d)
    return Parameter(backend.to_backend(a))


def fan_in_bound(fan_in: int) -> float:
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
