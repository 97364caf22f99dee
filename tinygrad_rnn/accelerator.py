"""``tg.accelerator``: PyTorch's device-generic namespace (``torch.accelerator``), for this process.

The accelerator is the GPU when this process runs the CuPy backend, and there is none under NumPy, so
``device = tg.accelerator.current_accelerator() if tg.accelerator.is_available() else tg.device("cpu")``
picks the device every tensor here lives on, as it does in PyTorch.
"""

from __future__ import annotations

from . import cuda
from .device import current, device


def is_available() -> bool:
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> device | None:
    """The GPU as ``device('cuda')`` under CuPy; None without one (``check_available`` makes no difference)."""
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()


def current_device_index() -> int:
    """The index of the GPU in use; -1 without one (PyTorch's answer when no accelerator is present)."""
    return current().index or 0 if cuda.is_available() else -1


def synchronize(device: device | str | int | None = None) -> None:  # noqa: ARG001  (PyTorch's signature)
    cuda.synchronize()
