"""Character-level LSTM language model, trained with truncated BPTT: the project's main demo (``make demo``).

    python examples/char_lstm.py [--corpus pydoc|zen|PATH] [--steps 800] [--temperature 0.6] [--seed 0]

The model, the data and the training loop are the library's (:mod:`tinygrad_rnn.apps.charlm`); this
script chooses the settings, shows what happens and says what to do next:

* the corpus (``pydoc``, the default) is the prose of the Python language reference that ships with
  Python (``pydoc_data``, cleaned of its markup: see :mod:`tinygrad_rnn.apps.corpus`); ``zen`` is the
  Zen of Python; anything else is a path to a UTF-8 text file;
* the model, ``CharLM``, is Embedding -> LSTM -> Linear over the characters, one prediction per step;
* the text is cut into ``--batch`` parallel streams, walked in windows of ``--bptt`` characters. Each
  window is one optimizer step (``Trainer.train_step``): run the LSTM over it from the state the
  previous window left, cross-entropy against the next characters, backward, clip the gradient norm,
  Adam, then detach the state, so that the next window starts from it without backpropagating into this
  one (stateful truncated BPTT).

At the end it prints a sample at ``--temperature``, writes the checkpoint (resumable with
``tinygrad-rnn train --resume``) and the loss curve as a PNG next to it, and the commands that sample
from the checkpoint and draw the trained model's unfolded graph.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import time

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.apps.charlm import TrainConfig, Trainer, sample, save_loss_curve
from tinygrad_rnn.apps.training import run_training


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Train a character-level LSTM with truncated BPTT, then sample.")
    ap.add_argument("--corpus", default="pydoc", help="pydoc | zen | path to a UTF-8 text file")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--steps", type=int, default=800, help="optimizer steps (one BPTT window each)")
    ap.add_argument("--batch", type=int, default=32, help="parallel streams")
    ap.add_argument("--bptt", type=int, default=64, help="window length k of truncated BPTT")
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--clip", type=float, default=1.0, help="max gradient norm")
    ap.add_argument("--seed", type=int, default=0, help="seeds the weights and the sample")
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--prompt", default="The ", help="text the sample starts from")
    ap.add_argument("--sample-len", type=int, default=300)
    ap.add_argument("--out", default=os.path.join("runs", "char_lstm.npz"), help="checkpoint path")
    return ap.parse_args(argv)


def demo_sample(trainer: Trainer, args: argparse.Namespace) -> str:
    """The demo's sample; ``tinygrad-rnn sample`` draws the same one from the checkpoint (same seed)."""
    rng = np.random.default_rng(args.seed)
    return sample(trainer.model, trainer.chars, args.prompt, args.sample_len, args.temperature, rng=rng)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    config = TrainConfig(
        cell="lstm",
        corpus=args.corpus,
        hidden=args.hidden,
        embed=args.embed,
        layers=args.layers,
        batch=args.batch,
        bptt=args.bptt,
        lr=args.lr,
        clip=args.clip,
        seed=args.seed,
    )
    trainer = Trainer(config)
    print(
        f"corpus {args.corpus!r}: {len(trainer.text):,} chars, vocab {len(trainer.chars)}, "
        f"{args.batch} streams of {trainer.t_all:,} steps"
    )
    print(f"model: {trainer.model.num_parameters():,} parameters\n{trainer.model}")

    t0 = time.perf_counter()
    code = run_training(trainer, args.steps, args.out, None)  # a Ctrl-C still leaves a checkpoint
    if code:
        sys.exit(code)
    elapsed, losses = time.perf_counter() - t0, trainer.losses
    first, last = float(np.mean(losses[:10])), float(np.mean(losses[-10:]))
    print(f"\ntrained {args.steps} steps in {elapsed:.1f} s: loss {first:.3f} (first 10) -> {last:.3f} (last 10)")
    marks = np.linspace(0, len(losses) - 1, 6).astype(int)
    print("loss curve: " + "  ".join(f"[{m}] {np.mean(losses[max(0, m - 4) : m + 1]):.3f}" for m in marks))

    text = demo_sample(trainer, args)
    print(f"\nsample (temperature {args.temperature}, seed {args.seed}):\n{'-' * 72}\n{text}\n{'-' * 72}")

    curve = os.path.splitext(args.out)[0] + "_loss.png"
    if save_loss_curve(losses, curve):
        print(f"loss curve written to {curve}")
    else:
        print("matplotlib is not installed: no loss curve PNG (pip install matplotlib)")
    print_next_steps(args)
    return {"first_loss": first, "last_loss": last, "seconds": elapsed, "sample": text}


def print_next_steps(args: argparse.Namespace) -> None:
    """The commands, ready to paste, that continue from the checkpoint."""
    cli = _cli()
    ck = shlex.quote(args.out)
    sample_cmd = (
        f"{cli} sample {ck} --prompt {shlex.quote(args.prompt)} --temperature {args.temperature} "
        f"--length {args.sample_len} --seed {args.seed}"
    )
    print(f"\ncheckpoint: {args.out}")
    print(f"  sample from it (this seed gives the sample above):\n    {sample_cmd}")
    print("  draw the trained model unfolded over 3 steps (svg needs Graphviz; --format dot needs nothing):")
    print(f"    {cli} draw --checkpoint {ck} --steps 3 --out {shlex.quote(os.path.splitext(args.out)[0] + '_T3.svg')}")
    print(f"  train further:\n    {cli} train --checkpoint {ck} --resume --steps {2 * args.steps}")


def _cli() -> str:
    """How to call this installation's ``tinygrad-rnn`` from here (by name when the PATH finds this one)."""
    beside = os.path.join(os.path.dirname(sys.executable), "tinygrad-rnn")
    if not os.path.isfile(beside):
        return f"{shlex.quote(sys.executable)} -m tinygrad_rnn"
    on_path = shutil.which("tinygrad-rnn")
    if on_path and os.path.samefile(on_path, beside):
        return "tinygrad-rnn"
    rel = os.path.relpath(beside)
    return shlex.quote(beside if rel.startswith("..") else rel)


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
