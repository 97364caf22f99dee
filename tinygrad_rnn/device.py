"""Devices with PyTorch's names: ``tg.device``, and the one rule for which device a tensor may move to.

This process has one compute device, chosen by ``TINYGRAD_RNN_BACKEND`` at import: the CPU under NumPy,
the current CUDA device under CuPy. Every tensor lives there, so no op ever meets two devices.
``x.to(device)``, ``x.cpu()``, ``x.cuda()``, ``module.to(device)`` and the ``device=`` of the creation
functions accept this process's device and are a ``ValueError`` naming both devices for any other.
The portable PyTorch idiom therefore runs unchanged on either backend::

    device = tg.device("cuda" if tg.cuda.is_available() else "cpu")   # what this process can use
    model.to(device); x = x.to(device)

Under CuPy ``x.cpu()`` keeps the tensor on the GPU (it cannot leave the process's device);
``.numpy()``, ``.item()`` and ``.tolist()`` copy to the host, so ``y.cpu().numpy()`` works there too.
"""

from __future__ import annotations

from typing import Any

from . import backend

_KINDS = ("cpu", "cuda")  # where tensors here can live
# PyTorch's other device types: nameable (so their programs parse), never a place a tensor can move to
_FOREIGN = ("mps", "xpu", "hip", "meta", "xla", "hpu", "mtia", "privateuseone")


class device:  # noqa: N801  (PyTorch's name)
    """``tg.device("cuda:0")``, ``tg.device("cuda", 0)``, ``tg.device("cpu")``: a device type and index.

    Equal to another ``device`` with the same type and index, and to its string form (``"cuda:0"``);
    ``str()`` and ``repr()`` are PyTorch's. A ``torch.device`` is read the same way wherever a device
    is taken.
    """

    __slots__ = ("type", "index")
    type: str
    index: int | None

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002  (PyTorch's name)
        if isinstance(type, device) or (hasattr(type, "type") and isinstance(type.type, str)):
            kind, idx = type.type, getattr(type, "index", None)
        elif isinstance(type, str):
            kind, _, rest = type.strip().lower().partition(":")
            if rest and not rest.isdigit():
                raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:<index>', got {type!r}")
            idx = int(rest) if rest else None
        else:
            raise TypeError(f"device: expected a string such as 'cuda:0' or a device, got {type!r}")
        if kind not in _KINDS + _FOREIGN:
            raise ValueError(f"device: unknown device type {kind!r}; tensors here live on 'cpu' or 'cuda'")
        if index is not None:
            if idx is not None:
                raise ValueError(f"device: index given twice ({type!r} and index={index})")
            idx = index
        if idx is not None and (isinstance(idx, bool) or not isinstance(idx, int) or idx < 0):
            raise ValueError(f"device: the index must be a non-negative int, got {idx!r}")
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "index", idx)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("device objects are immutable")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        extra = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{extra})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (TypeError, ValueError):
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


def current() -> device:
    """The device every tensor of this process lives on (with its index)."""
    if backend.name == "cupy":
        return device("cuda", int(backend.xp.cuda.runtime.getDevice()))
    return device("cpu")


def check(op: str, where: Any) -> None:
    """Accept ``where`` if it names this process's device (an index-less name matches); else raise."""
    try:
        want = device(where)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{op}: expected a dtype, a device ('cpu', 'cuda') or a tensor, got {where!r} ({e})") from None
    here = current()
    if want.type == here.type and (want.index is None or want.index == (here.index or 0)):
        return
    fix = (
        f"set {backend.ENV_VAR}={'cupy' if want.type == 'cuda' else 'numpy'} before importing it"
        if want.type in _KINDS
        else "it runs on 'cpu' (NumPy) or 'cuda' (CuPy) only"
    )
    raise ValueError(
        f"{op}: this process runs the {backend.name} backend, so every tensor lives on '{here}'; it cannot "
        f"move to '{want}'. tinygrad_rnn has one device per process: {fix}"
    )
