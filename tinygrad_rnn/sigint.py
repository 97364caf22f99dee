"""Hold Ctrl-C off while a change that must be all-or-nothing runs (:func:`defer_sigint`).

A KeyboardInterrupt can be raised between any two bytecodes of the main thread. Raised inside
``optimizer.step()`` it leaves some parameters updated and others not; raised inside a save it leaves no
file; raised inside a callback from native code (numba loading a compiled kernel from its cache calls
back into Python) it is printed and *lost*. :func:`defer_sigint` turns such a region into a critical
section: a SIGINT that arrives in it is recorded, the region runs to its end, and the signal is then
delivered as if it had just arrived. Used by the kernels (below everything) and by the training apps.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["defer_sigint"]


@contextlib.contextmanager
def defer_sigint(what: str = "") -> Iterator[None]:
    """Run the block with SIGINT held off, then deliver a SIGINT that arrived meanwhile.

    For the block, SIGINT's handler is one that only records the signal. On exit the previous handler is
    restored and, if a SIGINT came and the block finished normally, the signal is delivered to it: with
    Python's default handler that raises ``KeyboardInterrupt(what)`` right after the block (``what`` names
    the section, e.g. ``"optimizer update"``, so the one who stops can say what was completed first).

    - A second (third, ...) Ctrl-C during the block is held too and delivered once: the block is never
      cut short, since half of it is exactly the state this exists to prevent.
    - Nested blocks work: the inner one hands a held signal to the outer one, which delivers it at its end.
    - If the block raises, its exception propagates and a held SIGINT is dropped (the run stops anyway).
    - Outside the main thread (where Python cannot set signal handlers and no KeyboardInterrupt is ever
      raised), when SIGINT is ignored, or when its handler was not set from Python (it could not be
      restored), this is a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None or previous is signal.SIG_IGN:
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        held.append(signum)  # nothing else here: a handler may run between any two bytecodes of the block

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if not held:
        return
    if previous is signal.default_int_handler:
        raise KeyboardInterrupt(what)
    signal.raise_signal(signal.SIGINT)  # an outer block's recorder, SIG_DFL or a custom handler: let it act
