"""PyTorch eager cell loop: torch.nn.LSTMCell / GRUCell / RNNCell called in a Python loop over time.

This is the fair "define-by-run with a Python time loop" comparison for tinygrad_rnn: the same
structure (one autograd graph node per op per step) executed by PyTorch's C++ autograd engine.
The input is split with ``unbind`` (one graph node whose backward stacks all T gradients at once),
not indexed per step, which would make the input gradient O(T²).
"""

from __future__ import annotations

import numpy as np

from ._torch_common import torch_available, torch_dtype
from .common import PARAM_NAMES, Config

NAME = "torch_cells"
LABEL = "PyTorch nn.*Cell in a Python loop"


def available() -> tuple[bool, str]:
    return torch_available()


class TorchCellsRunner:
    def __init__(self, cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type) -> None:
        import torch

        td = torch_dtype(dtype)
        I, H = cfg.input, cfg.hidden
        if cfg.cell == "lstm":
            cell = torch.nn.LSTMCell(I, H)
        elif cfg.cell == "gru":
            cell = torch.nn.GRUCell(I, H)
        else:
            cell = torch.nn.RNNCell(I, H, nonlinearity="tanh")
        cell = cell.to(td)
        # the cell's parameters are the layer's without the "_l0" suffix
        cell.load_state_dict({k[:-3]: torch.tensor(np.asarray(weights[k]), dtype=td) for k in PARAM_NAMES})
        self.torch, self.cell, self.cfg, self.td = torch, cell, cfg, td
        self.params = dict(cell.named_parameters())
        self.x = torch.tensor(np.asarray(x), dtype=td, requires_grad=True)
        self.loss = None

    def step(self) -> None:
        torch, cell = self.torch, self.cell
        for p in self.params.values():
            p.grad = None
        self.x.grad = None
        B, H = self.cfg.batch, self.cfg.hidden
        h = torch.zeros(B, H, dtype=self.td)
        outs = []
        if self.cfg.cell == "lstm":
            c = torch.zeros(B, H, dtype=self.td)
            for xt in self.x.unbind(0):
                h, c = cell(xt, (h, c))
                outs.append(h)
        else:
            for xt in self.x.unbind(0):
                h = cell(xt, h)
                outs.append(h)
        loss = torch.stack(outs).pow(2).mean()
        loss.backward()
        self.loss = loss

    def result(self) -> tuple[float, dict[str, np.ndarray]]:
        grads = {k: self.params[k[:-3]].grad.detach().numpy().copy() for k in PARAM_NAMES}
        grads["x"] = self.x.grad.detach().numpy().copy()
        return float(self.loss.item()), grads


def build(
    cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32
) -> TorchCellsRunner:
    return TorchCellsRunner(cfg, weights, x, dtype)
