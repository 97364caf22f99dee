r"""``StackedRNN``: deep recurrent networks, one ``nn.RNN``/``LSTM``/``GRU`` layer per level, with optional
residual (skip) connections between levels.

Level l (0-based) maps the sequence :math:`x^{(l)}` to :math:`h^{(l)} = \mathrm{layer}_l(x^{(l)})` of width
:math:`D H` (D = 2 when bidirectional: forward and reverse states concatenated). The next level reads

.. math::

    x^{(l+1)} = h^{(l)} + x^{(l)} \quad \text{(residual, when the widths match)}, \qquad
    x^{(l+1)} = h^{(l)} \quad \text{(otherwise)}

so with ``residual=True`` every level from the second on has a skip connection (its input and output are
both D·H wide), and the first level has one only when ``input_size == D * hidden_size``. The skip gives
the gradient an identity path around every recurrent level, which is what lets deep stacks train.
Padded steps (``lengths=``) stay zero in the output: the skip is masked like the recurrent output.

========================= ======================================================================
x                         ``(T, N, I)``
lengths                   optional N ints in [1, T] (see ``nn.RNN``)
out                       ``(T, N, D * H)``: the last level's (residual) output
h_n                       ``(num_layers * D, N, H)``, ordered as ``nn.RNN``'s: level-major, forward first
c_n (LSTM)                ``(num_layers * D, N, H)``; ``forward`` returns ``(out, (h_n, c_n))``
========================= ======================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..nn import functional as F
from ..nn.module import Module
from ..nn.rnn import GRU, LSTM, RNN
from ..op_functions import stack, where
from ..tensor import Tensor

_CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class StackedRNN(Module):
    r"""``num_layers`` single-level recurrent layers of one ``cell`` type ('rnn' | 'lstm' | 'gru'), optionally
    bidirectional, with residual connections :math:`x^{(l+1)} = \mathrm{layer}_l(x^{(l)}) + x^{(l)}` where
    the widths match (``residual=True``) and dropout between levels.

    ``forward(x, lengths=None) -> (out, h_n)`` (``(out, (h_n, c_n))`` for LSTM); shapes in the module
    docstring. ``self.layers[l]`` is the ``nn.RNN``/``LSTM``/``GRU`` of level l, registered as ``layer{l}``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 2,
        cell: str = "lstm",
        bidirectional: bool = False,
        residual: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"StackedRNN: cell must be one of {sorted(_CELLS)}, got {cell!r}")
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"StackedRNN: {what} must be a positive int, got {v!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"StackedRNN: dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers, self.cell = input_size, hidden_size, num_layers, cell
        self.bidirectional, self.residual, self.dropout = bool(bidirectional), bool(residual), float(dropout)
        D = 2 if bidirectional else 1
        self.output_size = D * hidden_size
        self.layers: list = []
        for layer in range(num_layers):
            mod = _CELLS[cell](input_size if layer == 0 else self.output_size, hidden_size, bidirectional=bidirectional)
            setattr(self, f"layer{layer}", mod)  # registers its parameters as layer{l}.weight_ih_l0, ...
            self.layers.append(mod)
        # which levels get a skip: only where input width == output width (an identity needs equal sizes)
        self.skip = [
            residual and (input_size if l == 0 else self.output_size) == self.output_size for l in range(num_layers)
        ]

    def __setattr__(self, name: str, value: Any) -> None:
        # a plain list of the layer modules is kept for indexing; Module registers the modules themselves
        object.__setattr__(self, name, value) if name == "layers" else super().__setattr__(name, value)

    def forward(self, x: Tensor, lengths: Any = None) -> tuple:
        if not isinstance(x, Tensor):
            raise TypeError(f"StackedRNN: input must be a Tensor, got {type(x).__name__}")
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"StackedRNN: expected input (T, N, input_size={self.input_size}), got shape {x.shape}")
        mask = None
        if lengths is not None:  # nn.RNN validates the lengths themselves; the mask keeps skips off padding
            lens = np.asarray(backend.to_numpy(lengths.array if isinstance(lengths, Tensor) else np.asarray(lengths)))
            if lens.ndim == 1 and lens.shape[0] == x.shape[1]:
                mask = backend.to_backend(lens[None, :, None] > np.arange(x.shape[0])[:, None, None])
        hs, cs = [], []
        for l, layer in enumerate(self.layers):
            out, state = layer(x, lengths=lengths)
            h, c = state if self.cell == "lstm" else (state, None)
            hs.extend(h.unbind(0))
            if c is not None:
                cs.extend(c.unbind(0))
            if self.skip[l]:
                out = out + (x if mask is None else where(mask, x, 0.0))  # identity path around the level
            if self.dropout and l < self.num_layers - 1:
                out = F.dropout(out, self.dropout, self.training)
            x = out
        h_n = stack(hs, axis=0)
        return (x, (h_n, stack(cs, axis=0))) if self.cell == "lstm" else (x, h_n)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, cell={self.cell!r}, "
            f"bidirectional={self.bidirectional}, residual={self.residual}, skips={self.skip}"
        )
