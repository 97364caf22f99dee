"""PyTorch's fused sequence layers (torch.nn.LSTM / GRU / RNN on CPU): the speed anchor.

Stacked and bidirectional configs use the layer's own ``num_layers`` / ``bidirectional``; with
lengths, every step packs the padded batch (``pack_padded_sequence(..., enforce_sorted=False)``, as a
user with unsorted lengths does), runs the layer on the packed sequence and pads the output back to T
(``pad_packed_sequence(..., total_length=T)``, zeros at the padded positions)."""

from __future__ import annotations

import numpy as np

from ._torch_common import torch_available, torch_dtype
from .common import Config, loss_scale, make_lengths, param_names

NAME = "torch_fused"
LABEL = "PyTorch nn.LSTM/GRU/RNN (fused)"


def available() -> tuple[bool, str]:
    return torch_available()


def supports(cfg: Config) -> tuple[bool, str]:
    return True, ""


class TorchFusedRunner:
    def __init__(self, cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type) -> None:
        import torch

        td = torch_dtype(dtype)
        I, H = cfg.input, cfg.hidden
        kw = {"num_layers": cfg.layers, "bidirectional": cfg.bidirectional}
        if cfg.cell == "lstm":
            m = torch.nn.LSTM(I, H, **kw)
        elif cfg.cell == "gru":
            m = torch.nn.GRU(I, H, **kw)
        else:
            m = torch.nn.RNN(I, H, nonlinearity="tanh", **kw)
        m = m.to(td)
        self.names = param_names(cfg)
        m.load_state_dict({k: torch.tensor(np.asarray(weights[k]), dtype=td) for k in self.names})
        self.torch, self.m, self.T = torch, m, cfg.T
        self.params = dict(m.named_parameters())
        self.x = torch.tensor(np.asarray(x), dtype=td, requires_grad=True)
        lens = make_lengths(cfg)
        self.lengths = None if lens is None else torch.from_numpy(lens)  # int64 on the CPU, as packing wants
        self.scale = loss_scale(cfg)
        self.loss = None

    def step(self) -> None:
        for p in self.params.values():  # zero_grad(set_to_none=True)
            p.grad = None
        self.x.grad = None
        if self.lengths is None:
            out, _ = self.m(self.x)  # (T, B, D*H)
            loss = out.pow(2).mean()
        else:
            rnn_utils = self.torch.nn.utils.rnn
            packed = rnn_utils.pack_padded_sequence(self.x, self.lengths, enforce_sorted=False)
            out, _ = rnn_utils.pad_packed_sequence(self.m(packed)[0], total_length=self.T)
            loss = out.pow(2).sum() * self.scale
        loss.backward()
        self.loss = loss

    def result(self) -> tuple[float, dict[str, np.ndarray]]:
        grads = {k: self.params[k].grad.detach().numpy().copy() for k in self.names}
        grads["x"] = self.x.grad.detach().numpy().copy()
        return float(self.loss.item()), grads


def build(
    cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32
) -> TorchFusedRunner:
    return TorchFusedRunner(cfg, weights, x, dtype)
