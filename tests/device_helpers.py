"""Helpers for tests that must hold on both backends (NumPy, and CuPy or its test stand-in)."""

from __future__ import annotations

import os
from typing import Any


def child_pythonpath(*first: Any) -> str:
    """A ``PYTHONPATH`` for a subprocess: ``first`` (the checkout), then this process's own entries made
    absolute. Run on the CuPy stand-in (``PYTHONPATH=tests/fake_gpu TINYGRAD_RNN_BACKEND=cupy``), a child that
    inherits the environment then imports the stand-in too, from any working directory."""
    rest = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join([str(p) for p in first] + rest)
