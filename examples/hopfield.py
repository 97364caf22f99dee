"""Hopfield network: store ±1 patterns, recall them from noisy probes by energy descent, measure capacity.

    python examples/hopfield.py [--n 100] [--patterns 5] [--noise 0.15] [--trials 5] [--plot PATH]

The notes' energy E(a) = −½ Σ_{i≠j} w_ij a_i a_j − Σ b_i a_i stores memories as local minima. Hebbian
storage w = (1/n) Σ_p x_p x_pᵀ (zero diagonal) puts each pattern near a minimum; asynchronous updates
a_i ← sign(Σ_{j≠i} w_ij a_j + b_i) never raise E, so a noisy probe rolls downhill to the nearest memory. With
too many random patterns the minima merge into spurious ones: recall collapses near P ≈ 0.14 n.
``--plot PATH`` saves the energy descent and the capacity curve as a PNG when matplotlib is installed.
"""

from __future__ import annotations

import argparse

import numpy as np

from tinygrad_rnn.models.hopfield import HopfieldNetwork, capacity_curve, flip


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="number of units")
    ap.add_argument("--patterns", type=int, default=5, help="patterns stored for the recall demo")
    ap.add_argument("--noise", type=float, default=0.15, help="fraction of bits flipped in each probe")
    ap.add_argument("--trials", type=int, default=5, help="networks per point of the capacity curve")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default=None, help="save a PNG of the energy descent and capacity curve here")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    pats = rng.choice([-1.0, 1.0], size=(args.patterns, args.n))
    net = HopfieldNetwork(args.n).store(pats)
    recalled, traces = 0, []
    for k, x in enumerate(pats):
        probe = flip(x, args.noise, rng)
        state, energies, converged = net.recall(probe, seed=args.seed + k)
        ok = bool(np.array_equal(state, x))
        recalled += ok
        traces.append(energies)
        print(
            f"pattern {k}: {int((probe != x).sum())} bits flipped, E {energies[0]:8.3f} -> {energies[-1]:8.3f} "
            f"(stored pattern E {net.energy(x):8.3f}) after {len(energies) - 1} updates, "
            f"{'recalled' if ok else 'NOT recalled'}{'' if converged else ' (no fixed point)'}"
        )
    print(f"recalled {recalled}/{args.patterns} from {args.noise:.0%} noise")

    counts = sorted({max(1, round(f * args.n)) for f in (0.02, 0.05, 0.08, 0.11, 0.14, 0.17, 0.2, 0.25, 0.3)})
    curve = capacity_curve(args.n, counts, noise=args.noise, trials=args.trials, seed=args.seed)
    print(f"capacity (n = {args.n}, {args.noise:.0%} noise, {args.trials} trials): fraction recalled exactly")
    for p, f in zip(counts, curve):
        print(f"  P = {p:3d} (P/n = {p / args.n:.2f})  {f:.2f}  {'#' * round(40 * f)}")

    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed; no plot written")
        else:
            fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
            for e in traces:
                ax1.plot(e)
            ax1.set(xlabel="single-unit update", ylabel="energy E", title="asynchronous recall")
            ax2.plot(np.array(counts) / args.n, curve, "o-")
            ax2.axvline(0.14, ls="--", c="gray")
            ax2.set(xlabel="patterns stored / n", ylabel="fraction recalled", title="capacity")
            fig.tight_layout()
            fig.savefig(args.plot)
            print(f"wrote {args.plot}")
    return {"recalled": recalled / args.patterns, "counts": counts, "curve": curve.tolist(), "energies": traces}


if __name__ == "__main__":
    main()
