"""Shared pieces of the BPTT benchmark: configurations, weights, the loss, GEMM flop counts, the check.

Every implementation gets *the same* weights and input, generated here in NumPy from a fixed seed in
PyTorch's layout (``weight_ih_l0 (G*H, I)``, ``weight_hh_l0 (G*H, H)``, ``bias_ih_l0 (G*H,)``,
``bias_hh_l0 (G*H,)``; gate order i,f,g,o for LSTM and r,z,n for GRU, G = 4, 3, 1), and loads them
into its own library. One training step is: forward over the whole time-major sequence ``x (T, B, I)``
from a zero initial state, the loss

    L = 1/(T*B*H) * sum_t sum_b sum_j h_t[b, j]^2        (mean of squared outputs over all steps)

and the backward pass through time to dL/dW for all four weights and dL/dx. No optimizer step.

This module imports only NumPy so the driver can use it without importing any framework.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np

CELLS: dict[str, int] = {"lstm": 4, "gru": 3, "rnn-tanh": 1}  # cell name -> number of gates G
PARAM_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
GRAD_NAMES = PARAM_NAMES + ("x",)
SEED = 20240611


@dataclasses.dataclass(frozen=True)
class Config:
    """One benchmark case: cell type, batch B, sequence length T, input size I, hidden size H."""

    cell: str
    batch: int
    T: int
    input: int
    hidden: int

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; expected one of {sorted(CELLS)}")
        for k in ("batch", "T", "input", "hidden"):
            if getattr(self, k) < 1:
                raise ValueError(f"config {k} must be >= 1, got {getattr(self, k)}")

    @property
    def gates(self) -> int:
        return CELLS[self.cell]

    @property
    def key(self) -> str:
        """Stable text form, also the CLI form: ``cell:B:T:I:H``."""
        return f"{self.cell}:{self.batch}:{self.T}:{self.input}:{self.hidden}"

    @classmethod
    def parse(cls, text: str) -> Config:
        parts = text.strip().split(":")
        if len(parts) != 5:
            raise ValueError(f"config {text!r}: expected cell:batch:T:input:hidden, e.g. lstm:32:50:64:128")
        return cls(parts[0], *(int(p) for p in parts[1:]))

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


# The benchmark spec: (cell, batch, T, input, hidden).
DEFAULT_CONFIGS = [
    Config(*c)
    for c in (
        ("lstm", 32, 50, 64, 128),
        ("lstm", 64, 100, 128, 256),
        ("lstm", 16, 200, 32, 64),
        ("gru", 32, 50, 64, 128),
        ("rnn-tanh", 32, 50, 64, 128),
        ("lstm", 1, 1000, 8, 32),
    )
]
QUICK_CONFIGS = [Config(*c) for c in (("lstm", 32, 50, 64, 128), ("gru", 8, 20, 16, 32), ("rnn-tanh", 8, 20, 16, 32))]
# Linear-scaling study: LSTM, B=16, I=H=64, growing T (tinygrad_rnn fused and composed, NumPy reference).
SCALING_TS = (100, 1_000, 10_000)
QUICK_SCALING_TS = (100, 1_000)


def scaling_config(T: int) -> Config:
    return Config("lstm", 16, T, 64, 64)


def check_config(cell: str) -> Config:
    """The small case every implementation is checked on before it is timed (I != H catches transposes)."""
    return Config(cell, 3, 7, 5, 4)


def make_weights(cfg: Config, dtype: np.dtype | type = np.float32, seed: int = SEED) -> dict[str, np.ndarray]:
    """PyTorch-layout weights drawn like PyTorch's init, U(-1/sqrt(H), 1/sqrt(H)), from a fixed seed.

    Drawn in float64 and then cast, so the float32 and float64 versions are the same numbers rounded.
    """
    rng = np.random.default_rng([seed, cfg.input, cfg.hidden, cfg.gates])
    G, I, H = cfg.gates * cfg.hidden, cfg.input, cfg.hidden
    k = 1.0 / np.sqrt(H)
    shapes = {"weight_ih_l0": (G, I), "weight_hh_l0": (G, H), "bias_ih_l0": (G,), "bias_hh_l0": (G,)}
    return {n: rng.uniform(-k, k, shapes[n]).astype(dtype) for n in PARAM_NAMES}


def make_input(cfg: Config, dtype: np.dtype | type = np.float32, seed: int = SEED) -> np.ndarray:
    """Time-major input ``(T, B, I)``, standard normal, fixed seed."""
    rng = np.random.default_rng([seed + 1, cfg.T, cfg.batch, cfg.input])
    return rng.standard_normal((cfg.T, cfg.batch, cfg.input)).astype(dtype)


def gemm_flops(cfg: Config) -> float:
    """Matrix-multiply flops of one training step (forward + backward), elementwise work not counted.

    With G gates (LSTM 4, GRU 3, RNN 1), each time step's forward does two GEMMs,
    x_t (B, I) @ W_ihᵀ (I, G*H) and h_{t-1} (B, H) @ W_hhᵀ (H, G*H):  2*B*(I+H)*G*H flops
    (a GEMM (m, k) @ (k, n) is 2*m*k*n flops; implementations that batch the input projection over
    all steps do the same arithmetic in one call). The backward of each GEMM Y = X Wᵀ is two GEMMs of
    the same size, dX = dY W and dW = dYᵀ X, so twice the forward:

        flops = 3 * T * 2*B*(I+H)*G*H

    e.g. LSTM: 2*B*(I+H)*4H per step forward, 4*B*(I+H)*4H backward. The GRU's reset-after form
    multiplies h_{t-1} by all of W_hh (3H columns) before the reset gate, so the count is the same.
    The first step's h_0 = 0 product is counted too (every implementation here computes it, except
    DeZero's layers, which skip it; the difference is 1/T of the recurrent part).
    """
    B, T, I, H, G = cfg.batch, cfg.T, cfg.input, cfg.hidden, cfg.gates
    return 3.0 * T * 2.0 * B * (I + H) * G * H


class Runner(Protocol):
    """What every implementation module's ``build(cfg, weights, x, dtype)`` returns."""

    def step(self) -> None:
        """One full training step (forward, loss, backward); the gradients are ready when it returns."""

    def result(self) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and gradients (``GRAD_NAMES``, PyTorch layout, NumPy arrays) of the last ``step``."""


def rel_errors(got: tuple[float, dict[str, np.ndarray]], want: tuple[float, dict[str, np.ndarray]]) -> dict:
    """Per quantity: max |got - want| / max |want| (scale-free; a zero reference counts as scale 1)."""
    (gl, gg), (wl, wg) = got, want
    out = {"loss": abs(float(gl) - float(wl)) / max(abs(float(wl)), 1e-30)}
    for n in GRAD_NAMES:
        a, b = np.asarray(gg[n], dtype=np.float64), np.asarray(wg[n], dtype=np.float64)
        if a.shape != b.shape:
            out[n] = float("inf")
            continue
        scale = float(np.max(np.abs(b))) if b.size else 1.0
        out[n] = float(np.max(np.abs(a - b))) / (scale if scale > 0 else 1.0) if a.size else 0.0
    return out


# float32 implementations compared with the float64 reference: rounding gives ~1e-6 here, a wrong
# gate order or a missing term gives O(1); 1e-4 separates the two with room to spare.
CHECK_TOL = 1e-4
