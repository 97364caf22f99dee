"""PyTorch eager cell loop: torch.nn.LSTMCell / GRUCell / RNNCell called in a Python loop over time.

This is the fair "define-by-run with a Python time loop" comparison for tinygrad_rnn: the same
structure (one autograd graph node per op per step) executed by PyTorch's C++ autograd engine.
The input is split with ``unbind`` (one graph node whose backward stacks all T gradients at once),
not indexed per step, which would make the input gradient O(T²).

Stacked / bidirectional configs loop over layers and directions, one cell each (the reverse direction
walks t = T-1 .. 0); with lengths, a step's new state is kept only where t < lengths[b]
(``torch.where``: the reverse direction then starts from the zero state at each sequence's own end)
and the padded outputs are zero, which is what the fused layer on a packed sequence computes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._torch_common import torch_available, torch_dtype
from .common import PARAM_NAMES, Config, layer_input_size, loss_scale, valid_mask

NAME = "torch_cells"
LABEL = "PyTorch nn.*Cell in a Python loop"


def available() -> tuple[bool, str]:
    return torch_available()


def supports(cfg: Config) -> tuple[bool, str]:
    return True, ""


def _make_cell(torch: Any, cell: str, I: int, H: int) -> Any:
    if cell == "lstm":
        return torch.nn.LSTMCell(I, H)
    if cell == "gru":
        return torch.nn.GRUCell(I, H)
    return torch.nn.RNNCell(I, H, nonlinearity="tanh")


class TorchCellsRunner:
    def __init__(self, cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type) -> None:
        import torch

        td = torch_dtype(dtype)
        I, H = cfg.input, cfg.hidden
        cell = _make_cell(torch, cfg.cell, I, H).to(td)
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


class TorchStackedCellsRunner:
    """Cells of every layer and direction in Python loops over time, masked by the lengths."""

    def __init__(self, cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type) -> None:
        import torch

        td = torch_dtype(dtype)
        self.sfxs = [[f"_l{k}{d}" for d in ("", "_reverse")[: cfg.directions]] for k in range(cfg.layers)]
        self.cells = {}
        for k, layer in enumerate(self.sfxs):
            for sfx in layer:
                cell = _make_cell(torch, cfg.cell, layer_input_size(cfg, k), cfg.hidden).to(td)
                own = {
                    w: torch.tensor(np.asarray(weights[w + sfx]), dtype=td)
                    for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                }
                cell.load_state_dict(own)
                self.cells[sfx] = cell
        self.torch, self.cfg, self.td = torch, cfg, td
        self.x = torch.tensor(np.asarray(x), dtype=td, requires_grad=True)
        self.valid = torch.from_numpy(valid_mask(cfg)[:, :, None]) if cfg.with_lengths else None  # (T, B, 1)
        self.scale = loss_scale(cfg)
        self.loss = None

    def _direction(self, cell: Any, inputs: list, reverse: bool) -> list:
        torch, cfg = self.torch, self.cfg
        h = torch.zeros(cfg.batch, cfg.hidden, dtype=self.td)
        c = torch.zeros_like(h) if cfg.cell == "lstm" else None
        outs: list = [None] * cfg.T
        for t in range(cfg.T - 1, -1, -1) if reverse else range(cfg.T):
            if c is not None:
                h_new, c_new = cell(inputs[t], (h, c))
            else:
                h_new = cell(inputs[t], h)
            if self.valid is None:
                h, c = h_new, (c_new if c is not None else None)
                outs[t] = h
                continue
            m = self.valid[t]
            outs[t] = h_new * m  # exact: m is 0 or 1
            h = torch.where(m, h_new, h)
            if c is not None:
                c = torch.where(m, c_new, c)
        return outs

    def step(self) -> None:
        for cell in self.cells.values():
            cell.zero_grad(set_to_none=True)
        self.x.grad = None
        inputs = list(self.x.unbind(0))
        for layer in self.sfxs:
            per_dir = [self._direction(self.cells[sfx], inputs, sfx.endswith("_reverse")) for sfx in layer]
            inputs = per_dir[0] if len(per_dir) == 1 else [self.torch.cat(hs, dim=1) for hs in zip(*per_dir)]
        loss = self.torch.stack(inputs).pow(2).sum() * self.scale
        loss.backward()
        self.loss = loss

    def result(self) -> tuple[float, dict[str, np.ndarray]]:
        grads = {}
        for sfx, cell in self.cells.items():
            for w, p in cell.named_parameters():
                grads[w + sfx] = p.grad.detach().numpy().copy()
        grads["x"] = self.x.grad.detach().numpy().copy()
        return float(self.loss.item()), grads


def build(
    cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32
) -> TorchCellsRunner | TorchStackedCellsRunner:
    if cfg.simple:  # the one-layer case keeps its own runner (bench/gpu.py moves its cell to the GPU)
        return TorchCellsRunner(cfg, weights, x, dtype)
    return TorchStackedCellsRunner(cfg, weights, x, dtype)
