"""The character-level LSTM demo: ``make demo``, ``python examples/char_lstm.py`` and ``tinygrad-rnn demo``.

One implementation behind the three: :class:`DemoConfig` holds the demo's settings (chosen so that about
a minute of training on 2 CPU cores gives a readable sample), :func:`add_arguments` turns them into
command-line options and :func:`run_demo` runs the demo:

1. build a :class:`~tinygrad_rnn.apps.charlm.Trainer` (``CharLM``: Embedding -> LSTM -> Linear) on the
   corpus and say what it is;
2. train it with :func:`~tinygrad_rnn.apps.training.run_training`: one Adam step per window of ``bptt``
   characters of ``batch`` parallel streams, the detached state carried to the next window (stateful
   truncated BPTT), progress as a live bar on a terminal or a line per 10 % of the steps in a log, and
   the checkpoint written at the end (or on Ctrl-C, which ends the demo with status 130);
3. print the loss, a sample at ``temperature`` drawn with its own generator seeded by ``seed`` (so that
   ``tinygrad-rnn sample ... --seed`` draws the same one from the checkpoint) and write the loss curve
   as a PNG next to the checkpoint (with matplotlib);
4. print the commands, ready to paste, that sample from the checkpoint, draw the trained model's
   unfolded graph and train further.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from . import charlm
from .training import run_training

DESCRIPTION = (
    "Train a character-level LSTM with truncated BPTT, sample text, save a resumable checkpoint and the "
    "loss curve, and print the commands that continue from them."
)


def positive(kind: type) -> Any:
    """An argparse ``type=`` that accepts only positive values of ``kind`` (int or float)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


