"""The ``tinygrad-rnn`` command line (also ``python -m tinygrad_rnn``).

    tinygrad-rnn demo [--steps 800]                          # the character-level LSTM demo (make demo)
    tinygrad-rnn train --model gru --corpus zen --steps 200 --checkpoint runs/gru.npz --every 50
    tinygrad-rnn train --checkpoint runs/gru.npz --resume --steps 400
    mpiexec -n 4 tinygrad-rnn train --batch 8 --checkpoint runs/ddp.npz   # data-parallel: 4 ranks x 8 streams
    tinygrad-rnn sample runs/gru.npz --prompt 'Beautiful ' --length 200 --temperature 0.7
    tinygrad-rnn draw --model lstm --steps 3 --out lstm.svg   # = python -m tinygrad_rnn.graph ...
    tinygrad-rnn draw --checkpoint runs/gru.npz --steps 3 --out gru.svg
    tinygrad-rnn bench --quick                               # = python bench/rnn_bptt.py --quick
    tinygrad-rnn info

Exit status: 0 on success, 1 when a command fails, 2 for a usage error (one line on stderr), 130 when
interrupted with Ctrl-C (training writes a checkpoint of the last completed step first).

``train`` started by an MPI launcher (``mpiexec -n K``: it sees the launcher's environment variables)
joins the job and trains data-parallel: ``--batch`` streams per rank, rank 0 alone reading the corpus
and the checkpoint (the others receive them), writing checkpoints and printing. A SIGINT or SIGTERM
reaching any rank stops all of them after the same step, with a checkpoint, status 128 + the signal.
Open MPI's mpiexec does not forward Ctrl-C, though: it kills the ranks (SIGTERM, then SIGKILL about
0.25 s later), so the checkpoint left may be the last one ``--every`` wrote (never a torn one). See
docs/distributed.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from . import __version__, backend, distributed, kernels, runtime
from .apps import charlm, demo, ranks
from .apps.training import run_training

PROG = "tinygrad-rnn"


class UsageError(Exception):
    """A bad argument found after parsing: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (no usage dump) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


_positive = demo.positive  # argparse type=: a positive int or float


def _save_plot(losses: list[float], path: str) -> None:
    if charlm.save_loss_curve(losses, path):
        print(f"training curve written to {path}")
    else:
        print(f"matplotlib is not installed: --plot {path} skipped (pip install matplotlib)")


def _check_backend(value: str | None) -> None:
    """--backend NAME: the array library is chosen at import from TINYGRAD_RNN_BACKEND; accept only that one."""
    if value is None:
        return
    try:
        wanted, _ = backend.resolve_backend(value)
    except backend.BackendError as e:
        raise UsageError(str(e)) from None
    if wanted != backend.name:
        raise UsageError(
            f"--backend {value} resolves to {wanted!r} but this process runs on {backend.name!r}; "
            f"set {backend.ENV_VAR}={value} in the environment before starting"
        )


# ---- subcommands --------------------------------------------------------------------------------------
def cmd_train(a: argparse.Namespace) -> int:
    """``train``; under an MPI launcher as one rank of a data-parallel job (see the module docstring)."""
    _check_backend(a.backend)
    if a.resume and not a.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH")
    try:
        joined = ranks.join_launched_job()
    except ImportError as e:
        print(f"{PROG} train: error: {e}", file=sys.stderr)
        return 1
    try:
        # an error on some ranks only aborts the job; a Ctrl-C while setting up stops before the first step
        with ranks.errors_end_the_job(), ranks.stop_on_signals():
            return _train(a)
    finally:
        if joined:
            distributed.destroy_process_group()


def _require_checkpoint(path: str) -> None:
    if not os.path.isfile(path):
        raise UsageError(f"--resume: checkpoint {path} does not exist")


