"""tinygrad_rnn's sequence layers (nn.LSTM / nn.GRU / nn.RNN) as a user gets them: the implementation
under test. The weights are loaded with ``load_state_dict`` (PyTorch names and layout).

By default the layers run *fused* (one tape node per layer and direction with a hand-derived BPTT,
``ops/recurrent.py``) unless ``TINYGRAD_RNN_FUSED=0``; ``tinygrad_composed.py`` times the composed
path (``fused=False``: the cell's ops recorded on the tape at every step) next to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import GRAD_NAMES, PARAM_NAMES, Config

NAME = "tinygrad_rnn"
LABEL = "tinygrad_rnn nn.LSTM/GRU/RNN (default)"


def _mode(m: Any) -> str:
    use = getattr(m, "_use_fused", None)
    return "unknown" if use is None else ("fused" if use() else "composed")


def available() -> tuple[bool, str]:
    try:
        import tinygrad_rnn as tg
        from tinygrad_rnn import nn
    except ImportError as e:  # pragma: no cover - the package is the repo itself
        return False, f"tinygrad_rnn not importable: {e}"
    return True, (
        f"tinygrad_rnn {getattr(tg, '__version__', '?')} (backend {tg.backend.name}, "
        f"default mode {_mode(nn.LSTM(1, 1))})"
    )


class TinygradRunner:
    """One tinygrad_rnn layer with loaded weights; ``fused=None`` keeps the library's default mode."""

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
        kw = {} if fused is None else {"fused": fused}
        if cfg.cell == "lstm":
            m = nn.LSTM(I, H, **kw)
        elif cfg.cell == "gru":
            m = nn.GRU(I, H, **kw)  # reset_after=True: PyTorch's GRU
        else:
            m = nn.RNN(I, H, nonlinearity="tanh", **kw)
        m.to(dt)
        m.load_state_dict({k: np.asarray(weights[k], dtype=dt) for k in PARAM_NAMES})
        self.m, self.mode = m, _mode(m)
        self.params = dict(m.named_parameters())
        self.x = tg.Tensor(np.ascontiguousarray(x, dtype=dt), requires_grad=True)
        self.loss = None

    def step(self) -> None:
        for p in self.params.values():  # a fresh step, as after optimizer.zero_grad()
            p.grad = None
        self.x.grad = None
        out, _ = self.m(self.x)  # (T, B, H), time-major
        loss = (out * out).mean()
        loss.backward()
        self.loss = loss

    def result(self) -> tuple[float, dict[str, np.ndarray]]:
        grads = {k: np.asarray(self.params[k].grad.numpy()) for k in PARAM_NAMES}
        grads["x"] = np.asarray(self.x.grad.numpy())
        assert set(grads) == set(GRAD_NAMES)
        return float(self.loss.numpy()), grads


def build(
    cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32
) -> TinygradRunner:
    return TinygradRunner(cfg, weights, x, dtype)