@dataclass
class DemoConfig(charlm.TrainConfig):
    """The demo's settings: a char-LSTM :class:`~tinygrad_rnn.apps.charlm.TrainConfig` (``cell`` stays
    ``"lstm"``; no option changes it) with larger defaults, then the length of the run, the sample and
    where the checkpoint goes. The defaults are what ``make demo`` runs (about a minute on 2 cores)."""

    # the training settings whose demo default differs from TrainConfig's (the rest are inherited)
    corpus: str = "pydoc"
    hidden: int = 256
    batch: int = 32
    bptt: int = 64
    lr: float = 5e-3
    # the demo's own: where the checkpoint goes, how long to train, what to sample
    out: str = os.path.join("runs", "char_lstm.npz")
    steps: int = 800
    temperature: float = 0.6
    prompt: str = "The "
    sample_len: int = 300
    no_progress: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DemoConfig:
        """The settings of options parsed by a parser that :func:`add_arguments` filled."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)})

    def train_config(self) -> charlm.TrainConfig:
        """The :class:`~tinygrad_rnn.apps.charlm.TrainConfig` part alone (what the checkpoint records)."""
        return charlm.TrainConfig(**{f.name: getattr(self, f.name) for f in fields(charlm.TrainConfig)})


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The demo's options, with :class:`DemoConfig`'s defaults."""
    d = DemoConfig()
    pos_int, pos_float = positive(int), positive(float)
    ap.add_argument("--corpus", default=d.corpus, help="pydoc | zen | path to a UTF-8 text file (default: %(default)s)")
    ap.add_argument("--hidden", type=pos_int, default=d.hidden, help="LSTM units (default: %(default)s)")
    ap.add_argument("--embed", type=pos_int, default=d.embed, help="embedding size (default: %(default)s)")
    ap.add_argument("--layers", type=pos_int, default=d.layers, help="stacked LSTM layers (default: %(default)s)")
    ap.add_argument("--steps", type=pos_int, default=d.steps, help="optimizer steps (default: %(default)s)")
    ap.add_argument("--batch", type=pos_int, default=d.batch, help="parallel streams (default: %(default)s)")
    ap.add_argument(
        "--bptt", type=pos_int, default=d.bptt, help="window length of truncated BPTT (default: %(default)s)"
    )
    ap.add_argument("--lr", type=pos_float, default=d.lr, help="Adam learning rate (default: %(default)s)")
    ap.add_argument("--clip", type=pos_float, default=d.clip, help="max gradient norm (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=d.seed, help="seeds the weights and the sample (default: %(default)s)")
    ap.add_argument(
        "--temperature", type=pos_float, default=d.temperature, help="sampling temperature (default: %(default)s)"
    )
    ap.add_argument("--prompt", default=d.prompt, help="text the sample starts from (default: %(default)r)")
    ap.add_argument(
        "--sample-len", type=pos_int, default=d.sample_len, help="characters to sample (default: %(default)s)"
    )
    ap.add_argument("--out", default=d.out, help="checkpoint path; the PNG goes next to it (default: %(default)s)")
    ap.add_argument(
        "--no-progress", action="store_true", help="print plain progress lines even on a terminal (no tqdm bar)"
    )


@dataclass
class DemoResult:
    """What :func:`run_demo` did: ``code`` 0, or 130 after Ctrl-C (the checkpoint holds the last step)."""

    code: int
    checkpoint: str
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    sample: str = ""
    curve: str | None = None  # the loss-curve PNG, None without matplotlib

    @property
    def first_loss(self) -> float:
        return float(np.mean(self.losses[:10]))

    @property
    def last_loss(self) -> float:
        return float(np.mean(self.losses[-10:]))


def run_demo(cfg: DemoConfig) -> DemoResult:
    """Train, sample, write the checkpoint and the loss curve, print what to do next (module docstring)."""
    trainer = charlm.Trainer(cfg.train_config())
    print(
        f"corpus {cfg.corpus!r}: {len(trainer.text):,} chars, vocab {len(trainer.chars)}, "
        f"{cfg.batch} streams of {trainer.t_all:,} steps"
    )
    print(f"model: {trainer.model.num_parameters():,} parameters\n{trainer.model}")

    t0 = time.perf_counter()
    code = run_training(trainer, cfg.steps, cfg.out, None, plain=cfg.no_progress)  # Ctrl-C: 130, checkpointed
    result = DemoResult(code, cfg.out, trainer.losses, time.perf_counter() - t0)
    if code:
        return result
    print(
        f"\ntrained {cfg.steps} steps in {result.seconds:.1f} s: "
        f"loss {result.first_loss:.3f} (first 10) -> {result.last_loss:.3f} (last 10)"
    )
    losses = trainer.losses
    marks = np.linspace(0, len(losses) - 1, 6).astype(int)
    print("loss curve: " + "  ".join(f"[{m}] {np.mean(losses[max(0, m - 4) : m + 1]):.3f}" for m in marks))

    result.sample = demo_sample(trainer.model, trainer.chars, cfg)
    print(f"\nsample (temperature {cfg.temperature}, seed {cfg.seed}):\n{'-' * 72}\n{result.sample}\n{'-' * 72}")

    curve = os.path.splitext(cfg.out)[0] + "_loss.png"
    if charlm.save_loss_curve(losses, curve):
        result.curve = curve
        print(f"loss curve written to {curve}")
    else:
        print("matplotlib is not installed: no loss curve PNG (pip install matplotlib)")
    print_next_steps(cfg)
    return result


def demo_sample(model: charlm.CharLM, chars: list[str], cfg: DemoConfig) -> str:
    """The demo's sample; ``tinygrad-rnn sample`` draws the same one from the checkpoint (same seed)."""
    rng = np.random.default_rng(cfg.seed)
    return charlm.sample(model, chars, cfg.prompt, cfg.sample_len, cfg.temperature, rng=rng)


def print_next_steps(cfg: DemoConfig) -> None:
    """The commands, ready to paste, that continue from the checkpoint."""
    cli = cli_command()
    ck = shlex.quote(cfg.out)
    sample_cmd = (
        f"{cli} sample {ck} --prompt {shlex.quote(cfg.prompt)} --temperature {cfg.temperature} "
        f"--length {cfg.sample_len} --seed {cfg.seed}"
    )
    svg = shlex.quote(os.path.splitext(cfg.out)[0] + "_T3.svg")
    print(f"\ncheckpoint: {cfg.out}")
    print(f"  sample from it (this seed gives the sample above):\n    {sample_cmd}")
    print("  draw the trained model unfolded over 3 steps (svg needs Graphviz; --format dot needs nothing):")
    print(f"    {cli} draw --checkpoint {ck} --steps 3 --out {svg}")
    print(f"  train further:\n    {cli} train --checkpoint {ck} --resume --steps {2 * cfg.steps}")


def cli_command() -> str:
    """How to call this installation's ``tinygrad-rnn`` from here (by name when the PATH finds this one)."""
    beside = os.path.join(os.path.dirname(sys.executable), "tinygrad-rnn")
    if not os.path.isfile(beside):
        return f"{shlex.quote(sys.executable)} -m tinygrad_rnn"
    on_path = shutil.which("tinygrad-rnn")
    if on_path and os.path.samefile(on_path, beside):
        return "tinygrad-rnn"
    rel = os.path.relpath(beside)
    return shlex.quote(beside if rel.startswith("..") else rel)