def _require_corpus(corpus: str) -> None:
    if corpus not in charlm.BUILTIN_CORPORA and not os.path.isfile(corpus):
        raise UsageError(f"--corpus: {corpus!r} is neither pydoc, zen nor an existing text file")


def _train(a: argparse.Namespace) -> int:
    """Build or resume the Trainer and run it. Files are rank 0's business: it checks and reads them."""
    lead = ranks.world()[1] == 0
    if a.resume:
        ranks.on_rank0(lambda: _require_checkpoint(a.checkpoint))
        trainer = charlm.Trainer.resume(a.checkpoint)
        if lead:
            print(f"resumed {a.checkpoint} at step {trainer.step}")
    else:
        ranks.on_rank0(lambda: _require_corpus(a.corpus))
        cfg = charlm.TrainConfig(
            cell=a.model,
            corpus=a.corpus,
            hidden=a.hidden,
            embed=a.embed,
            layers=a.layers,
            batch=a.batch,
            bptt=a.bptt,
            lr=a.lr,
            clip=a.clip,
            seed=a.seed,
        )
        trainer = charlm.Trainer(cfg)
    c = trainer.config
    kernels.warm_up((c.cell,), backend.get_default_dtype())  # load or compile the loops before the clock starts
    if lead:
        streams = f"{c.batch} streams" if trainer.world == 1 else f"{trainer.world} ranks x {c.batch} streams"
        print(
            f"{c.cell} on {c.corpus!r}: {len(trainer.text):,} chars, vocab {len(trainer.chars)}, "
            f"{trainer.model.num_parameters():,} parameters, {streams}, bptt {c.bptt}"
        )
    code = run_training(trainer, a.steps, a.checkpoint, a.every, plain=a.no_progress)
    if lead and trainer.losses:
        print(f"final loss {trainer.losses[-1]:.6f} at step {trainer.step}")
    if lead and a.plot and trainer.losses:
        _save_plot(trainer.losses, a.plot)
    return code


def cmd_demo(a: argparse.Namespace) -> int:
    """``demo``: the same demo as ``make demo`` (examples/char_lstm.py), :mod:`.apps.demo`."""
    _require_corpus(a.corpus)
    return demo.run_demo(demo.DemoConfig.from_args(a)).code


def cmd_sample(a: argparse.Namespace) -> int:
    if not os.path.isfile(a.checkpoint):
        raise UsageError(f"checkpoint {a.checkpoint} does not exist")
    model, chars, _ = charlm.load_model(a.checkpoint)
    prompt = a.prompt if a.prompt is not None else chars[0]
    print(charlm.sample(model, chars, prompt, a.length, a.temperature, rng=np.random.default_rng(a.seed)))
    return 0


def _draw_checkpoint(argv: list[str]) -> int:
    ap = _Parser(prog=f"{PROG} draw", description="Draw a checkpoint's model unfolded over a few steps.")
    ap.add_argument("--checkpoint", required=True, metavar="PATH")
    ap.add_argument("--steps", "-T", type=_positive(int), default=3, help="steps to unfold (default: 3)")
    ap.add_argument("--detail", choices=("op", "cell"), default="cell", help="default: cell")
    ap.add_argument("--format", choices=("svg", "png", "pdf", "dot"), default="svg")
    ap.add_argument("--out", metavar="PATH", help="output file (default: <checkpoint>_T<steps>.<format>)")
    a = ap.parse_args(argv)
    if not os.path.isfile(a.checkpoint):
        ap.error(f"checkpoint {a.checkpoint} does not exist")
    from .graph import GraphvizMissing, graph, save, saved_line  # noqa: PLC0415
    from .graph.dot import to_dot_text  # noqa: PLC0415
    from .nn import functional as F  # noqa: PLC0415
    from .tensor import Tensor  # noqa: PLC0415

    model, chars, cfg = charlm.load_model(a.checkpoint)
    ids = np.arange(a.steps + 1) % len(chars)
    logits, _ = model(Tensor(ids[:-1, None]))
    loss = F.cross_entropy(logits.reshape(-1, len(chars)), ids[1:])
    g = graph(loss, detail=a.detail, params=dict(model.named_parameters()))
    title = f"{cfg.cell.upper()} char-LM from {os.path.basename(a.checkpoint)}, T = {a.steps}"
    text = to_dot_text(g, title=title)
    try:
        written = save(text, a.out or f"{os.path.splitext(a.checkpoint)[0]}_T{a.steps}.{a.format}", a.format)
    except GraphvizMissing as e:
        print(f"{PROG} draw: error: {e}", file=sys.stderr)
        return 2
    print(saved_line(written))
    return 0


