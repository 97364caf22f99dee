"""Per-thread modes: grad recording, anomaly checks, drawing scopes, the fused-layer default and kernels.

Every mode here belongs to the thread that sets it, as PyTorch's grad mode does: a sampling thread inside
``no_grad()`` never stops a training thread from recording, and a ``scope`` label held in one thread never
lands in another thread's drawing. A new thread starts from the defaults below (grad on, anomaly off, no
scope, fused layers unless ``TINYGRAD_RNN_FUSED=0``), never from the values of the thread that started it.

Only the two environment settings are read once, at import, and shared: ``TINYGRAD_RNN_DEBUG`` (print
every op) and ``TINYGRAD_RNN_FUSED`` (the default for ``nn.use_fused``).
"""

from __future__ import annotations

import os
import threading
from typing import Any

DEBUG = int(os.environ.get("TINYGRAD_RNN_DEBUG", "0") or 0)
FUSED_DEFAULT = os.environ.get("TINYGRAD_RNN_FUSED", "1").strip().lower() not in ("0", "false", "no", "off")


class _Modes(threading.local):
    """``threading.local`` runs ``__init__`` afresh in each thread on its first access."""

    debug = DEBUG

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.checks = bool(DEBUG)  # anomaly or debug: the single flag Function.apply tests per op
        self.scope: tuple = ()  # labels of the enclosing scope() blocks, stamped on each node for drawing
        self.fused = FUSED_DEFAULT
        self.kernels: str | None = None  # a kernels.use(...) choice; None: TINYGRAD_RNN_KERNELS's
        self.active: dict[str, list] = {}  # mode -> [(switch, value before its enter)], oldest first

    def set(self, mode: str, value: Any) -> None:
        setattr(self, mode, value)
        if mode == "anomaly":
            self.checks = value or bool(DEBUG)


MODES = _Modes()


class Switch:
    """Base of the context managers that set a mode (``no_grad``, ``detect_anomaly``, ``scope``, ...).

    A subclass names the ``mode`` (an attribute of :data:`MODES`) and ``value(old)``, what it sets while
    active. The entered switches of each mode form a stack in the entering thread, so one instance may
    be shared by threads or nested. An exit in order puts back the value its enter replaced; an exit
    out of order (generators, manual ``__exit__``) drops just that switch: the mode becomes what the
    switches still active make of the value from before the first of them, so no exit order can leave
    gradients off once every ``no_grad`` has exited.
    """

    mode: str

    def value(self, old: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def __enter__(self) -> None:
        modes = MODES
        old = getattr(modes, self.mode)
        modes.active.setdefault(self.mode, []).append((self, old))
        modes.set(self.mode, self.value(old))

    def __exit__(self, *exc: Any) -> None:
        modes = MODES
        stack = modes.active.get(self.mode, [])
        i = next((i for i in range(len(stack) - 1, -1, -1) if stack[i][0] is self), None)
        if i is None:  # never entered in this thread
            return
        value = stack.pop(i)[1]
        for j in range(i, len(stack)):  # replay the switches entered after it, from what it replaced
            sw = stack[j][0]
            stack[j] = (sw, value)
            value = sw.value(value)
        modes.set(self.mode, value)
