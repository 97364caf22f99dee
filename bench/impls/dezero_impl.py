"""DeZero (the define-by-run teaching framework of "Deep Learning from Scratch 3"), as an anchor: a
tape-based NumPy framework in pure Python, like tinygrad_rnn.

LSTM and RNN use DeZero's own layers (``dezero.layers.LSTM`` / ``RNN``: one ``Linear`` per gate, so 8
matmuls per LSTM step, and the first step skips the h_0 = 0 product). DeZero has no GRU, so the GRU is
composed from DeZero's ``Linear`` layers and functions in the same per-gate style. The input is a list
of T per-step Variables (so the input gradient costs O(T), not O(T²) as slicing one Variable would).
Optional: reported as absent when ``import dezero`` fails (note that dezero 0.0.13 imports matplotlib,
and predates NumPy 2: ``_numpy2_compat`` restores the ``np.int`` alias and NumPy 1's float32 scalar
arithmetic inside its worker process).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import PARAM_NAMES, Config

NAME = "dezero"
LABEL = "DeZero layers (pure-Python tape)"


def _numpy2_compat() -> None:
    """Run the unmodified dezero 0.0.13 under NumPy 2 as it ran under NumPy 1.

    * It uses ``np.int`` as a default argument at import time (transforms.py); NumPy 2 removed that
      alias of ``int``, so it is restored (nothing on the timed path uses it).
    * It turns Python numbers into 0-d arrays (``as_array``: ``1 - y*y`` in tanh's backward, ...). Under
      NumPy 1 a 0-d int64/float64 array did not upcast a float32 array (value-based casting); under
      NumPy 2 it does, and every gradient silently became float64. This worker times float32 only, so
      Python numbers become float32 0-d arrays: the float32 arithmetic DeZero did under NumPy 1.
    """
    if "int" not in np.__dict__:
        np.int = int  # type: ignore[attr-defined]
    if int(np.__version__.split(".")[0]) < 2:
        return
    import dezero.core as core
    import dezero.functions as functions

    if getattr(core.as_array, "_numpy1_scalars", False):
        return
    original = core.as_array

    def as_array(x: Any, array_module: Any = np) -> Any:
        if type(x) in (int, float):
            return array_module.array(x, dtype=np.float32)
        return original(x, array_module)

    as_array._numpy1_scalars = True  # type: ignore[attr-defined]
    core.as_array = functions.as_array = as_array


def available() -> tuple[bool, str]:
    try:
        _numpy2_compat()
        import dezero  # noqa: F401
    except Exception as e:  # ImportError, or a broken optional dependency failing inside dezero's import
        return False, f"dezero not importable ({type(e).__name__}: {e})"
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("dezero")
    except PackageNotFoundError:
        v = "?"
    return True, f"dezero {v}"


def _gru_layer(I: int, H: int, dt: np.dtype) -> Any:
    import dezero.functions as F
    import dezero.layers as L
    from dezero import Variable

    class GRU(L.Layer):
        """GRU (PyTorch's reset-after form) from DeZero Linear layers, one per gate and input."""

        def __init__(self) -> None:
            super().__init__()
            for g in "rzn":
                setattr(self, f"x2{g}", L.Linear(H, in_size=I, dtype=dt))
                setattr(self, f"h2{g}", L.Linear(H, in_size=H, dtype=dt))
            self.h = None

        def reset_state(self) -> None:
            self.h = None

        def forward(self, x: Any) -> Any:
            h = self.h if self.h is not None else Variable(np.zeros((x.shape[0], H), dtype=dt))
            r = F.sigmoid(self.x2r(x) + self.h2r(h))
            z = F.sigmoid(self.x2z(x) + self.h2z(h))
            n = F.tanh(self.x2n(x) + r * self.h2n(h))
            self.h = n + z * (h - n)
            return self.h

    return GRU()


class DezeroRunner:
    def __init__(self, cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type) -> None:
        import dezero.layers as L
        from dezero import Variable

        dt = np.dtype(dtype)
        I, H = cfg.input, cfg.hidden
        W_ih, W_hh, b_ih, b_hh = (np.asarray(weights[k], dtype=dt) for k in PARAM_NAMES)
        sl = lambda k: slice(k * H, (k + 1) * H)  # noqa: E731
        if cfg.cell == "lstm":
            layer = L.LSTM(H, in_size=I)
            self.gates = ("i", "f", "u", "o")  # DeZero's u is PyTorch's g; same order as PyTorch
        elif cfg.cell == "gru":
            layer = _gru_layer(I, H, dt)
            self.gates = ("r", "z", "n")
        else:
            layer = L.RNN(H, in_size=I)
            self.gates = ("h",)
        for k, g in enumerate(self.gates):
            xl, hl = getattr(layer, f"x2{g}"), getattr(layer, f"h2{g}")
            xl.W.data = np.ascontiguousarray(W_ih[sl(k)].T)  # DeZero's Linear computes x @ W, W (in, out)
            hl.W.data = np.ascontiguousarray(W_hh[sl(k)].T)
            if cfg.cell == "gru":
                xl.b.data, hl.b.data = b_ih[sl(k)].copy(), b_hh[sl(k)].copy()
            else:  # h2* has no bias: both biases go to x2*
                xl.b.data = b_ih[sl(k)] + b_hh[sl(k)]
        self.layer, self.cfg = layer, cfg
        self.xs = [Variable(np.ascontiguousarray(x[t], dtype=dt)) for t in range(cfg.T)]
        # a 0-d array of the right dtype: a Python float would make DeZero upcast the loss to float64
        self.inv_n = np.array(1.0 / (cfg.T * cfg.batch * cfg.hidden), dtype=dt)
        self.loss: Any = None

    def step(self) -> None:
        import dezero.functions as F

        layer = self.layer
        layer.cleargrads()
        layer.reset_state()
        for v in self.xs:
            v.cleargrad()
        total = None
        for v in self.xs:
            h = layer(v)
            s = F.sum(h * h)
            total = s if total is None else total + s
        loss = total * self.inv_n
        loss.backward()
        self.loss = loss

    def result(self) -> tuple[float, dict[str, np.ndarray]]:
        layer, cfg = self.layer, self.cfg
        xl = [getattr(layer, f"x2{g}") for g in self.gates]
        hl = [getattr(layer, f"h2{g}") for g in self.gates]
        grads = {
            "weight_ih_l0": np.concatenate([lyr.W.grad.data.T for lyr in xl], axis=0),
            "weight_hh_l0": np.concatenate([lyr.W.grad.data.T for lyr in hl], axis=0),
            "bias_ih_l0": np.concatenate([lyr.b.grad.data for lyr in xl]),
            "x": np.stack([v.grad.data for v in self.xs]),
        }
        grads["bias_hh_l0"] = (
            np.concatenate([lyr.b.grad.data for lyr in hl]) if cfg.cell == "gru" else grads["bias_ih_l0"].copy()
        )  # b_ih + b_hh: same gradient
        return float(self.loss.data), grads


def build(
    cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32
) -> DezeroRunner:
    return DezeroRunner(cfg, weights, x, dtype)
