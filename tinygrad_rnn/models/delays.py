r"""Recurrent connections with several time delays: gradients reach far back in O(T/d) steps.

The notes' remedy for long-term dependencies "multiple delay paths": besides the usual one-step
recurrence, each hidden unit also receives the state from d steps ago, for a few delays d:

.. math::

    a_t = \tanh\Big(U x_t + \sum_{d \in D} W_d\, a_{t-d} + b\Big), \qquad a_{t-d} = 0 \text{ for } t-d < 1

A path through the delay-d arcs covers T steps in T/d hops, so the product of Jacobians that vanishes or
explodes along a dependency of length T has only O(T/d) factors instead of O(T). With ``delays=(1,)`` the
layer is an Elman RNN (without the second bias that ``nn.RNN`` carries).

========================= ======================================================================
x                         ``(T, N, input_size)`` inputs
U / b                     ``in_proj.weight (H, I)`` / ``in_proj.bias (H,)``
W_d                       ``weight_hh_d{d} (H, H)``, one per delay, in the order given
returns                   ``(T, N, H)``: :math:`a_1 … a_T`
========================= ======================================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..nn import init
from ..nn.layers import Linear
from ..nn.module import Module
from ..op_functions import stack
from ..tape import scope
from ..tensor import Tensor


class MultiDelayRNN(Module):
    r""":math:`a_t = \tanh(U x_t + \sum_d W_d a_{t-d} + b)` for the delays ``d`` in ``delays``.

    ``forward(x) -> (T, N, H)``; see the module docstring for shapes and names. The recurrent weights are
    drawn from U(-k, k) with k = 1/√(H·len(delays)), so the summed recurrent input has about the scale of one
    ``nn.RNN`` recurrence whatever the number of delays.
    """

    def __init__(self, input_size: int, hidden_size: int, delays: Sequence[int] = (1, 4, 16)) -> None:
        super().__init__()
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"MultiDelayRNN: {what} must be a positive int, got {v!r}")
        try:
            ds = tuple(delays)
        except TypeError:
            raise TypeError(f"MultiDelayRNN: delays must be a sequence of positive ints, got {delays!r}") from None
        if not ds:
            raise ValueError("MultiDelayRNN: delays must not be empty (give at least one delay, e.g. (1,))")
        for d in ds:
            if not isinstance(d, int) or isinstance(d, bool) or d <= 0:
                raise ValueError(f"MultiDelayRNN: delays must be positive ints, got {d!r} in {ds}")
        if len(set(ds)) != len(ds):
            raise ValueError(f"MultiDelayRNN: delays must be unique, got {ds}")
        self.input_size, self.hidden_size, self.delays = input_size, hidden_size, ds
        self.in_proj = Linear(input_size, hidden_size)  # U, b
        k = 1.0 / math.sqrt(hidden_size * len(ds))
        for d in ds:
            setattr(self, f"weight_hh_d{d}", init.uniform((hidden_size, hidden_size), k))

    def delay_weight(self, d: int) -> Tensor:
        """W_d, ``(H, H)``."""
        if d not in self.delays:
            raise KeyError(f"MultiDelayRNN: no delay {d!r}; delays are {self.delays}")
        return getattr(self, f"weight_hh_d{d}")

    def forward(self, x: Any) -> Tensor:
        """Hidden states :math:`a_1 … a_T` as ``(T, N, H)``."""
        if not isinstance(x, Tensor):
            raise TypeError(f"MultiDelayRNN: input must be a Tensor, got {type(x).__name__}")
        if x.ndim != 3 or x.shape[-1] != self.input_size or x.shape[0] == 0:
            raise ValueError(
                f"MultiDelayRNN: expected input (T, N, input_size={self.input_size}) with T >= 1, got shape {x.shape}"
            )
        T, N, I = x.shape
        H = self.hidden_size
        with scope("MultiDelayRNN"):
            # U x_t + b for all steps in one matmul: the input part never depends on the recurrence
            xws = self.in_proj(x.reshape(T * N, I)).reshape(T, N, H).unbind(0)
            w_t = {d: self.delay_weight(d).T for d in self.delays}  # transpose once, not once per step
            outs: list = []
            for t in range(T):
                with scope(f"t={t + 1}"):
                    pre = xws[t]
                    for d in self.delays:
                        if t - d >= 0:  # a_{t-d} = 0 before the sequence starts: the term vanishes
                            pre = pre + outs[t - d] @ w_t[d]
                    outs.append(pre.tanh())
            return stack(outs, axis=0)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}, delays={self.delays}"


__all__ = ["MultiDelayRNN"]
