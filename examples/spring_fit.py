"""Fit a driven spring's k/m and A/m by back-propagation through its Euler integrator.

    python examples/spring_fit.py [--steps 300] [--length 200] [--h 0.05] [--plot spring.png]

The notes' example m s'' = -k s + A cos t, integrated with Euler's method (s_{t+1} = s_t + h v_t,
v_{t+1} = v_t + h (A/m cos t - k/m s_t)), is a recurrent net whose only parameters are k/m and A/m. We
simulate a trajectory with the true values (plus optional observation noise), start a second cell from a
wrong guess, and fit the two parameters with Adam on the trajectory MSE: every step back-propagates through
all T integration steps (BPTT). ``--plot PATH`` saves true vs fitted trajectories as a PNG when matplotlib is
importable.
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import optim
from tinygrad_rnn.models.dynamics import EulerSpringCell


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--true-k", type=float, default=2.0, help="true k/m")
    ap.add_argument("--true-a", type=float, default=0.8, help="true A/m")
    ap.add_argument("--init-k", type=float, default=1.2, help="starting guess for k/m")
    ap.add_argument("--init-a", type=float, default=0.0, help="starting guess for A/m")
    ap.add_argument("--h", type=float, default=0.05, help="Euler step size")
    ap.add_argument("--length", type=int, default=200, help="trajectory length T (time T*h)")
    ap.add_argument("--s0", type=float, default=1.0)
    ap.add_argument("--v0", type=float, default=0.0)
    ap.add_argument("--noise", type=float, default=0.0, help="std of Gaussian noise on the observed trajectory")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", type=str, default=None, help="save true vs fitted trajectory to this PNG")
    args = ap.parse_args(argv)

    tg.manual_seed(args.seed)
    # float64: the fit is two numbers, so precision is free and makes the recovered values exact to print
    tg.set_default_dtype("float64")
    try:
        truth = EulerSpringCell(args.true_k, args.true_a, h=args.h)
        with tg.no_grad():
            target = truth.simulate(args.s0, args.v0, args.length).numpy()
        observed = tg.Tensor(target + args.noise * np.random.default_rng(args.seed).standard_normal(target.shape))

        cell = EulerSpringCell(args.init_k, args.init_a, h=args.h)
        opt = optim.Adam(cell.parameters(), lr=args.lr)
        every = max(1, args.steps // 8)
        for step in range(1, args.steps + 1):
            diff = cell.simulate(args.s0, args.v0, args.length) - observed
            loss = (diff * diff).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % every == 0 or step in (1, args.steps):
                print(
                    f"step {step:5d}  trajectory MSE {loss.item():.3e}  k/m {cell.k_over_m.item():.4f}  "
                    f"A/m {cell.A_over_m.item():.4f}"
                )

        with tg.no_grad():
            fitted = cell.simulate(args.s0, args.v0, args.length).numpy()
        mse = float(((fitted - target) ** 2).mean())
        k, a = float(cell.k_over_m.item()), float(cell.A_over_m.item())
        rel_k = abs(k - args.true_k) / max(abs(args.true_k), 1e-12)
        print(f"k/m: true {args.true_k:.4f}  learned {k:.4f}  (rel. error {rel_k:.2e})")
        print(
            f"A/m: true {args.true_a:.4f}  learned {a:.4f}  (rel. error "
            f"{abs(a - args.true_a) / max(abs(args.true_a), 1e-12):.2e})"
        )
        print(f"trajectory MSE vs the noiseless truth: {mse:.3e}")
        if args.plot:
            _plot(args.plot, args.h, target, fitted)
        return {"k_over_m": k, "A_over_m": a, "mse": mse, "last_loss": loss.item()}
    finally:
        tg.set_default_dtype("float32")  # leave the process as we found it (main() is also called from tests)


def _plot(path: str, h: float, target: np.ndarray, fitted: np.ndarray) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the plot is a convenience; the fit and its numbers do not need it
        print("matplotlib is not importable; skipping --plot")
        return
    t = h * np.arange(1, len(target) + 1)
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(t, target[:, 0], label="s (true)")
    ax.plot(t, fitted[:, 0], "--", label="s (fitted)")
    ax.set_xlabel("t")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"saved {path}")


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
