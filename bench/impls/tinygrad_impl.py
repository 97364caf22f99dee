"""tinygrad_rnn's sequence layers (nn.LSTM / nn.GRU / nn.RNN) as a user gets them: the implementation
under test. The weights are loaded with ``load_state_dict`` (PyTorch names and layout).

By default the layers run *fused* (one tape node per layer and direction with a hand-derived BPTT)
unless ``TINYGRAD_RNN_FUSED=0``, on the library's default recurrent kernels (``TINYGRAD_RNN_KERNELS``
is removed from this row's worker environment, so ``auto``: the compiled numba kernels when numba is
importable). ``tinygrad_numpy_kernels.py`` runs the same layers on the NumPy kernels and
``tinygrad_composed.py`` the composed path (``fused=False``: the cell's ops recorded on the tape at
every step). Stacked, bidirectional layers with ``lengths=`` run as the layer's own arguments.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .common import Config, loss_scale, make_lengths, param_names

NAME = "tinygrad_rnn"
LABEL = "tinygrad_rnn nn.LSTM/GRU/RNN (default kernels)"
# the worker's environment before tinygrad_rnn is imported (None: removed), so the row is the default
ENV: dict[str, str | None] = {"TINYGRAD_RNN_KERNELS": None}


def _mode(m: Any) -> str:
    use = getattr(m, "_use_fused", None)
    return "unknown" if use is None else ("fused" if use() else "composed")


def kernel_info() -> dict | None:
    """``tinygrad_rnn.info()`` as plain JSON (None for a version of the package without it)."""
    import tinygrad_rnn as tg

    info = getattr(tg, "info", None)
    if info is None:
        return None
    try:
        return json.loads(json.dumps(info(), default=str))
    except Exception as e:  # the report must not fail on the library's self-description
        return {"error": f"{type(e).__name__}: {e}"}


def available() -> tuple[bool, str]:
    try:
        import tinygrad_rnn as tg
        from tinygrad_rnn import nn
    except ImportError as e:  # pragma: no cover - the package is the repo itself
        return False, f"tinygrad_rnn not importable: {e}"
    kernels = (kernel_info() or {}).get("kernels", "?")
    return True, (
        f"tinygrad_rnn {getattr(tg, '__version__', '?')} (backend {tg.backend.name}, "
        f"default mode {_mode(nn.LSTM(1, 1))}, kernels {kernels})"
    )


def supports(cfg: Config) -> tuple[bool, str]:
    return True, ""


class TinygradRunner:
    """One tinygrad_rnn layer stack with loaded weights; ``fused=None`` keeps the library's default."""

    def __init__(
        self,
        cfg: Config,
        weights: dict[str, np.ndarray],
        x: np.ndarray,
        dtype: np.dtype | type,
        fused: bool | None = None,
    ) -> None:
        import tinygrad_rnn as tg
        from tinygrad_rnn import nn

        tg.runtime.tune_process()  # a bench worker owns its process, as the CLI does
        dt = np.dtype(dtype)
        I, H = cfg.input, cfg.hidden
        kw: dict[str, Any] = {} if fused is None else {"fused": fused}
        if not cfg.simple:
            kw.update(num_layers=cfg.layers, bidirectional=cfg.bidirectional)
        if cfg.cell == "lstm":
            m = nn.LSTM(I, H, **kw)
        elif cfg.cell == "gru":
            m = nn.GRU(I, H, **kw)  # reset_after=True: PyTorch's GRU
        else:
            m = nn.RNN(I, H, nonlinearity="tanh", **kw)
        m.to(dt)
        self.names = param_names(cfg)
        m.load_state_dict({k: np.asarray(weights[k], dtype=dt) for k in self.names})
        self.m, self.mode, self.cfg = m, _mode(m), cfg
        self.params = dict(m.named_parameters())
        self.x = tg.Tensor(np.ascontiguousarray(x, dtype=dt), requires_grad=True)
        self.lengths = make_lengths(cfg)
        self.scale = loss_scale(cfg)
        self.loss = None

    def step(self) -> None:
        for p in self.params.values():  # a fresh step, as after optimizer.zero_grad()
            p.grad = None
        self.x.grad = None
        if self.lengths is None:
            out, _ = self.m(self.x)  # (T, B, D*H), time-major
            loss = (out * out).mean()
        else:  # padded outputs are zero, so the sum over all positions is the sum over valid ones
            out, _ = self.m(self.x, lengths=self.lengths)
            loss = (out * out).sum() * self.scale
        loss.backward()
        self.loss = loss

    def result(self) -> tuple[float, dict[str, np.ndarray]]:
        grads = {k: np.asarray(self.params[k].grad.numpy()) for k in self.names}
        grads["x"] = np.asarray(self.x.grad.numpy())
        return float(self.loss.numpy()), grads


def build(
    cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32
) -> TinygradRunner:
    return TinygradRunner(cfg, weights, x, dtype)
