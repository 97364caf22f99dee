"""The recurrent cells' step definitions, written with the framework's ops: the readable math of one step,
and :func:`unroll`, the one composed time loop.

Below :mod:`tinygrad_rnn.nn` (its cells and sequence layers call them) and beside the ops: the fused
sequence ops of :mod:`tinygrad_rnn.ops.recurrent` use them as their composed definition (for
``create_graph=True`` and for drawings), so they cannot live in ``nn`` (ops never import nn).

Each takes the input projection ``xw = x W_ihᵀ + b_ih`` already computed; notation follows the notes:
a_t is the hidden state (PyTorch's h_t), w^(a) the recurrent weights (``weight_hh``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .op_functions import split, stack, where
from .tape import scope
from .tensor import Tensor


def unroll(step: Callable[[Tensor, tuple], tuple], inputs: Sequence[Tensor], state: tuple, reverse: bool = False,
           mask: Any = None) -> tuple[Tensor, tuple]:  # fmt: skip
    """Run ``step(xw_t, state) -> new state`` over the T input projections, last first if ``reverse``;
    return (the outputs h_t stacked in time order, (T, N, H), and the final state). Each step is drawn
    as the scope ``t=<t+1>`` (1-based, as in the notes). ``mask`` (indexable by t, (N, 1) booleans) is
    False once a sequence has ended: that step keeps the state and outputs 0."""
    T = len(inputs)
    outs: list = [None] * T
    for t in range(T - 1, -1, -1) if reverse else range(T):
        with scope(f"t={t + 1}"):
            new = step(inputs[t], state)
            if mask is None:
                state, outs[t] = new, new[0]
            else:
                state = tuple(where(mask[t], a, b) for a, b in zip(new, state))
                outs[t] = where(mask[t], new[0], 0.0)
    return stack(outs, axis=0), state


def projection_bias(cell: str, b_ih: Tensor, b_hh: Tensor) -> Tensor:
    """The bias that joins x W_ihᵀ before the step: both biases, except for the GRU, whose b_hh stays
    inside the step because the reset gate scales its n part (r ⊙ (W_hn h + b_hn))."""
    return b_ih if cell == "gru" else b_ih + b_hh


def rnn_step(xw: Tensor, h: Tensor, w_hh_t: Tensor, act: Callable[[Tensor], Tensor]) -> Tensor:
    """a_t = g(xw_t + a_{t-1} w^(a)ᵀ), with the biases already inside ``xw``."""
    return act(xw + h @ w_hh_t)


def lstm_step(xw: Tensor, h: Tensor, c: Tensor, w_hh_t: Tensor, w_hr_t: Tensor | None = None) -> tuple:
    """One LSTM step on gates in PyTorch's order (i, f, g, o); biases already inside ``xw``."""
    i, f, g, o = split(xw + h @ w_hh_t, c.shape[-1], axis=-1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    return (h if w_hr_t is None else h @ w_hr_t), c


def gru_step(
    xw: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None, reset_after: bool = True, w_hn_t: Tensor | None = None
) -> Tensor:
    """One GRU step on gates in PyTorch's order (r, z, n); ``xw`` holds x W_ihᵀ + b_ih.

    ``reset_after``: ``w_hh_t`` is the whole ``weight_hhᵀ``. Otherwise it is only the r,z part and
    ``w_hn_t`` the n part, since the reset gate then multiplies the state *before* that matmul.
    """
    H = h.shape[-1]
    xr, xz, xn = split(xw, H, axis=-1)
    hh = h @ w_hh_t
    if b_hh is not None:
        hh = hh + (b_hh if b_hh.shape[-1] == hh.shape[-1] else b_hh[: hh.shape[-1]])
    if reset_after:
        hr, hz, hn = split(hh, H, axis=-1)
    else:
        hr, hz = split(hh, H, axis=-1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    if reset_after:
        n = (xn + r * hn).tanh()
    else:
        hn = (r * h) @ w_hn_t
        n = (xn + (hn if b_hh is None else hn + b_hh[2 * H :])).tanh()
    return n + z * (h - n)  # = (1 - z) n + z h


def activation(nonlinearity: str, where: str) -> Callable[[Tensor], Tensor]:
    if nonlinearity == "tanh":
        return Tensor.tanh
    if nonlinearity == "relu":
        return Tensor.relu
    raise ValueError(f"{where}: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
