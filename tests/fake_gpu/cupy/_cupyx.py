"""cupyx (cupyx/__init__.py, v13.6.0), kept inside the cupy package so that both can be loaded under
other names; the top-level ``cupyx`` package re-exports this module.

``scatter_add``/``scatter_max``/``scatter_min`` call the deprecated ndarray methods, as CuPy 13's do
(a DeprecationWarning each call), so wrapping indices and the atomic-op dtype limits apply.
``allow_synchronize(False)`` makes any counted synchronisation raise ``DeviceSynchronized``.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from typing import Any

import numpy as np

from . import _names, _sync
from ._core import ndarray


def scatter_add(a: Any, slices: Any, value: Any) -> None:
    a.scatter_add(slices, value)


def scatter_max(a: Any, slices: Any, value: Any) -> None:
    a.scatter_max(slices, value)


def scatter_min(a: Any, slices: Any, value: Any) -> None:
    a.scatter_min(slices, value)


def rsqrt(x: Any, out: Any = None) -> Any:
    from . import _ufunc

    r = _ufunc.ufunc("rsqrt", lambda v: 1 / np.sqrt(v), 1, 1)
    return r(x) if out is None else r(x, out=out)


class DeviceSynchronized(RuntimeError):
    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "Device synchronization was detected while disallowed.")


@contextlib.contextmanager
def allow_synchronize(allow: bool) -> Any:
    warnings.warn("cupyx.allow_synchronize will be removed in future releases as it is not possible to reliably "
                  "detect synchronizations.", stacklevel=3)  # fmt: skip
    old = _sync.allowed()
    _sync.set_allowed(allow, DeviceSynchronized)
    try:
        yield
    finally:
        _sync.set_allowed(old, DeviceSynchronized)


_config = threading.local()
_DEFAULTS = {"divide": None, "over": None, "under": None, "invalid": None, "linalg": "ignore",
             "fallback_mode": "ignore"}  # fmt: skip


def geterr() -> dict:
    return dict(getattr(_config, "err", _DEFAULTS))


def seterr(*, divide=None, over=None, under=None, invalid=None, linalg=None, fallback_mode=None) -> dict:
    old = geterr()
    new = dict(old)
    for k, v in dict(divide=divide, over=over, under=under, invalid=invalid, linalg=linalg,
                     fallback_mode=fallback_mode).items():  # fmt: skip
        if v is not None:
            new[k] = v
    _config.err = new
    return old


@contextlib.contextmanager
def errstate(*, divide=None, over=None, under=None, invalid=None, linalg=None, fallback_mode=None) -> Any:
    old = seterr(divide=divide, over=over, under=under, invalid=invalid, linalg=linalg, fallback_mode=fallback_mode)
    try:
        yield
    finally:
        _config.err = old


def empty_pinned(shape: Any, dtype: Any = float, order: str = "C") -> np.ndarray:
    return np.empty(shape, dtype, order)


def zeros_pinned(shape: Any, dtype: Any = float, order: str = "C") -> np.ndarray:
    return np.zeros(shape, dtype, order)


def empty_like_pinned(a: Any, dtype: Any = None, order: str = "K", subok: Any = None, shape: Any = None):
    return np.empty(a.shape if shape is None else shape, a.dtype if dtype is None else dtype)


def zeros_like_pinned(a: Any, dtype: Any = None, order: str = "K", subok: Any = None, shape: Any = None):
    return np.zeros(a.shape if shape is None else shape, a.dtype if dtype is None else dtype)


def get_runtime_info(*, full: bool = False) -> str:
    from . import __version__

    return f"CuPy Version          : {__version__}\nDevice                : NumPy stand-in (no GPU)\n"


def not_emulated(name: str) -> AttributeError:
    if name in _names.CUPYX:
        return AttributeError(f"cupyx.{name} exists in CuPy {_names.TAG} but the CuPy stand-in does not emulate it")
    return AttributeError(f"module 'cupyx' has no attribute '{name}'")


_ = ndarray
