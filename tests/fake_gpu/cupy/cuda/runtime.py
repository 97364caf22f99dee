"""cupy.cuda.runtime (cupy_backends/cuda/api/runtime.pyx): one fake device, numbered 0."""

from __future__ import annotations

import os
from typing import Any

is_hip = False
_is_hip_environment = False
errorInvalidDevice = 101  # noqa: N816  (CUDA's name)
_TOTAL_MEMORY = 141 * 2**30  # an H200's, roughly


class CUDARuntimeError(RuntimeError):
    def __init__(self, status: int, message: str = "") -> None:
        self.status = status
        super().__init__(message or f"cudaError {status} (stand-in)")


def getDeviceCount() -> int:  # noqa: N802
    return int(os.environ.get("CUPY_STANDIN_DEVICES", "1"))


_current = [0]


def getDevice() -> int:  # noqa: N802
    return _current[0]


def setDevice(device: int) -> None:  # noqa: N802
    if not 0 <= int(device) < getDeviceCount():
        raise CUDARuntimeError(errorInvalidDevice, "cudaErrorInvalidDevice: invalid device ordinal")
    _current[0] = int(device)


def memGetInfo() -> tuple[int, int]:  # noqa: N802
    return _TOTAL_MEMORY, _TOTAL_MEMORY


def deviceSynchronize() -> None:  # noqa: N802
    from .. import _sync

    _sync.record("deviceSynchronize")
    from .stream import _wait_all

    _wait_all()


def runtimeGetVersion() -> int:  # noqa: N802
    return 12080


def driverGetVersion() -> int:  # noqa: N802
    return 12080


def getDeviceProperties(device: int) -> dict[str, Any]:  # noqa: N802
    return {"name": b"CuPy stand-in (NumPy)", "totalGlobalMem": _TOTAL_MEMORY, "major": 9, "minor": 0,
            "multiProcessorCount": 132, "warpSize": 32}  # fmt: skip
