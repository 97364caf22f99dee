"""The stand-in's cupyx.scipy: only ``special`` (erf, erfc)."""

from . import special  # noqa: F401
