"""Ctrl-C in the training apps: :func:`defer_sigint` (from :mod:`tinygrad_rnn.sigint`) around the optimizer
update and checkpoint writes, and the test-only pause hooks that let a real SIGINT land inside them."""

from __future__ import annotations

import os
import time

from ..sigint import defer_sigint

__all__ = ["defer_sigint", "pause_for_tests"]


def pause_for_tests(section: str) -> None:
    """Test-only hook: sleep ``$TINYGRAD_RNN_TEST_PAUSE_<SECTION>`` seconds; a no-op when it is unset.

    The interrupt tests (tests/cli/test_interrupt_resume.py) set it so that a real SIGINT sent from outside
    lands inside a deferred section (``COMMIT``: between the optimizer update and the step bookkeeping;
    ``SAVE``: before the checkpoint file is written) instead of in the much longer forward/backward pass,
    or, with ``WINDOW``, surely inside that pass (after the backward, before the update).
    """
    seconds = os.environ.get(f"TINYGRAD_RNN_TEST_PAUSE_{section.upper()}")
    if seconds:
        time.sleep(float(seconds))