def cmd_draw(rest: list[str]) -> int:
    if "--checkpoint" in rest or any(r.startswith("--checkpoint=") for r in rest):
        return _draw_checkpoint(rest)
    if "-h" in rest or "--help" in rest:
        print(
            f"{PROG} draw: draw a model's unfolded graph. Either a checkpoint's model:\n"
            f"  {PROG} draw --checkpoint PATH [--steps T] [--detail op|cell] [--format svg|png|pdf|dot] "
            "[--out PATH]\nor any option of python -m tinygrad_rnn.graph (below).\n"
        )
    from .graph.__main__ import main as graph_main  # noqa: PLC0415

    try:
        return graph_main(rest)
    except SystemExit as e:  # argparse --help (0) and usage errors (2)
        return e.code if isinstance(e.code, int) else 2


def bench_script() -> Path:
    return Path(__file__).resolve().parent.parent / "bench" / "rnn_bptt.py"


def cmd_bench(rest: list[str]) -> int:
    script = bench_script()
    if not script.is_file():
        print(
            f"{PROG} bench: error: {script} not found; the benchmark suite ships with the source checkout "
            "(bench/), not with the installed package",
            file=sys.stderr,
        )
        return 2
    return subprocess.run([sys.executable, str(script), *rest], check=False).returncode


def _blas_info() -> str:
    try:
        cfg: Any = np.show_config(mode="dicts")
    except TypeError:  # NumPy < 1.26 has no mode argument
        return "unknown (numpy.show_config(mode='dicts') needs NumPy >= 1.26)"
    if not isinstance(cfg, dict):
        return "unknown"
    deps: dict = cfg.get("Build Dependencies", {})
    parts = []
    for key in ("blas", "lapack"):
        d = deps.get(key) or {}
        if d:
            parts.append(f"{key}: {d.get('name', '?')} {d.get('version', '')}".rstrip())
    return "; ".join(parts) or "unknown"


def cmd_info(a: argparse.Namespace) -> int:
    cupy, found = backend._probe_cupy()
    gpu = f"yes (CuPy {cupy.__version__})" if cupy is not None else f"no ({found})"
    info = {
        "tinygrad_rnn": __version__,
        "numpy": np.__version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()}, {sys.platform})",
        "backend": f"{backend.name} ({backend.ENV_VAR}={os.environ.get(backend.ENV_VAR, '') or 'unset'})",
        "default dtype": str(backend.get_default_dtype()),
        "BLAS": _blas_info(),
        "GPU": gpu,
        "malloc tuning": f"{runtime.applied['malloc']} (TINYGRAD_RNN_MALLOC_TUNING="
        f"{os.environ.get('TINYGRAD_RNN_MALLOC_TUNING', 'unset')})",
        "gc tuning": f"{runtime.applied['gc']}, thresholds {gc.get_threshold()} (TINYGRAD_RNN_GC_TUNING="
        f"{os.environ.get('TINYGRAD_RNN_GC_TUNING', 'unset')})",
        "bench suite": str(bench_script()) if bench_script().is_file() else "not available (installed package)",
    }
    if a.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(map(len, info))
        for k, v in info.items():
            print(f"{k:<{width}}  {v}")
    return 0


