"""Sequence-to-sequence tagging: one output per step, and why a bidirectional layer helps.

    python examples/sequence_to_sequence.py [--steps 300] [--seed 0]

Task: read a sequence of symbols from {0..4} and, at every step t, output the symbol at t+1 (the last
step outputs an end tag). A forward-only GRU cannot see the future, so it stays near chance; a
bidirectional GRU (``bidirectional=True``) reads the sequence from both ends and gets it right. This is
the notes' "one output unit for each activation unit", o_t = g(w^(o) · a_t + b^(o)).
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim

V = 5  # symbols; class V is the end tag


def make_batch(rng: np.random.Generator, n: int, T: int) -> tuple:
    ids = rng.integers(0, V, (T, n))
    tags = np.concatenate([ids[1:], np.full((1, n), V)], axis=0)
    return np.eye(V, dtype=np.float32)[ids], tags


class Tagger(nn.Module):
    def __init__(self, hidden: int, bidirectional: bool) -> None:
        super().__init__()
        self.rnn = nn.GRU(V, hidden, bidirectional=bidirectional)
        self.out = nn.Linear(hidden * (2 if bidirectional else 1), V + 1)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        out, _ = self.rnn(x)  # (T, N, D*H): a state per step
        return self.out(out)  # (T, N, V+1): an output per step


def train(bidirectional: bool, args: argparse.Namespace) -> float:
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = Tagger(args.hidden, bidirectional)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    for _ in range(args.steps):
        x, tags = make_batch(rng, 32, args.length)
        loss = F.cross_entropy(model(tg.Tensor(x)).reshape(-1, V + 1), tags.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, tags = make_batch(np.random.default_rng(12345), 1000, args.length)
    with tg.no_grad():
        return float((model(tg.Tensor(x)).numpy().argmax(-1) == tags).mean())


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--length", type=int, default=12)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    result = {}
    for bi in (False, True):
        result["bidirectional" if bi else "forward-only"] = acc = train(bi, args)
        print(f"{'bidirectional' if bi else 'forward-only':>14} GRU tagger: per-step accuracy {acc:.3f}")
    return result


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
