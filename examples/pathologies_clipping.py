"""Exploding gradients and two remedies from Pascanu, Mikolov & Bengio (2013), on tanh RNNs.

(a) Clipping: a tanh RNN whose recurrent weights start large (spectral radius ``--scale``) is trained with
    plain SGD on the adding problem three times from the same start: without clipping, clipping each
    gradient entry to [-c, c] (value: the direction changes) and rescaling the whole gradient to norm c
    (norm: the direction is kept). Prints final losses and how often each clip fired.
(b) The regulariser Ω (``tinygrad_rnn.diagnostics.regularizers.gradient_flow_penalty``): a tanh RNN that
    starts in the vanishing regime (small recurrent weights) learns to echo its input at several lags,
    with and without λ·Ω added to the loss; prints the held-out MSE per lag (1.0 = predicting 0).

Run: ``python examples/pathologies_clipping.py --out runs/clipping`` (PNG curves when matplotlib is there).
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.diagnostics.regularizers import (
    ClipStats,
    clip_and_count,
    gradient_flow_penalty,
)


# ---- (a) clipping on an exploding tanh RNN ---------------------------------------------------------
def adding_batch(rng: np.random.Generator, n: int, T: int) -> tuple:
    """Adding problem: channel 0 uniform values, channel 1 marks two positions; target = sum of the marked."""
    x = np.zeros((T, n, 2))
    x[:, :, 0] = rng.uniform(0, 1, (T, n))
    first = rng.integers(0, T // 2, n)
    second = rng.integers(T // 2, T, n)
    x[first, np.arange(n), 1] = 1.0
    x[second, np.arange(n), 1] = 1.0
    y = x[first, np.arange(n), 0] + x[second, np.arange(n), 0]
    return x, y[:, None]


def _orthogonal(rng: np.random.Generator, H: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((H, H)))
    return q * np.sign(np.diag(r))  # a uniformly random orthogonal matrix


def _run_rnn(cell: nn.RNNCell, x: np.ndarray) -> list:
    """The composed cell loop; returns [h_1, ..., h_T] (the tensors fed on, as the regulariser needs)."""
    h, hs = None, []
    for t in range(x.shape[0]):
        h = cell(tg.Tensor(x[t]), h)
        hs.append(h)
    return hs


def train_clipping(mode: str, steps: int, hidden: int, T: int, scale: float, lr: float, clip: float, seed: int) -> dict:
    """Train one tanh RNN from a fixed large-weight start; ``mode`` is 'none', 'value' or 'norm'."""
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cell, head = nn.RNNCell(2, hidden), nn.Linear(hidden, 1)
    with tg.no_grad():  # the exploding regime: recurrent weights with spectral radius `scale`
        cell.weight_hh.data = (scale * _orthogonal(rng, hidden)).astype(cell.weight_hh.data.dtype)
    params = list(cell.parameters()) + list(head.parameters())
    opt = optim.SGD(params, lr=lr)
    stats, losses = ClipStats(), []
    data = np.random.default_rng(seed + 1)  # the same batches for every mode
    for _ in range(steps):
        x, y = adding_batch(data, 32, T)
        loss = ((head(_run_rnn(cell, x)[-1]) - tg.Tensor(y)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        if mode == "value":
            clip_and_count(params, max_value=clip, stats=stats)
        elif mode == "norm":
            clip_and_count(params, max_norm=clip, stats=stats)
        else:  # no clipping: still record the norm, and count how often a norm clip would have fired
            norm = float(np.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in params if p.grad is not None)))
            stats.steps += 1
            stats.triggered += int(not norm <= clip)
            stats.norms.append(norm)
        opt.step()
        losses.append(loss.item())
    x, y = adding_batch(np.random.default_rng(seed + 99), 500, T)
    with tg.no_grad():
        test = float(((head(_run_rnn(cell, x)[-1]).numpy() - y) ** 2).mean())
    finite = [v for v in losses if np.isfinite(v)]
    return {
        "losses": losses,
        "final_loss": float(np.mean(losses[-10:])),
        "test_mse": test,
        "triggered": stats.triggered,
        "steps": stats.steps,
        "rate": stats.rate,
        "max_grad_norm": float(np.nanmax(stats.norms)) if stats.norms else 0.0,
        "max_loss": float(max(finite)) if finite else float("nan"),
    }


# ---- (b) the information-flow regulariser on a lag task --------------------------------------------
def lag_batch(rng: np.random.Generator, n: int, T: int, lags: Sequence[int]) -> tuple:
    """±1 inputs; output k at step t must be x_{t - lag_k} (scored only where that input exists)."""
    x = rng.choice([-1.0, 1.0], (T, n, 1))
    y = np.zeros((T, n, len(lags)))
    for k, lag in enumerate(lags):
        y[lag:, :, k] = x[: T - lag, :, 0]
    return x, y


def train_lag(
    lam: float, steps: int, hidden: int, T: int, lags: Sequence[int], init_scale: float, lr: float, seed: int
) -> dict:
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cell, head = nn.RNNCell(1, hidden), nn.Linear(hidden, len(lags))
    with tg.no_grad():  # the vanishing regime: a contracting recurrence
        cell.weight_hh.data = (init_scale * _orthogonal(rng, hidden)).astype(cell.weight_hh.data.dtype)
    params = list(cell.parameters()) + list(head.parameters())
    opt = optim.Adam(params, lr=lr)
    start = max(lags)
    data = np.random.default_rng(seed + 1)
    losses, omegas = [], []
    for _ in range(steps):
        x, y = lag_batch(data, 32, T, lags)
        hs = _run_rnn(cell, x)
        out = tg.stack([head(h) for h in hs[start:]])
        loss = ((out - tg.Tensor(y[start:])) ** 2).mean()
        total = loss
        if lam > 0:
            omega = gradient_flow_penalty(loss, hs)
            total = loss + lam * omega
            omegas.append(omega.item())
        opt.zero_grad()
        total.backward()
        nn.utils.clip_grad_norm_(params, 1.0)  # the paper uses Ω together with clipping
        opt.step()
        losses.append(loss.item())
    x, y = lag_batch(np.random.default_rng(seed + 99), 500, T, lags)
    with tg.no_grad():
        hs = _run_rnn(cell, x)
        pred = np.stack([head(h).numpy() for h in hs[start:]])
    mse = {lag: float(((pred[..., k] - y[start:, :, k]) ** 2).mean()) for k, lag in enumerate(lags)}
    acc = {lag: float((np.sign(pred[..., k]) == y[start:, :, k]).mean()) for k, lag in enumerate(lags)}
    return {"losses": losses, "omega": omegas, "mse_by_lag": mse, "acc_by_lag": acc}


def _plot(out: pathlib.Path, curves: dict, title: str, name: str, log: bool) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, ys in curves.items():
        ax.plot(ys, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step"), ax.set_ylabel("loss"), ax.set_title(title), ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return str(path)


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=300, help="SGD steps for the clipping study (a)")
    p.add_argument("--T", type=int, default=20, help="sequence length for (a)")
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--scale", type=float, default=3.0, help="spectral radius of the initial recurrent weights in (a)")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate in (a)")
    p.add_argument("--clip", type=float, default=1.0, help="threshold for both clips in (a)")
    p.add_argument("--lag-steps", type=int, default=200, help="Adam steps for the regulariser study (b)")
    p.add_argument("--lag-T", type=int, default=16)
    p.add_argument("--lags", type=str, default="1,4,8,12")
    p.add_argument("--lam", type=float, default=1.0, help="weight λ of Ω in (b)")
    p.add_argument("--init-scale", type=float, default=0.3, help="spectral radius of the initial W_hh in (b)")
    p.add_argument("--lag-lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip", choices=["a", "b"], default=None, help="leave one study out")
    p.add_argument("--out", type=str, default=None, help="folder for PNG curves (needs matplotlib)")
    a = p.parse_args(argv)
    tg.set_default_dtype("float64")  # NaN/overflow behaviour of the unclipped run is clearer in float64
    res: dict[str, Any] = {}
    if a.skip != "a":
        print(
            f"(a) adding problem T={a.T}, tanh RNN H={a.hidden}, W_hh spectral radius {a.scale}, SGD lr {a.lr}, "
            f"clip threshold {a.clip}"
        )
        clip = {}
        for mode in ("none", "value", "norm"):
            r = train_clipping(mode, a.steps, a.hidden, a.T, a.scale, a.lr, a.clip, a.seed)
            clip[mode] = r
            fired = f"{r['triggered']}/{r['steps']} ({100 * r['rate']:.0f}%)" + (
                " (would have)" if mode == "none" else ""
            )
            print(
                f"  {mode:>5}: final loss {r['final_loss']:.4g}  test MSE {r['test_mse']:.4g}  "
                f"max grad norm {r['max_grad_norm']:.3g}  clip fired {fired}"
            )
        res["clipping"] = clip
    if a.skip != "b":
        lags = [int(s) for s in a.lags.split(",")]
        print(
            f"(b) lag task T={a.lag_T}, lags {lags}, tanh RNN H={a.hidden}, initial W_hh radius {a.init_scale}, "
            f"λ={a.lam}"
        )
        reg = {}
        for lam in (0.0, a.lam):
            r = train_lag(lam, a.lag_steps, a.hidden, a.lag_T, lags, a.init_scale, a.lag_lr, a.seed)
            reg["with_omega" if lam > 0 else "without"] = r
            cells = "  ".join(f"lag {k}: {r['mse_by_lag'][k]:.3f} ({100 * r['acc_by_lag'][k]:.0f}%)" for k in lags)
            print(f"  {'with Ω' if lam > 0 else 'no Ω':>6}: MSE (sign accuracy) {cells}")
        res["regularizer"] = reg
    if a.out:
        made = []
        if "clipping" in res:
            made.append(
                _plot(
                    pathlib.Path(a.out),
                    {m: r["losses"] for m, r in res["clipping"].items()},
                    "adding problem, exploding start",
                    "clipping.png",
                    log=True,
                )
            )
        if "regularizer" in res:
            made.append(
                _plot(
                    pathlib.Path(a.out),
                    {m: r["losses"] for m, r in res["regularizer"].items()},
                    "lag task (task loss)",
                    "regularizer.png",
                    log=False,
                )
            )
        if None in made:
            print("matplotlib is not importable: no PNG curves written")
        else:
            print("wrote " + ", ".join(str(m) for m in made))
        res["plots"] = [m for m in made if m]
    return res


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
