"""Shared pieces of the BPTT benchmark: configurations, weights, the loss, GEMM flop counts, the check.

Every implementation gets *the same* weights and input, generated here in NumPy from a fixed seed in
PyTorch's layout (``weight_ih_l0 (G*H, I)``, ``weight_hh_l0 (G*H, H)``, ``bias_ih_l0 (G*H,)``,
``bias_hh_l0 (G*H,)``; gate order i,f,g,o for LSTM and r,z,n for GRU, G = 4, 3, 1; stacked and
bidirectional layers add ``_l1``, ``_l0_reverse``, ... with layer k > 0 reading the D*H outputs of
layer k-1), and loads them into its own library. One training step is: forward over the whole
time-major sequence ``x (T, B, I)`` from a zero initial state, the loss

    L = 1/(N_valid*D*H) * sum over valid (t, b) of sum_j out_t[b, j]^2   (mean of squared outputs)

over the last layer's outputs (D*H of them per position, D = 2 when bidirectional), and the backward
pass through time to dL/dW for all weights and dL/dx. No optimizer step. Without ``lengths`` every
position is valid (N_valid = T*B); with them, position (t, b) is valid when t < lengths[b], the
padded positions' outputs are zero (as PyTorch's ``pad_packed_sequence`` and tinygrad_rnn give them)
and N_valid = sum(lengths).

This module imports only NumPy so the driver can use it without importing any framework.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Protocol

import numpy as np

CELLS: dict[str, int] = {"lstm": 4, "gru": 3, "rnn-tanh": 1}  # cell name -> number of gates G
PARAM_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
GRAD_NAMES = PARAM_NAMES + ("x",)
SEED = 20240611
KEY_SYNTAX = "cell:B:T:I:H[:L<n>][:bi][:len]"


@dataclasses.dataclass(frozen=True)
class Config:
    """One benchmark case: cell type, batch B, sequence length T, input size I, hidden size H, and
    optionally ``layers`` stacked layers, ``bidirectional``, ``with_lengths`` (per-sequence lengths,
    drawn by :func:`make_lengths`)."""

    cell: str
    batch: int
    T: int
    input: int
    hidden: int
    layers: int = 1
    bidirectional: bool = False
    with_lengths: bool = False

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; expected one of {sorted(CELLS)}")
        for k in ("batch", "T", "input", "hidden", "layers"):
            if getattr(self, k) < 1:
                raise ValueError(f"config {k} must be >= 1, got {getattr(self, k)}")

    @property
    def gates(self) -> int:
        return CELLS[self.cell]

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def simple(self) -> bool:
        """One layer, one direction, no lengths: the case every implementation runs."""
        return self.layers == 1 and not self.bidirectional and not self.with_lengths

    @property
    def key(self) -> str:
        """Stable text form, also the CLI form: ``cell:B:T:I:H``, then ``:L2`` (two stacked layers),
        ``:bi`` (bidirectional), ``:len`` (per-sequence lengths), in that order, where they apply."""
        flags = ([f"L{self.layers}"] if self.layers > 1 else []) + (["bi"] if self.bidirectional else [])
        flags += ["len"] if self.with_lengths else []
        return ":".join([self.cell, str(self.batch), str(self.T), str(self.input), str(self.hidden), *flags])

    @property
    def title(self) -> str:
        """Human form for tables: ``lstm 32/40/12/64, 2 layers, bidirectional, lengths``."""
        extra = ([f"{self.layers} layers"] if self.layers > 1 else []) + (
            ["bidirectional"] if self.bidirectional else []
        )
        extra += ["lengths"] if self.with_lengths else []
        dims = f"{self.cell} {self.batch}/{self.T}/{self.input}/{self.hidden}"
        return ", ".join([dims, *extra])

    @classmethod
    def parse(cls, text: str) -> Config:
        parts = text.strip().split(":")
        usage = f"config {text!r}: expected {KEY_SYNTAX}, e.g. lstm:32:50:64:128 or lstm:32:40:12:64:L2:bi:len"
        if len(parts) < 5:
            raise ValueError(usage)
        try:
            dims = [int(p) for p in parts[1:5]]
        except ValueError:
            raise ValueError(usage) from None
        layers, bi, lengths = 1, False, False
        for flag in parts[5:]:
            if flag == "bi":
                bi = True
            elif flag == "len":
                lengths = True
            elif flag[:1] == "L" and flag[1:].isdigit():
                layers = int(flag[1:])
            else:
                raise ValueError(f"{usage} (unknown flag {flag!r})")
        return cls(parts[0], *dims, layers=layers, bidirectional=bi, with_lengths=lengths)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def param_names(cfg: Config) -> tuple[str, ...]:
    """PyTorch's parameter names of the config's layer stack, in PyTorch's order."""
    sfxs = [f"_l{k}{d}" for k in range(cfg.layers) for d in ("", "_reverse")[: cfg.directions]]
    return tuple(f"{w}{s}" for s in sfxs for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def grad_names(cfg: Config) -> tuple[str, ...]:
    return param_names(cfg) + ("x",)


def layer_input_size(cfg: Config, layer: int) -> int:
    return cfg.input if layer == 0 else cfg.directions * cfg.hidden


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
        ("lstm", 64, 64, 1, 64),  # pixel by pixel: a 64-pixel row sequence read one value at a time
        ("lstm", 64, 100, 512, 512),
    )
] + [Config("lstm", 32, 40, 12, 64, layers=2, bidirectional=True, with_lengths=True)]
BATCH1_CONFIG = Config("lstm", 1, 1000, 8, 32)  # the per-time-step latency target is set on this one
QUICK_CONFIGS = [
    Config(*c) for c in (("lstm", 32, 50, 64, 128), ("gru", 8, 20, 16, 32), ("rnn-tanh", 8, 20, 16, 32))
] + [Config("lstm", 8, 12, 6, 16, layers=2, bidirectional=True, with_lengths=True)]
# Linear-scaling study: LSTM, B=16, I=H=64, growing T (tinygrad_rnn fused and composed, NumPy reference).
SCALING_TS = (100, 1_000, 10_000)
QUICK_SCALING_TS = (100, 1_000)


