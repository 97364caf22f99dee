"""PyTorch's fused sequence layers (torch.nn.LSTM / GRU / RNN on CPU): the speed anchor."""

from __future__ import annotations

import numpy as np

from ._torch_common import torch_available, torch_dtype
from .common import PARAM_NAMES, Config

NAME = "torch_fused"
LABEL = "PyTorch nn.LSTM/GRU/RNN (fused)"


def available() -> tuple[bool, str]:
    return torch_available()


class TorchFusedRunner:
    def __init__(self, cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type) -> None:
        import torch

        td = torch_dtype(dtype)
        I, H = cfg.input, cfg.hidden
        if cfg.cell == "lstm":
            m = torch.nn.LSTM(I, H)
        elif cfg.cell == "gru":
            m = torch.nn.GRU(I, H)
        else:
            m = torch.nn.RNN(I, H, nonlinearity="tanh")
        m = m.to(td)
        m.load_state_dict({k: torch.tensor(np.asarray(weights[k]), dtype=td) for k in PARAM_NAMES})
        self.torch, self.m = torch, m
        self.params = dict(m.named_parameters())
        self.x = torch.tensor(np.asarray(x), dtype=td, requires_grad=True)
        self.loss = None

    def step(self) -> None:
        for p in self.params.values():  # zero_grad(set_to_none=True)
            p.grad = None
        self.x.grad = None
        out, _ = self.m(self.x)  # (T, B, H)
        loss = out.pow(2).mean()
        loss.backward()
        self.loss = loss

    def result(self) -> tuple[float, dict[str, np.ndarray]]:
        grads = {k: self.params[k].grad.detach().numpy().copy() for k in PARAM_NAMES}
        grads["x"] = self.x.grad.detach().numpy().copy()
        return float(self.loss.item()), grads


def build(
    cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32
) -> TorchFusedRunner:
    return TorchFusedRunner(cfg, weights, x, dtype)
