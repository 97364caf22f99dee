"""``Generator``: a seedable random-number stream with PyTorch's ``torch.Generator`` methods.

It wraps NumPy's ``np.random.Generator(PCG64)``. The data utilities (``tg.utils.data``) take one as
``generator=`` to make shuffling and splitting repeatable without touching the global seed. Draws
always happen on the host, whichever array backend is active: they choose indices, not tensor values.

A fresh ``Generator()`` starts from the same fixed seed PyTorch uses (``67280421310721``), so, as in
PyTorch, two unseeded generators give the same stream. The numbers differ from PyTorch's for the same
seed (PyTorch's CPU generator is a Mersenne Twister; this is PCG64), but are reproducible.
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np

from .tensor import Tensor

DEFAULT_SEED = 67280421310721  # torch.Generator().initial_seed()
_U64 = 1 << 64
_U128 = 1 << 128
# get_state() layout: PCG64 state (16 bytes), increment (16), has_uint32 (1), buffered uint32 (4), initial seed (8)
_STATE_BYTES = 16 + 16 + 1 + 4 + 8


def _as_seed(seed: Any) -> int:
    """PyTorch's seed rule: any int in [-2**63, 2**64); negatives wrap to their unsigned 64-bit value."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: the seed must be an int, got {type(seed).__name__}")
    s = int(seed)
    if not -(1 << 63) <= s < _U64:  # a ValueError, as PyTorch's overflow error is
        raise ValueError(f"manual_seed: the seed must be within [-2**63, 2**64), got {s}")
    return s % _U64


class Generator:
    """A random-number stream for samplers, ``random_split`` and ``DataLoader(generator=...)``.

    ``Generator(device="cpu")``; ``manual_seed(seed)`` (returns ``self``, so
    ``Generator().manual_seed(42)`` chains), ``seed()``, ``initial_seed()``, ``get_state()`` /
    ``set_state(state)`` (a uint8 Tensor, as in PyTorch). ``device`` is recorded and otherwise ignored.
    """

    def __init__(self, device: Any = "cpu") -> None:
        self.device = str(device)
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed``."""
        self._seed = _as_seed(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseed from operating-system entropy and return the new seed."""
        s = secrets.randbits(64)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed the stream last started from."""
        return self._seed

    def get_state(self) -> Tensor:
        """The full stream state as a uint8 Tensor; ``set_state`` of it resumes the stream exactly."""
        st = self._rng.bit_generator.state
        raw = (
            int(st["state"]["state"]).to_bytes(16, "little")
            + int(st["state"]["inc"]).to_bytes(16, "little")
            + bytes([int(st["has_uint32"])])
            + int(st["uinteger"]).to_bytes(4, "little")
            + self._seed.to_bytes(8, "little")
        )
        return Tensor(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state: Any) -> Generator:
        """Restore a state taken with :meth:`get_state`."""
        if not isinstance(new_state, Tensor) or new_state.dtype != np.uint8:
            got = type(new_state).__name__ if not isinstance(new_state, Tensor) else f"a {new_state.dtype} Tensor"
            raise TypeError(f"set_state: expected a uint8 Tensor from Generator.get_state(), got {got}")
        raw = new_state.numpy().tobytes()
        if len(raw) != _STATE_BYTES:
            raise RuntimeError(
                f"set_state: expected a state of {_STATE_BYTES} bytes from Generator.get_state(), got {len(raw)}"
            )
        state, inc = int.from_bytes(raw[0:16], "little"), int.from_bytes(raw[16:32], "little")
        if inc % 2 == 0:  # PCG64 increments are odd by construction; an even one means a corrupted state
            raise RuntimeError("set_state: not a state from Generator.get_state() (the PCG64 increment is even)")
        bg = np.random.PCG64()
        bg.state = {
            "bit_generator": "PCG64",
            "state": {"state": state % _U128, "inc": inc},
            "has_uint32": raw[32],
            "uinteger": int.from_bytes(raw[33:37], "little"),
        }
        self._rng = np.random.Generator(bg)
        self._seed = int.from_bytes(raw[37:45], "little")
        return self

    def numpy(self) -> np.random.Generator:
        """The NumPy generator behind this stream (drawing from it advances this stream)."""
        return self._rng

    def __repr__(self) -> str:
        return f"Generator(device={self.device!r}, initial_seed={self._seed})"
