"""Ops that copy elements into a new arrangement without arithmetic: flip, repeat (tile), clone and
contiguous. Each derivative routes the gradient back to where the element came from."""

from __future__ import annotations

from ..backend import xp
from ..tape import Function
from . import dual


class Flip(Function):
    """Reverse the order along ``axes``; flipping is its own adjoint."""

    def forward(self, x, axes):
        self.axes = axes
        return xp.flip(x, axis=axes).copy()  # NumPy's flip is a view; PyTorch's (and ours) a copy

    def backward(self, g, x):
        return Flip.apply(g, axes=self.axes) if dual.is_tensor(g) else xp.flip(g, axis=self.axes)


class Repeat(Function):
    """PyTorch's ``repeat`` (NumPy's ``tile``): ``reps[i]`` copies along dimension i, with leading new
    dimensions when ``reps`` is longer than ``x.ndim``. The derivative sums the copies: ``g`` reshaped to
    ``(r0, n0, r1, n1, ...)`` and summed over every ``r``."""

    def forward(self, x, reps):
        self.in_shape = x.shape
        lead = len(reps) - x.ndim
        shape = (1,) * lead + tuple(x.shape)
        self.split: tuple = tuple(v for r, n in zip(reps, shape) for v in (r, n))
        self.copies = tuple(range(0, 2 * len(reps), 2))
        return xp.tile(x, reps)

    def backward(self, g, x):
        return g.reshape(self.split).sum(axis=self.copies).reshape(self.in_shape)


class Clone(Function):
    """A copy with its own memory; the derivative is the identity."""

    reads_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, g, x):
        return g


class Contiguous(Function):
    """A C-ordered copy of a strided array (``x.contiguous()`` when it is not); identity derivative."""

    def forward(self, x):
        return xp.ascontiguousarray(x)

    def backward(self, g, x):
        return g
