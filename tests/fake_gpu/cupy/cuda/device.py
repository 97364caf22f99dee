"""cupy.cuda.Device (cupy/cuda/device.pyx)."""

from __future__ import annotations

from typing import Any

from . import runtime


class Device:
    def __init__(self, device: Any = None) -> None:
        self.id = runtime.getDevice() if device is None else int(device)
        self._prev: list[int] = []

    def use(self) -> None:
        runtime.setDevice(self.id)

    def __enter__(self) -> Device:
        self._prev.append(runtime.getDevice())
        runtime.setDevice(self.id)
        return self

    def __exit__(self, *exc: Any) -> None:
        runtime.setDevice(self._prev.pop())

    def synchronize(self) -> None:
        from .. import _sync

        _sync.record("Device.synchronize")
        from .stream import _wait_all

        _wait_all()

    @property
    def compute_capability(self) -> str:
        return "90"

    @property
    def mem_info(self) -> tuple[int, int]:
        return runtime.memGetInfo()

    @property
    def attributes(self) -> dict[str, int]:
        return {"MultiProcessorCount": 132, "WarpSize": 32}

    @property
    def pci_bus_id(self) -> str:
        return f"0000:{self.id:02x}:00.0"

    def __int__(self) -> int:
        return self.id

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


def get_device_id() -> int:
    return runtime.getDevice()
