"""The copy task: a Neural Turing Machine against an LSTM of about the same size.

    python examples/ntm_copy.py [--steps 2500] [--width 6] [--max-len 8] [--seed 0] [--plot ntm_copy.png]

Task (Graves et al., 2014): the input is L random binary vectors of ``width`` bits, then one step with
only the delimiter channel on, then L blank steps; the target is the same L vectors, emitted during the
blank steps. An LSTM must hold all L·width bits in its state; the NTM can write each vector to a memory
slot, shift its write head along, and read the slots back in order. Both models are trained with the same
batches (L uniform in 1..max-len, one L per batch), Adam and clipping; the score is the bit error per
sequence (wrong bits after thresholding the logits at 0, summed over the L·width target bits), measured on
fresh sequences for every length up to ``--test-max-len`` (longer than training shows generalisation).
``--plot`` writes the NTM's read and write weightings (time × memory slot) for one sequence.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models.ntm import NTM
from tinygrad_rnn.nn.losses import binary_cross_entropy_with_logits


class LSTMBaseline(nn.Module):
    """nn.LSTM + a linear read-out per step: ``(T, B, I) -> (T, B, O)`` logits, like :class:`NTM`."""

    def __init__(self, input_size: int, output_size: int, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden)
        self.head = nn.Linear(hidden, output_size)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        out, _ = self.lstm(x)
        return self.head(out)


def copy_batch(rng: np.random.Generator, batch: int, length: int, width: int) -> tuple:
    """``(x (2L+1, B, width+1), bits (L, B, width))``: bits, delimiter, then L blank steps to answer in."""
    T = 2 * length + 1
    x = np.zeros((T, batch, width + 1), dtype=tg.get_default_dtype())
    bits = rng.integers(0, 2, (length, batch, width)).astype(x.dtype)
    x[:length, :, :width] = bits
    x[length, :, width] = 1.0  # the delimiter has its own channel, never on during the data
    return tg.tensor(x), bits


def lstm_hidden_for(params: int, input_size: int, output_size: int) -> int:
    """The LSTM width whose parameter count 4H(I + H + 2) + H·O + O comes closest to ``params``."""
    count = [4 * h * (input_size + h + 2) + h * output_size + output_size for h in range(1, 1024)]
    return 1 + int(np.argmin(np.abs(np.array(count) - params)))


def bit_errors(model: nn.Module, rng: np.random.Generator, length: int, width: int, n: int) -> float:
    """Mean number of wrong bits per sequence of ``length`` vectors (out of length·width)."""
    x, bits = copy_batch(rng, n, length, width)
    with tg.no_grad():
        logits = model(x).numpy()[length + 1 :]
    return float(np.mean(((logits > 0) != (bits > 0.5)).sum(axis=(0, 2))))


def train(model: nn.Module, name: str, args: argparse.Namespace) -> float:
    rng = np.random.default_rng(args.seed)  # the same batches for both models
    params = list(model.parameters())
    opt = optim.Adam(params, lr=args.lr)
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        L = int(rng.integers(1, args.max_len + 1))
        x, bits = copy_batch(rng, args.batch, L, args.width)
        loss = binary_cross_entropy_with_logits(model(x)[L + 1 :], tg.tensor(bits))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)  # NTM addressing can spike early; clipping keeps Adam stable
        opt.step()
        if step % max(1, args.steps // 5) == 0 or step == args.steps:
            print(
                f"  [{name:>4}] step {step:5d}/{args.steps}  loss {loss.item():.4f}  "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    return time.perf_counter() - t0


def save_weightings(model: NTM, args: argparse.Namespace, path: str) -> bool:
    """Read and write weightings (time × slot) for one sequence as a PNG; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    x, _ = copy_batch(np.random.default_rng(7), 1, args.max_len, args.width)
    with tg.no_grad():
        _, w = model(x, return_weights=True)
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5), sharey=True)
    for ax, kind in zip(axes, ("write", "read")):
        ax.imshow(w[kind].numpy()[:, 0, 0, :], cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_title(f"{kind} weighting (head 0)")
        ax.set_xlabel("memory slot")
        ax.axhline(args.max_len, color="w", lw=0.8, ls="--")  # the delimiter step
    axes[0].set_ylabel("time step")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--width", type=int, default=6, help="bits per vector")
    ap.add_argument("--max-len", type=int, default=8, help="longest training sequence L")
    ap.add_argument("--test-max-len", type=int, default=0, help="longest test length (default max-len + 3)")
    ap.add_argument("--slots", type=int, default=16, help="memory slots N")
    ap.add_argument("--mem-width", type=int, default=8, help="memory width M")
    ap.add_argument("--controller", type=int, default=64, help="NTM controller (LSTMCell) size")
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test", type=int, default=200, help="test sequences per length")
    ap.add_argument("--plot", default="", help="save the NTM's read/write weightings here (PNG; needs matplotlib)")
    args = ap.parse_args(argv)
    for what in ("steps", "batch", "width", "max_len", "slots", "mem_width", "controller", "test"):
        if getattr(args, what) <= 0:
            ap.error(f"--{what.replace('_', '-')} must be positive")
    test_max = args.test_max_len or args.max_len + 3
    if args.slots < test_max:
        print(f"note: {args.slots} slots < longest test length {test_max}; the NTM's memory wraps around")
    I, O = args.width + 1, args.width
    tg.manual_seed(args.seed)
    ntm = NTM(I, O, args.controller, args.slots, args.mem_width)
    hidden = lstm_hidden_for(ntm.num_parameters(), I, O)
    tg.manual_seed(args.seed)
    lstm = LSTMBaseline(I, O, hidden)
    result: dict = {"params": {"ntm": ntm.num_parameters(), "lstm": lstm.num_parameters()}, "seconds": {}}
    for name, model in (("ntm", ntm), ("lstm", lstm)):
        print(
            f"training the {name.upper()} ({model.num_parameters()} parameters, {args.steps} steps, "
            f"lengths 1..{args.max_len}, width {args.width})"
        )
        result["seconds"][name] = train(model, name, args)
    lengths = list(range(1, test_max + 1))
    result["bit_errors"] = {
        name: {L: bit_errors(model, np.random.default_rng(10_000 + L), L, args.width, args.test) for L in lengths}
        for name, model in (("ntm", ntm), ("lstm", lstm))
    }
    print(
        f"\nbit errors per sequence ({args.test} fresh sequences per length; L·{args.width} bits each; "
        f"* = longer than training)"
    )
    print(f"  {'L':>3} {'bits':>5} {'NTM':>8} {'LSTM':>8}")
    for L in lengths:
        mark = "*" if L > args.max_len else " "
        print(
            f"  {L:>3}{mark}{L * args.width:>5} {result['bit_errors']['ntm'][L]:>8.3f} "
            f"{result['bit_errors']['lstm'][L]:>8.3f}"
        )
    if args.plot:
        if save_weightings(ntm, args, args.plot):
            print(f"read/write weightings written to {args.plot}")
            result["plot"] = args.plot
        else:
            print("matplotlib is not installed; no plot written")
    return result


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
