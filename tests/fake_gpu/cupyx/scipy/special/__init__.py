"""The stand-in's cupyx.scipy.special: erf and erfc only (what tinygrad_rnn uses)."""

from typing import Any

from cupy._special import erf, erfc  # noqa: F401


def __getattr__(name: str) -> Any:
    raise AttributeError(f"cupyx.scipy.special.{name} is not emulated by the CuPy stand-in (only erf, erfc)")
