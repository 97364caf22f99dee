"""Which random stream a sampler draws from for one epoch."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import backend
from ...generator import Generator


def check_generator(generator: Any, who: str) -> None:
    """Fail at construction, not at the first epoch, on a ``generator=`` that cannot be drawn from."""
    if generator is not None and not isinstance(generator, (Generator, np.random.Generator)):
        raise TypeError(
            f"{who}: generator must be a tinygrad_rnn.Generator, a numpy.random.Generator or None, "
            f"got {type(generator).__name__}"
        )


def epoch_rng(generator: Any) -> np.random.Generator:
    """The NumPy generator for one pass.

    A given generator is drawn from directly, so its state carries over between epochs. Without one,
    a fresh stream is seeded from one draw of the library's global host generator (as PyTorch's
    ``RandomSampler`` seeds from its global one): ``tg.manual_seed`` makes the order repeatable, and an
    epoch costs the global stream one number whatever the dataset size, so model initialisation or
    dropout after it do not shift with the data.
    """
    if generator is None:
        return np.random.Generator(np.random.PCG64(int(backend.host_rng().integers(1 << 63))))
    if isinstance(generator, Generator):
        return generator.numpy()
    return generator