# ---- parser -------------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog=PROG,
        description="tinygrad_rnn: train, sample, draw and benchmark recurrent nets.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--version", action="version", version=f"tinygrad_rnn {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    d = sub.add_parser(
        "demo", help="the character-level LSTM demo (make demo, examples/char_lstm.py)", description=demo.DESCRIPTION
    )
    demo.add_arguments(d)

    t = sub.add_parser(
        "train",
        help="train a character-level LSTM/GRU/RNN language model with checkpoints",
        description="Train a character-level language model with stateful truncated BPTT. "
        "Checkpoints hold model, optimizer, step, RNG state and data position, so "
        "--resume continues exactly where the run stopped.",
    )
    t.add_argument("--model", choices=charlm.CELLS, default="lstm", help="recurrent family (default: lstm)")
    t.add_argument("--corpus", default="zen", help="pydoc | zen | path to a UTF-8 text file (default: zen)")
    t.add_argument("--hidden", type=_positive(int), default=128)
    t.add_argument("--embed", type=_positive(int), default=64)
    t.add_argument("--layers", type=_positive(int), default=1)
    t.add_argument("--batch", type=_positive(int), default=16, help="parallel streams (per rank under mpiexec)")
    t.add_argument("--steps", type=_positive(int), default=300, help="train until this many steps in total")
    t.add_argument("--bptt", type=_positive(int), default=32, help="window length of truncated BPTT")
    t.add_argument("--clip", type=_positive(float), default=1.0, help="max gradient norm")
    t.add_argument("--lr", type=_positive(float), default=3e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--backend", help=f"array backend ({backend.ENV_VAR} semantics; must match the environment)")
    t.add_argument("--checkpoint", metavar="PATH", help="checkpoint file (written at the end, every N, on Ctrl-C)")
    t.add_argument("--every", type=_positive(int), metavar="N", help="also checkpoint every N steps")
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint (its config wins)")
    t.add_argument("--plot", metavar="PATH", help="save the training curve as PNG (needs matplotlib)")
    t.add_argument(
        "--no-progress", action="store_true", help="print plain progress lines even on a terminal (no tqdm bar)"
    )

    s = sub.add_parser(
        "sample",
        help="generate text from a checkpoint",
        description="Load a checkpoint written by train or demo and generate text.",
    )
    s.add_argument("checkpoint", metavar="CHECKPOINT")
    s.add_argument("--temperature", type=_positive(float), default=0.7)
    s.add_argument("--length", type=_positive(int), default=200)
    s.add_argument("--prompt", help="text to start from (default: the first vocabulary character)")
    s.add_argument("--seed", type=int, default=0)

    sub.add_parser(
        "draw", add_help=False, help="draw an unfolded graph (python -m tinygrad_rnn.graph, or --checkpoint PATH)"
    )
    sub.add_parser("bench", add_help=False, help="run bench/rnn_bptt.py (options passed through)")

    i = sub.add_parser(
        "info",
        help="versions, backend, BLAS, GPU and runtime settings",
        description="Print versions, the array backend, BLAS, GPU presence and runtime settings.",
    )
    i.add_argument("--json", action="store_true", help="machine-readable output")
    return ap


def main(argv: list[str] | None = None) -> int:
    runtime.tune_process()  # the command owns its process (importing the library tunes nothing)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "draw":  # options pass through to other parsers
        return cmd_draw(argv[1:])
    if argv and argv[0] == "bench":
        return cmd_bench(argv[1:])
    ap = parser()
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    handler = {"demo": cmd_demo, "train": cmd_train, "sample": cmd_sample, "info": cmd_info}[a.command]
    try:
        return handler(a)
    except UsageError as e:
        print(f"{PROG} {a.command}: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as e:
        print(f"{PROG} {a.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # outside the training loop (which handles its own): no traceback, still 130
        print(f"\n{PROG} {a.command}: interrupted", file=sys.stderr)
        return 130
