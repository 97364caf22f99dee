"""Leaky units with a spread of timescales vs a plain RNN (τ = 1) on a target with slow and fast parts.

    python examples/leaky_timescales.py [--steps 150] [--window 30] [--hidden 16] [--modes sampled,fixed]

The input is white noise x_t ~ N(0, 1); the target mixes a slow and a fast component,

    y_t = mean(x_{t-W+1} … x_t) · √W  +  x_t,

a running average over a long window W (scaled to unit variance) plus the current input. A leaky unit
s_t = (1 − 1/τ) s_{t−1} + (1/τ) tanh(W s_{t−1} + U x_t + b) with τ ≈ W integrates the slow part directly,
while units with τ ≈ 1 pass the fast part through; a plain tanh RNN (every τ = 1) must learn to hold the
window in its recurrent weights. Each mode trains the same budget (Adam, BPTT over the whole sequence,
linear readout on every step after a burn-in of W steps) and is scored on held-out sequences.
Modes: ``fixed`` (τ = 1, the plain RNN), ``sampled`` (log-uniform τ in [1, --tau-max], frozen) and
``learned`` (starts like ``sampled``, τ = 1 + softplus(ρ) trained with the weights).
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models.dynamics import LeakyRNN


def make_batch(rng: np.random.Generator, n: int, T: int, window: int) -> tuple[tg.Tensor, tg.Tensor]:
    """x (T, N, 1) white noise; y (T, N, 1) = √W · running mean over the last W inputs + x_t."""
    x = rng.standard_normal((T, n, 1))
    c = np.concatenate([np.zeros((1, n, 1)), np.cumsum(x, axis=0)], axis=0)
    lo = np.maximum(np.arange(1, T + 1) - window, 0)
    # windows shorter than W at the start are summed as they are; those steps lie in the burn-in anyway
    slow = (c[1:] - c[lo]) / np.sqrt(window)
    return tg.Tensor(x.astype(np.float32)), tg.Tensor((slow + x).astype(np.float32))


def train_mode(mode: str, args: argparse.Namespace) -> float:
    """Train one model with the given τ mode; returns its held-out MSE after the burn-in."""
    tg.manual_seed(args.seed)  # the same initial weights for every mode: only τ differs
    rnn = LeakyRNN(1, args.hidden, tau="fixed" if mode == "fixed" else mode, tau_range=(1.0, args.tau_max))
    head = nn.Linear(args.hidden, 1)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = optim.Adam(params, lr=args.lr)
    rng = np.random.default_rng(args.seed)
    T, W, H = args.length, args.window, args.hidden

    def predict(x: tg.Tensor) -> tg.Tensor:
        out, _ = rnn(x)
        return head(out[W:].reshape((T - W) * x.shape[1], H)).reshape(T - W, x.shape[1], 1)

    every = max(1, args.steps // 4)
    for step in range(1, args.steps + 1):
        x, y = make_batch(rng, args.batch, T, W)
        loss = F.mse_loss(predict(x), y[W:])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)  # a plain RNN's BPTT can spike; clip so both get a fair run
        opt.step()
        if step % every == 0 or step in (1, args.steps):
            print(f"  [{mode:7s}] step {step:4d}  train MSE {loss.item():.4f}")
    x, y = make_batch(np.random.default_rng(10_000 + args.seed), 256, T, W)
    with tg.no_grad():
        mse = float(F.mse_loss(predict(x), y[W:]).item())
    taus = np.sort(rnn.time_constants().numpy())
    print(f"  [{mode:7s}] held-out MSE {mse:.4f}   τ min/median/max {taus[0]:.1f}/{np.median(taus):.1f}/{taus[-1]:.1f}")
    return mse


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--modes", type=str, default="fixed,sampled,learned", help="comma-separated subset of fixed, sampled, learned"
    )
    ap.add_argument("--window", type=int, default=30, help="running-average window W (the slow timescale)")
    ap.add_argument("--length", type=int, default=90, help="sequence length T (> window)")
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--tau-max", type=float, default=50.0, help="upper end of the sampled τ range")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.length <= args.window:
        ap.error(f"--length ({args.length}) must exceed --window ({args.window}): the loss starts after the burn-in")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in ("fixed", "sampled", "learned"):
            ap.error(f"unknown mode {m!r}; choose from fixed, sampled, learned")

    print("target variance ≈ 2 (slow and fast parts 1 each); predicting only x_t leaves ≈ 1")
    results = {m: train_mode(m, args) for m in modes}
    for m, mse in results.items():
        label = "τ = 1 (plain RNN)" if m == "fixed" else f"τ {m} in [1, {args.tau_max:g}]"
        print(f"held-out MSE  {label:28s} {mse:.4f}")
    return results


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
