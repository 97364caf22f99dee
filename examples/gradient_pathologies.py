"""Gradient pathologies of BPTT in one run: measure, demonstrate, clip, regularise, look at curvature.

    python examples/gradient_pathologies.py [--out runs/pathologies] [--quick]

1. vanishing and exploding gradients: ‖∂L/∂h_t‖ against the lag for a tanh RNN with small and with large
   recurrent weights and for an LSTM, the fitted decay rate next to the spectral-radius prediction, and a
   heat map of ‖∂L/∂h_t‖ over training (examples/pathologies_vanishing.py);
2. clipping by value and by norm on the exploding case, and the gradient-norm regulariser Ω on a long lag
   (examples/pathologies_clipping.py);
3. second order: truncated-Newton steps against SGD on one budget, and the top Hessian eigenvalues
   (examples/pathologies_second_order.py).

Every part writes its plots into ``--out`` (when matplotlib is installed) and returns its numbers; the
same functions are in ``tinygrad_rnn.diagnostics`` for your own models.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib

PARTS = ["pathologies_vanishing", "pathologies_clipping", "pathologies_second_order"]
QUICK = {
    "pathologies_vanishing": ["--T", "20", "--train-steps", "3"],
    "pathologies_clipping": ["--steps", "20", "--lag-steps", "20"],
    "pathologies_second_order": ["--budget", "30", "--eig-iters", "5"],
}


def _load(name: str):
    path = pathlib.Path(__file__).resolve().parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/pathologies", help="folder for the plots")
    ap.add_argument("--quick", action="store_true", help="small settings (a smoke run)")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results = {}
    for name in PARTS:
        print(f"\n=== {name} ===")
        part_args = ["--out", args.out] + (QUICK[name] if args.quick else [])
        results[name] = _load(name).main(part_args)
    return results


if __name__ == "__main__":
    main()