def scaling_config(T: int) -> Config:
    return Config("lstm", 16, T, 64, 64)


def check_config(cfg: Config | str) -> Config:
    """The small case every implementation is checked on (I != H catches transposes): B=3, T=7, I=5,
    H=4 with the config's layers, directions and lengths (a cell name alone: one plain layer)."""
    if isinstance(cfg, str):
        return Config(cfg, 3, 7, 5, 4)
    return Config(cfg.cell, 3, 7, 5, 4, cfg.layers, cfg.bidirectional, cfg.with_lengths)


def make_weights(cfg: Config, dtype: np.dtype | type = np.float32, seed: int = SEED) -> dict[str, np.ndarray]:
    """PyTorch-layout weights drawn like PyTorch's init, U(-1/sqrt(H), 1/sqrt(H)), from a fixed seed.

    Drawn in float64 and then cast, so the float32 and float64 versions are the same numbers rounded.
    A one-layer, one-direction config draws exactly what it drew before stacked layers existed.
    """
    key = [seed, cfg.input, cfg.hidden, cfg.gates] + (
        [] if cfg.layers == 1 and not cfg.bidirectional else [cfg.layers, cfg.directions]
    )
    rng = np.random.default_rng(key)
    G, H = cfg.gates * cfg.hidden, cfg.hidden
    k = 1.0 / np.sqrt(H)
    out = {}
    for n in param_names(cfg):
        layer = int(n.split("_l")[1].split("_")[0])
        shape = {"weight_ih": (G, layer_input_size(cfg, layer)), "weight_hh": (G, H)}.get(n.split("_l")[0], (G,))
        out[n] = rng.uniform(-k, k, shape).astype(dtype)
    return out


def make_input(cfg: Config, dtype: np.dtype | type = np.float32, seed: int = SEED) -> np.ndarray:
    """Time-major input ``(T, B, I)``, standard normal, fixed seed."""
    rng = np.random.default_rng([seed + 1, cfg.T, cfg.batch, cfg.input])
    return rng.standard_normal((cfg.T, cfg.batch, cfg.input)).astype(dtype)


