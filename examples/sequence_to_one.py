"""Sequence-to-one: classify variable-length sequences from the state at each sequence's own end.

    python examples/sequence_to_one.py [--cell gru|lstm|rnn] [--steps 300] [--seed 0]

Task: each item is a sequence of ±1 of length 3..31 (odd, so there are no ties); the label says whether
it holds more +1 than -1. Items are padded into one (T, N, 1) batch and passed with ``lengths``, so
the layer stops updating each item at its own last step and ``h_n[-1]`` is that item's final state:
the notes' "one output unit at the end of each item", o = g(w^(o) · a_{t_i} + b^(o)).
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}


def make_batch(rng: np.random.Generator, n: int, t_max: int = 31) -> tuple:
    lengths = 2 * rng.integers(1, (t_max + 1) // 2, n) + 1
    x = rng.choice([-1.0, 1.0], (t_max, n, 1)).astype(np.float32)
    x[np.arange(t_max)[:, None] >= lengths[None, :]] = 0.0  # padding (ignored thanks to lengths)
    return x, lengths, (x.sum(axis=(0, 2)) > 0).astype(np.int64)


class Classifier(nn.Module):
    def __init__(self, cell: str, hidden: int) -> None:
        super().__init__()
        self.rnn = CELLS[cell](1, hidden)
        self.out = nn.Linear(hidden, 2)

    def forward(self, x: tg.Tensor, lengths: np.ndarray) -> tg.Tensor:
        _, h_n = self.rnn(x, lengths=lengths)
        h_n = h_n[0] if isinstance(h_n, tuple) else h_n  # LSTM returns (h_n, c_n)
        return self.out(h_n[-1])  # (N, 2): one output per item


def main(argv: list | None = None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", choices=sorted(CELLS), default="gru")
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = Classifier(args.cell, args.hidden)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    for step in range(1, args.steps + 1):
        x, lengths, y = make_batch(rng, args.batch)
        loss = F.cross_entropy(model(tg.Tensor(x), lengths), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0:
            print(f"step {step:4d}  loss {loss.item():.3f}")
    x, lengths, y = make_batch(np.random.default_rng(12345), 2000)
    with tg.no_grad():
        acc = float((model(tg.Tensor(x), lengths).numpy().argmax(-1) == y).mean())
    print(f"held-out accuracy ({args.cell}, 2000 sequences of length 3..31): {acc:.3f}")
    return acc


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
