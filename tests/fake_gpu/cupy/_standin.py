"""The stand-in's own API (real CuPy has no such module; test code may check ``hasattr(cupy, "_standin")``).

- ``syncs()``: device->host synchronisations since import (or the last ``reset()``);
- ``reset()``;
- ``counting()``: a context manager yielding a counter with ``.n`` and ``.events``, a list of
  ``(kind, "file:line function")`` naming the first frame outside the stand-in, and ``.where()``
  to print them;
- ``forbidding()``: like ``counting()`` but the first sync raises ``SyncForbidden`` where it happens;
- ``CUPY_STANDIN_TRACE_SYNCS=1`` in the environment prints every sync with its stack on stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ._sync import Counter, SyncForbidden, counting, reset, syncs

__all__ = ["Counter", "SyncForbidden", "counting", "forbidding", "reset", "syncs"]


@contextmanager
def forbidding() -> Iterator[Counter]:
    with counting(forbid=True) as c:
        yield c