def make_lengths(cfg: Config, seed: int = SEED) -> np.ndarray | None:
    """Per-sequence lengths (int64, in batch order, not sorted); None for a config without lengths.

    The first sequence is T long (a padded batch is as long as its longest sequence), the others are
    drawn uniformly from [ceil(T/2), T] from a fixed seed."""
    if not cfg.with_lengths:
        return None
    rng = np.random.default_rng([seed + 2, cfg.T, cfg.batch])
    lens = rng.integers(math.ceil(cfg.T / 2), cfg.T + 1, size=cfg.batch).astype(np.int64)
    lens[0] = cfg.T
    return lens


def valid_mask(cfg: Config) -> np.ndarray:
    """(T, B) booleans: position (t, b) is part of sequence b (all True without lengths)."""
    lens = make_lengths(cfg)
    if lens is None:
        return np.ones((cfg.T, cfg.batch), dtype=bool)
    return np.arange(cfg.T)[:, None] < lens[None, :]


def loss_scale(cfg: Config) -> float:
    """1 / (number of summed squares) of the loss: N_valid * D * H."""
    n_valid = cfg.T * cfg.batch if not cfg.with_lengths else int(make_lengths(cfg).sum())  # type: ignore[union-attr]
    return 1.0 / (n_valid * cfg.directions * cfg.hidden)


def gemm_flops(cfg: Config) -> float:
    """Matrix-multiply flops of one training step (forward + backward), elementwise work not counted.

    With G gates (LSTM 4, GRU 3, RNN 1), each time step's forward does two GEMMs,
    x_t (B, I) @ W_ihᵀ (I, G*H) and h_{t-1} (B, H) @ W_hhᵀ (H, G*H):  2*B*(I+H)*G*H flops
    (a GEMM (m, k) @ (k, n) is 2*m*k*n flops; implementations that batch the input projection over
    all steps do the same arithmetic in one call). The backward of each GEMM Y = X Wᵀ is two GEMMs of
    the same size, dX = dY W and dW = dYᵀ X, so twice the forward:

        flops = 3 * T * 2*B*(I+H)*G*H      per layer and direction (layer k > 0 reads I = D*H)

    e.g. LSTM: 2*B*(I+H)*4H per step forward, 4*B*(I+H)*4H backward. The GRU's reset-after form
    multiplies h_{t-1} by all of W_hh (3H columns) before the reset gate, so the count is the same.
    The first step's h_0 = 0 product is counted too (every implementation here computes it, except
    DeZero's layers, which skip it; the difference is 1/T of the recurrent part). With lengths only
    the valid positions count (T*B becomes sum(lengths)): the useful work, whether an implementation
    skips the padding (PyTorch's packed sequences) or computes and masks it.
    """
    G, H = cfg.gates, cfg.hidden
    lens = make_lengths(cfg)
    rows = cfg.T * cfg.batch if lens is None else int(lens.sum())
    per_layer = [3.0 * 2.0 * rows * (layer_input_size(cfg, k) + H) * G * H for k in range(cfg.layers)]
    return cfg.directions * sum(per_layer)


class Runner(Protocol):
    """What every implementation module's ``build(cfg, weights, x, dtype)`` returns."""

    def step(self) -> None:
        """One full training step (forward, loss, backward); the gradients are ready when it returns."""

    def result(self) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and gradients (``grad_names(cfg)``, PyTorch layout, NumPy arrays) of the last ``step``."""


def rel_errors(got: tuple[float, dict[str, np.ndarray]], want: tuple[float, dict[str, np.ndarray]]) -> dict:
    """Per quantity: max |got - want| / max |want| (scale-free; a zero reference counts as scale 1).

    Every gradient of ``want`` is compared; one that ``got`` lacks, or of another shape, is ``inf``."""
    (gl, gg), (wl, wg) = got, want
    out = {"loss": abs(float(gl) - float(wl)) / max(abs(float(wl)), 1e-30)}
    for n in wg:
        if n not in gg:
            out[n] = float("inf")
            continue
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
