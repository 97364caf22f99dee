"""Curvature of a small RNN: truncated Newton (Hessian-free, CG on curvature-vector products) vs SGD and Adam.

    python examples/pathologies_second_order.py [--budget 300] [--cg-iters 10] [--hidden 8] [--length 12]
                                                [--curvature gn|hessian] [--out DIR]

Task: full-batch regression on a fixed set of sequences x_t ~ N(0, 1) with target
y_t = 0.7 y_{t−1} + 0.5 x_t − 0.3 x_{t−1} x_t (a leaky memory plus a product term), predicted on every step by
``nn.RNN`` (tanh) + a linear readout, loss = mean squared error, float64.

Budget: every method gets the same number of *gradient-evaluation equivalents*. One gradient is one;
one Hessian-vector (or Gauss–Newton-vector) product is also counted as one, although it costs a forward
and about two backward passes, so the count flatters truncated Newton by up to ~2x in wall time.
A truncated-Newton step costs 1 + (CG iterations used). Damping λ adapts Levenberg–Marquardt style:
a step that raises the loss is undone and λ ×= 3; an accepted one gives λ ×= 2/3 (rejected steps still
spend their budget). ``--curvature gn`` (default) uses the PSD Gauss–Newton matrix, ``hessian`` the exact
(possibly indefinite) Hessian with negative-curvature-truncated CG.

The top three Hessian eigenvalues (largest magnitude, power iteration with deflation) are reported at
init and after each method. With matplotlib, ``--out DIR`` also writes the loss curves as a PNG.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.diagnostics.second_order import (
    gradient,
    hessian_top_eigenvalues,
    truncated_newton_step,
)


def make_data(rng: np.random.Generator, n: int, T: int) -> tuple[tg.Tensor, tg.Tensor]:
    """x (T, N, 1) ~ N(0, 1); y_t = 0.7 y_{t−1} + 0.5 x_t − 0.3 x_{t−1} x_t (a memory plus a nonlinearity)."""
    x = rng.standard_normal((T, n, 1))
    y = np.zeros_like(x)
    prev_y, prev_x = np.zeros((n, 1)), np.zeros((n, 1))
    for t in range(T):
        prev_y = 0.7 * prev_y + 0.5 * x[t] - 0.3 * prev_x * x[t]
        prev_x = x[t]
        y[t] = prev_y
    return tg.Tensor(x), tg.Tensor(y)


class Model(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(1, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        out, _ = self.rnn(x)
        T, N, H = out.shape
        return self.head(out.reshape(T * N, H)).reshape(T, N, 1)


def build(args: argparse.Namespace) -> tuple[Model, list, tg.Tensor, tg.Tensor]:
    tg.manual_seed(args.seed)  # identical initial weights for every method
    model = Model(args.hidden).double()
    x, y = make_data(np.random.default_rng(args.seed), args.batch, args.length)
    return model, list(model.parameters()), x, y


def run_first_order(kind: str, args: argparse.Namespace) -> list:
    """Loss after each gradient evaluation: [(evals, loss), ...] for SGD or Adam."""
    model, params, x, y = build(args)
    opt = optim.SGD(params, lr=args.sgd_lr) if kind == "sgd" else optim.Adam(params, lr=args.adam_lr)
    curve = []
    for k in range(1, args.budget + 1):
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append((k, float(loss.item())))  # the loss at which this gradient was taken
    with tg.no_grad():
        curve.append((args.budget, float(F.mse_loss(model(x), y).item())))
    return curve


def run_truncated_newton(args: argparse.Namespace) -> tuple[list, dict, Model, list, tg.Tensor, tg.Tensor]:
    model, params, x, y = build(args)
    loss_fn = lambda: F.mse_loss(model(x), y)
    residual_fn = (lambda: model(x) - y) if args.curvature == "gn" else None
    lam, used, curve = args.damping, 0, []
    counts = {"steps": 0, "rejected": 0, "fallbacks": 0, "negative_curvature": 0}
    while used < args.budget:
        cg = min(args.cg_iters, args.budget - used - 1)
        if cg < 1:
            break
        start = [p.data.clone() for p in params]
        st = truncated_newton_step(loss_fn, params, cg_iters=cg, damping=lam, residual_fn=residual_fn)
        used += st["grad_evals"]
        counts["steps"] += 1
        counts["fallbacks"] += st["fallback"]
        counts["negative_curvature"] += st["negative_curvature"]
        if not np.isfinite(st["loss_after"]) or st["loss_after"] > st["loss_before"]:
            for p, s in zip(params, start):  # undo: rebinding .data restores the previous point exactly
                p.data = s
            lam *= 3.0
            counts["rejected"] += 1
            curve.append((used, st["loss_before"]))
        else:
            lam *= 2.0 / 3.0
            curve.append((used, st["loss_after"]))
    counts["final_damping"] = lam
    return curve, counts, model, params, x, y


def top_eigs(model: Model, params: list, x: tg.Tensor, y: tg.Tensor, args: argparse.Namespace) -> list:
    res = hessian_top_eigenvalues(lambda: F.mse_loss(model(x), y), params, k=args.eigs, iters=args.eig_iters)
    return [float(v) for v in res["eigenvalues"]]


def plot(curves: dict, out: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    os.makedirs(out, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, c in curves.items():
        ax.plot([e for e, _ in c], [v for _, v in c], label=name, marker="." if name.startswith("truncated") else None)
    ax.set_yscale("log")
    ax.set_xlabel("gradient-evaluation equivalents (1 HVP = 1)")
    ax.set_ylabel("training MSE")
    ax.legend()
    path = os.path.join(out, "pathologies_second_order.png")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=300, help="gradient-evaluation equivalents per method")
    ap.add_argument("--cg-iters", type=int, default=10, help="max CG iterations per truncated-Newton step")
    ap.add_argument("--damping", type=float, default=1.0, help="initial damping λ (adapted during training)")
    ap.add_argument("--curvature", choices=("gn", "hessian"), default="gn")
    ap.add_argument("--hidden", type=int, default=8)
    ap.add_argument("--length", type=int, default=12)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--sgd-lr", type=float, default=0.1)
    ap.add_argument("--adam-lr", type=float, default=0.01)
    ap.add_argument("--eigs", type=int, default=3, help="how many top Hessian eigenvalues to report")
    ap.add_argument("--eig-iters", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="", help="directory for the loss-curve PNG (needs matplotlib)")
    args = ap.parse_args(argv)
    if args.budget < 2:
        ap.error("--budget must be >= 2 (a truncated-Newton step needs a gradient and one product)")

    t0 = time.perf_counter()
    model, params, x, y = build(args)
    loss0, _ = gradient(lambda: F.mse_loss(model(x), y), params)
    eig_init = top_eigs(model, params, x, y, args)
    print(
        f"{sum(p.numel() for p in params)} parameters; initial MSE {loss0:.4f}; "
        f"top |λ| of the Hessian at init: {', '.join(f'{v:.4g}' for v in eig_init)}"
    )
    print(f"budget: {args.budget} gradient-evaluation equivalents each (one HVP/GN product counted as one gradient)")

    curves = {"sgd": run_first_order("sgd", args), "adam": run_first_order("adam", args)}
    tn_curve, counts, tn_model, tn_params, _, _ = run_truncated_newton(args)
    curves[f"truncated Newton ({args.curvature})"] = tn_curve
    final = {name: c[-1][1] for name, c in curves.items()}
    for name, c in curves.items():
        marks = [c[min(len(c) - 1, int(f * (len(c) - 1)))] for f in (0.0, 0.25, 0.5, 0.75, 1.0)]
        print(f"{name:26s} " + "  ".join(f"{e:4d}:{v:.4f}" for e, v in marks))
    print(
        f"truncated Newton: {counts['steps']} steps, {counts['rejected']} rejected, "
        f"{counts['fallbacks']} gradient fallbacks, {counts['negative_curvature']} stopped at negative "
        f"curvature, final λ {counts['final_damping']:.3g}"
    )
    eig_final = top_eigs(tn_model, tn_params, x, y, args)
    print(f"top |λ| of the Hessian after truncated Newton: {', '.join(f'{v:.4g}' for v in eig_final)}")
    path = plot(curves, args.out) if args.out else None
    if args.out and path is None:
        print("matplotlib is not installed; no plot written")
    elif path:
        print(f"wrote {path}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    return {
        "initial_loss": loss0,
        "final": final,
        "curves": curves,
        "tn_counts": counts,
        "eig_init": eig_init,
        "eig_final": eig_final,
        "plot": path,
    }


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
