"""The CuPy stand-in's cupyx (test-only): everything lives in ``cupy._cupyx``."""

from typing import Any

from cupy._cupyx import (  # noqa: F401
    DeviceSynchronized,
    allow_synchronize,
    empty_like_pinned,
    empty_pinned,
    errstate,
    get_runtime_info,
    geterr,
    not_emulated,
    rsqrt,
    scatter_add,
    scatter_max,
    scatter_min,
    seterr,
    zeros_like_pinned,
    zeros_pinned,
)


def __getattr__(name: str) -> Any:
    raise not_emulated(name)
