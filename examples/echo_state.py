"""Echo state network on Mackey–Glass: only a linear readout is trained, in closed form.

    python examples/echo_state.py [--reservoir 300] [--train 2000] [--radii 0.5 0.8 0.95 1.0 1.1 1.3] [--plot PATH]

The series (τ = 17, chaotic) is generated locally and standardised. The reservoir reads u_t = y_t and the
ridge readout predicts y_{t+1}. Scores are NRMSE (1.0 = predicting the mean) on held-out steps: one-step
prediction (driven by the true series) and free running (each prediction fed back as the next input, after
a warm-up on the training part), over the first ``--horizon`` generated steps. The sweep over the spectral
radius shows the notes' "edge of stability": too small forgets the past quickly, too large turns chaotic.
``--plot PATH`` writes a PNG of the free-running forecast when matplotlib is importable.
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.models.esn import EchoStateNetwork, mackey_glass, nrmse


def evaluate(
    series: np.ndarray,
    radius: float,
    reservoir: int,
    n_train: int,
    washout: int,
    horizon: int,
    leak: float,
    input_scaling: float,
    ridge: float,
    seed: int,
) -> tuple:
    """Returns (one-step NRMSE, free-running NRMSE, the model, generated (horizon,) array)."""
    u = tg.Tensor(series[:-1].reshape(-1, 1, 1))  # (T, 1, 1): one long sequence
    y = series[1:].reshape(-1, 1, 1)  # y[t] is the value after u[t]
    esn = EchoStateNetwork(
        1, reservoir, spectral_radius=radius, input_scaling=input_scaling, leak_rate=leak, density=0.1, seed=seed
    )
    X = esn.run_reservoir(u)
    esn.fit_ridge(X[washout:n_train], y[washout:n_train], ridge)  # the first states still remember x_0 = 0
    with tg.no_grad():
        one = nrmse(esn.readout(X[n_train:]).numpy(), y[n_train:])
    gen = esn.generate(u[:n_train], horizon).numpy().reshape(-1)  # gen[k] predicts series[n_train + k]
    truth = series[n_train : n_train + horizon]
    free = nrmse(gen, truth) if np.isfinite(gen).all() else float("inf")
    return one, free, esn, gen


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reservoir", type=int, default=300)
    ap.add_argument("--train", type=int, default=2000, help="training steps (the rest is held out)")
    ap.add_argument("--test", type=int, default=500, help="held-out steps for one-step prediction")
    ap.add_argument("--washout", type=int, default=100)
    ap.add_argument("--horizon", type=int, default=100, help="free-running steps scored")
    ap.add_argument("--radius", type=float, default=0.95)
    ap.add_argument("--radii", type=float, nargs="*", default=[0.5, 0.8, 0.95, 1.0, 1.1, 1.3])
    ap.add_argument("--leak", type=float, default=0.3)
    ap.add_argument("--input-scaling", type=float, default=0.5)
    ap.add_argument("--ridge", type=float, default=1e-6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default=None, help="write a PNG of the free-running forecast here")
    args = ap.parse_args(argv)
    if args.test < args.horizon:
        ap.error("--test must be >= --horizon (the free-running truth comes from the held-out part)")

    tg.set_default_dtype("float64")  # ridge regression on tanh states: float64 keeps the small errors honest
    raw = mackey_glass(args.train + args.test + 1)
    series = (raw - raw.mean()) / raw.std()
    one, free, esn, gen = evaluate(
        series,
        args.radius,
        args.reservoir,
        args.train,
        args.washout,
        args.horizon,
        args.leak,
        args.input_scaling,
        args.ridge,
        args.seed,
    )
    print(
        f"Mackey–Glass τ=17, reservoir {args.reservoir}, measured spectral radius {esn.spectral_radius_:.6f}, "
        f"trainable parameters {esn.num_parameters()} (readout only)"
    )
    print(f"one-step NRMSE {one:.5f}   free-running NRMSE over {args.horizon} steps {free:.5f}")
    sweep = {}
    print("spectral radius sweep:  radius  one-step  free-running")
    for r in args.radii:
        o, f, _, _ = evaluate(
            series,
            r,
            args.reservoir,
            args.train,
            args.washout,
            args.horizon,
            args.leak,
            args.input_scaling,
            args.ridge,
            args.seed,
        )
        sweep[r] = (o, f)
        print(f"                        {r:6.2f}  {o:8.5f}  {f:12.5f}")
    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not importable; no plot written")
        else:
            fig, ax = plt.subplots(figsize=(8, 3))
            t = np.arange(args.horizon)
            ax.plot(t, series[args.train : args.train + args.horizon], label="Mackey–Glass")
            ax.plot(t, gen, "--", label=f"ESN free running (ρ={args.radius})")
            ax.set_xlabel("steps after training")
            ax.legend()
            fig.tight_layout()
            fig.savefig(args.plot, dpi=100)
            plt.close(fig)
            print(f"wrote {args.plot}")
    return {"one_step_nrmse": one, "free_running_nrmse": free, "spectral_radius": esn.spectral_radius_, "sweep": sweep}


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
