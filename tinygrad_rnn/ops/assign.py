"""The out-of-place forms of assignment that in-place ops are recorded as (see tinygrad_rnn/inplace.py).

``Assign`` replaces every value (``copy_``, ``fill_``, basic ``t[i] = v`` on the region), ``IndexAssign``
the values at an advanced index (``t[mask] = v``), and ``ViewAssign`` writes a new region into the
memory of the tensor it is a view of. None of them reads values in backward: the old values get no
gradient where they were overwritten, the new ones get the gradient of where they went.
"""

from __future__ import annotations

from .. import views
from ..backend import xp
from ..tape import Function
from . import dual


def _broadcast(op: str, v, shape):
    try:
        return xp.broadcast_to(v, shape)
    except ValueError:
        raise ValueError(
            f"{op}: a value of shape {tuple(v.shape)} cannot be broadcast to the destination's shape {tuple(shape)}"
        ) from None


class Assign(Function):
    r"""``v`` broadcast to ``x``'s shape.

    .. math:: \partial/\partial x = 0, \qquad \partial/\partial v = \textstyle\sum \text{ over the copies}
    """

    reads_inputs = False

    def forward(self, x, v, op="copy_"):
        self.v_shape = v.shape
        return _broadcast(op, v, x.shape).copy()

    def backward(self, g, x, v):
        # zeros, not None, for the overwritten values: as in PyTorch, x.grad is a zero tensor, not unset
        gx = dual.mask(g, xp.zeros((), dtype=bool)) if self.needs_input_grad[0] else None
        gv = dual.unbroadcast(g, self.v_shape) if self.needs_input_grad[1] else None
        return gx, gv


class IndexAssign(Function):
    """``x`` with ``x[index] = v`` (an advanced index: integer arrays or a boolean mask)."""

    reads_inputs = False

    def forward(self, x, v, index):
        self.index, self.v_shape = index, v.shape
        out = x.copy()
        region = out[index]
        while v.ndim > region.ndim and v.shape[0] == 1:  # leading 1s of the value are dropped, as in PyTorch
            v = v.reshape(v.shape[1:])
        self.fit_shape = v.shape
        out[index] = _broadcast("setitem", v, region.shape)
        keep = xp.ones(x.shape, dtype=bool)
        keep[index] = False
        self.keep = keep
        return out

    def backward(self, g, x, v):
        gx = dual.mask(g, self.keep) if self.needs_input_grad[0] else None
        gv = dual.unbroadcast(g[self.index], self.fit_shape).reshape(self.v_shape) if self.needs_input_grad[1] else None
        return gx, gv


class ViewAssign(Function):
    """Write ``v`` into the region of ``base`` that ``steps`` select (views.replay), in ``base``'s own memory.

    The output *is* the base's array, now holding the new region; the in-place op that records this
    node gives the base this node as its new history.
    """

    reads_inputs = False

    def forward(self, base, v, steps):
        self.steps = steps
        region = views.replay(steps, base)
        region[...] = v
        return base

    def backward(self, g, base, v):
        keep = xp.ones(base.shape, dtype=bool)
        views.replay(self.steps, keep)[...] = False  # the steps give views, so this writes into keep
        gb = dual.mask(g, keep) if self.needs_input_grad[0] else None
        gv = views.replay(self.steps, g) if self.needs_input_grad[1] else None
        return gb, gv
