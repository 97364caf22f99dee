"""A tiny GAN learns a 1-D mixture of two Gaussians; the score is how much of each mode its samples cover.

    python examples/gan_mixture.py [--steps 1500] [--modes -2 2] [--std 0.25] [--seed 0] [--plot PATH]

Generator and discriminator are small ReLU MLPs built from the framework's Linear layers; the losses are
binary cross-entropy on logits with the non-saturating generator loss −log σ(D(G(z))), and each player
has its own Adam. A GAN that collapses puts (almost) all samples on one mode: the per-mode fractions show
it. ``--plot PATH`` saves a histogram of samples against the data when matplotlib is installed.
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.models.generative import gaussian_mixture_sampler, train_gan


def mode_fractions(x: np.ndarray, modes: list, radius: float) -> list:
    """Fraction of 1-D samples within ``radius`` of each mode."""
    x = np.asarray(x).reshape(-1)
    return [float(np.mean(np.abs(x - m) < radius)) for m in modes]


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--modes", type=float, nargs="+", default=[-2.0, 2.0])
    ap.add_argument("--std", type=float, default=0.25)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default=None, help="save a PNG histogram of samples vs data here")
    args = ap.parse_args(argv)

    tg.manual_seed(args.seed)
    sampler = gaussian_mixture_sampler(args.modes, args.std, seed=args.seed)
    gan, hist = train_gan(
        sampler, args.steps, data_dim=1, batch=args.batch, lr_g=args.lr, lr_d=args.lr, log_every=max(1, args.steps // 6)
    )
    with tg.no_grad():
        x = gan.generate(gan.noise(args.samples)).numpy().reshape(-1)
    radius = 3 * args.std
    fr = mode_fractions(x, args.modes, radius)
    data_fr = mode_fractions(sampler(args.samples), args.modes, radius)
    for m, f, d in zip(args.modes, fr, data_fr):
        print(f"mode {m:+.2f}: {f:.3f} of samples within {radius:.2f} (data {d:.3f})")
    print(f"samples mean {x.mean():+.3f} std {x.std():.3f}; off every mode {1 - sum(fr):.3f}")
    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed; no plot written")
        else:
            plt.hist(sampler(args.samples).reshape(-1), bins=80, alpha=0.5, density=True, label="data")
            plt.hist(x, bins=80, alpha=0.5, density=True, label="GAN samples")
            plt.legend()
            plt.savefig(args.plot)
            print(f"wrote {args.plot}")
    return {"mode_fractions": fr, "d_loss": hist["d_loss"][-1], "g_loss": hist["g_loss"][-1], "samples": x}


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
