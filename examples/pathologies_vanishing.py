"""Vanishing and exploding gradients on the adding problem, measured with ``tinygrad_rnn.diagnostics``.

Four models read the same adding-problem batch (values in [0, 1) and a marker channel; the target is
the sum of the two marked values) and a linear head reads h_T:

* a tanh RNN with small recurrent weights (W_hh = g·N(0, 1/H), g = 0.5): ‖∂L/∂h_t‖ shrinks geometrically
  with the lag, at a fitted per-step factor below ρ(W_hh)·max|tanh'| (the BPTT product
  ∂h_T/∂h_t = Π diag(1 − h_s²) W_hh behaves like W_hh^{T−t} near h = 0);
* the same RNN with large recurrent weights (g = 3): the factor is above 1, the gradient explodes;
* an LSTM with forget-gate bias +1, and a GRU (default initialisation).

It prints ‖∂L/∂h_t‖ at a few lags, the fitted factor and the spectral-radius prediction, then trains the
default-initialised tanh RNN for a few Adam steps recording ‖∂L/∂h_t‖ at every step (a heat map).
``--out DIR`` writes ``grad_norms_T{T}.png`` and ``heatmap.png`` there when matplotlib is installed.

    python examples/pathologies_vanishing.py --T 50,100 --out runs/pathologies
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.diagnostics.gradients import (
    decay_rate,
    hidden_state_grad_norms,
    plot_gradient_heatmap,
    plot_gradient_norms,
    spectral_radius,
)


def adding_batch(rng: np.random.Generator, n: int, T: int) -> tuple:
    """(x (T, n, 2), y (n,)): one mark in each half of the sequence, target = sum of the marked values."""
    v = rng.random((T, n)).astype(np.float32)
    m = np.zeros((T, n), np.float32)
    m[rng.integers(0, T // 2, n), np.arange(n)] = 1
    m[rng.integers(T // 2, T, n), np.arange(n)] = 1
    return np.stack([v, m], axis=-1), (v * m).sum(axis=0)


def make_model(kind: str, hidden: int, seed: int, gain: float | None = None) -> tuple:
    """A cell and a linear head. ``gain`` replaces W_hh of an RNN by gain·N(0, 1/H) (ρ ≈ gain for large H)."""
    tg.manual_seed(seed)
    cell = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](2, hidden)
    if kind == "rnn" and gain is not None:
        rng = np.random.default_rng(seed + 1)
        cell.weight_hh.data[...] = (rng.standard_normal((hidden, hidden)) * gain / np.sqrt(hidden)).astype(np.float32)
    if kind == "lstm":
        # forget gate (second quarter of the gates) starts mostly open: total bias +1
        cell.bias_ih.data[hidden : 2 * hidden] = 1.0
        cell.bias_hh.data[hidden : 2 * hidden] = 0.0
    return cell, nn.Linear(hidden, 1)


def _loss_fn(head: nn.Linear, y: np.ndarray) -> Any:
    return lambda hs: F.mse_loss(head(hs[-1]).reshape(-1), tg.Tensor(y))


def analyse(kind: str, x: np.ndarray, y: np.ndarray, hidden: int, seed: int, gain: float | None) -> dict:
    cell, head = make_model(kind, hidden, seed, gain)
    norms = hidden_state_grad_norms(cell, x, _loss_fn(head, y))
    res: dict = {"norms": norms, "rate": decay_rate(norms), "ratio_first_last": float(norms[0] / norms[-1])}
    if kind == "rnn":
        rho = spectral_radius(cell.weight_hh)
        with tg.no_grad():  # max |tanh'| = max(1 − h²) actually visited
            h, dmax = None, 0.0
            for t in range(x.shape[0]):
                h = cell(tg.Tensor(x[t]), h)
                dmax = max(dmax, float((1 - h.numpy() ** 2).max()))
        res.update(
            rho=rho, max_tanh_prime=dmax, bound=rho * dmax, norm2=float(np.linalg.norm(cell.weight_hh.numpy(), 2))
        )
    return res


def training_heatmap(T: int, hidden: int, batch: int, steps: int, seed: int) -> np.ndarray:
    """‖∂L/∂h_t‖ of a default-initialised tanh RNN at each of ``steps`` Adam steps: (steps, T)."""
    cell, head = make_model("rnn", hidden, seed)
    params = list(cell.parameters()) + list(head.parameters())
    opt = optim.Adam(params, lr=1e-2)
    rng = np.random.default_rng(seed + 7)
    rows = []
    for _ in range(steps):
        x, y = adding_batch(rng, batch, T)
        opt.zero_grad()
        rows.append(hidden_state_grad_norms(cell, x, _loss_fn(head, y)))  # its backward fills the grads too
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return np.stack(rows)


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", default="50", help="sequence lengths, comma separated (e.g. 50,100,200)")
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--small-gain", type=float, default=0.5, help="W_hh scale of the vanishing RNN")
    ap.add_argument("--large-gain", type=float, default=3.0, help="W_hh scale of the exploding RNN")
    ap.add_argument("--train-steps", type=int, default=20, help="Adam steps recorded in the heat map")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="", help="directory for the PNGs (needs matplotlib)")
    args = ap.parse_args(argv)
    Ts = [int(s) for s in args.T.split(",") if s.strip()]
    if not Ts or min(Ts) < 2:
        ap.error(f"--T needs lengths >= 2, got {args.T!r}")
    try:
        import matplotlib  # noqa: F401

        can_plot = True
    except ImportError:
        can_plot = False
    if args.out and not can_plot:
        print("matplotlib is not installed; no plots written")
    if args.out and can_plot:
        os.makedirs(args.out, exist_ok=True)

    results: dict = {"by_T": {}, "plots": []}
    models = [
        ("rnn-small", "rnn", args.small_gain),
        ("rnn-large", "rnn", args.large_gain),
        ("lstm", "lstm", None),
        ("gru", "gru", None),
    ]
    for T in Ts:
        x, y = adding_batch(np.random.default_rng(args.seed), args.batch, T)
        by_model = {name: analyse(kind, x, y, args.hidden, args.seed, gain) for name, kind, gain in models}
        results["by_T"][T] = by_model
        lags = [lag for lag in (0, 1, 5, 10, 25, 50, 100, 199) if lag < T]
        print(f"T = {T}: ‖∂L/∂h_t‖ at lags {lags}")
        for name, r in by_model.items():
            vals = " ".join(f"{r['norms'][T - 1 - lag]:.2e}" for lag in lags)
            extra = ""
            if "rho" in r:
                extra = (
                    f"  ρ(W)={r['rho']:.3f} ×max|tanh'|={r['max_tanh_prime']:.3f} → bound {r['bound']:.3f}"
                    f" (‖W‖₂={r['norm2']:.3f})"
                )
            print(f"  {name:10s} {vals}   per-step factor {r['rate']:.3f}{extra}")
        if args.out and can_plot:
            path = os.path.join(args.out, f"grad_norms_T{T}.png")
            plot_gradient_norms(
                {n: r["norms"] for n, r in by_model.items()}, path, title=f"adding problem, T = {T}: ‖∂L/∂h_t‖ vs lag"
            )
            results["plots"].append(path)

    heat = training_heatmap(Ts[0], args.hidden, args.batch, args.train_steps, args.seed)
    results["heatmap"] = heat
    print(
        f"heat map (default-init tanh RNN, T = {Ts[0]}): per-step factor at training step 1 "
        f"{decay_rate(heat[0]):.3f}, at step {len(heat)} {decay_rate(heat[-1]):.3f}"
    )
    if args.out and can_plot:
        path = os.path.join(args.out, "heatmap.png")
        plot_gradient_heatmap(heat, path, title=f"log10 ‖∂L/∂h_t‖, tanh RNN, T = {Ts[0]}")
        results["plots"].append(path)
        print("wrote " + ", ".join(results["plots"]))
    return results


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
