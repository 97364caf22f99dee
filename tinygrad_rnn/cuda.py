"""``tg.cuda``: what PyTorch programs ask of ``torch.cuda``, answered for this process.

``is_available()`` says whether *this process* computes on a GPU (``TINYGRAD_RNN_BACKEND=cupy`` or a
successful ``auto``): it is the question ``device = "cuda" if torch.cuda.is_available() else "cpu"``
asks, and under NumPy the answer is False even on a machine with a GPU, since tensors here cannot
move to it (see :mod:`tinygrad_rnn.device`).
"""

from __future__ import annotations

from . import backend
from .device import device


def is_available() -> bool:
    return backend.name == "cupy"


def device_count() -> int:
    return int(backend.xp.cuda.runtime.getDeviceCount()) if is_available() else 0


def current_device() -> int:
    if not is_available():
        raise RuntimeError(f"cuda.current_device: this process runs the {backend.name} backend (no GPU)")
    return int(backend.xp.cuda.runtime.getDevice())


def synchronize(device: device | str | int | None = None) -> None:  # noqa: ARG001  (PyTorch's signature)
    """Wait for the GPU's queued work (a no-op without one); a failed device check raises here."""
    if is_available():
        backend.xp.cuda.get_current_stream().synchronize()
        backend.flush_checks()


def manual_seed(seed: int) -> None:
    """Seed the generators (one set serves every device here): the same as ``tg.manual_seed``."""
    backend.manual_seed(seed)


manual_seed_all = manual_seed


def empty_cache() -> None:
    """Return cached GPU memory to the driver (a no-op without a GPU)."""
    if is_available():
        backend.xp.get_default_memory_pool().free_all_blocks()
