"""Recursive (tree-structured) network evaluating arithmetic expression trees modulo M.

    python examples/recursive_expressions.py [--modulus 5] [--max-depth 3] [--steps 400] [--seed 0]

Each expression is a random tree over the digits 0..M-1 with the operators + and ×; an internal node is
the triple (left, op, right), so the net has arity 3 and the operator enters as a leaf token:
h(node) = tanh(W [h_left; h_op; h_right] + b). The label is the expression's value mod M, read from
the root through a Linear head (M classes). Trees are evaluated bottom-up, all nodes of one height in
the batch at once; training uses Adam with gradient clipping. Prints the test accuracy per depth.
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models.recursive import RecursiveNet, Tree


def random_expression(rng: np.random.Generator, modulus: int, depth: int) -> tuple:
    """A nested tuple (left, op, right) of exactly ``depth`` operator levels (random shape) and its value.

    Tokens: digits 0..M-1, then PLUS = M, TIMES = M + 1. Built with an explicit stack of pending holes.
    """
    plus, times = modulus, modulus + 1
    if depth == 0:
        d = int(rng.integers(modulus))
        return d, d
    # choose which side carries the full depth, the other side gets a random smaller depth
    left_d, right_d = depth - 1, int(rng.integers(depth))
    if rng.random() < 0.5:
        left_d, right_d = right_d, left_d
    (lt, lv), (rt, rv) = random_expression(rng, modulus, left_d), random_expression(rng, modulus, right_d)
    if rng.random() < 0.5:
        return (lt, plus, rt), (lv + rv) % modulus
    return (lt, times, rt), (lv * rv) % modulus


def make_batch(rng: np.random.Generator, n: int, modulus: int, max_depth: int) -> tuple:
    exprs = [random_expression(rng, modulus, int(rng.integers(1, max_depth + 1))) for _ in range(n)]
    return [Tree.from_nested(t) for t, _ in exprs], np.array([v for _, v in exprs], np.int64)


def train(
    modulus: int = 5,
    max_depth: int = 3,
    dim: int = 32,
    steps: int = 400,
    batch: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    log_every: int = 0,
) -> tuple:
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = RecursiveNet(vocab=modulus + 2, dim=dim, arity=3, out_features=modulus)
    opt = optim.Adam(list(net.parameters()), lr=lr)
    for step in range(steps):
        trees, y = make_batch(rng, batch, modulus, max_depth)
        loss = F.cross_entropy(net(trees), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(list(net.parameters()), 1.0)
        opt.step()
        if log_every and step % log_every == 0:
            print(f"step {step:4d}  loss {loss.item():.3f}")
    return net, rng


def accuracy(net: RecursiveNet, modulus: int, depth: int, n: int = 500, seed: int = 99) -> float:
    rng = np.random.default_rng(seed)
    exprs = [random_expression(rng, modulus, depth) for _ in range(n)]
    with tg.no_grad():
        pred = net([Tree.from_nested(t) for t, _ in exprs]).numpy().argmax(-1)
    return float((pred == np.array([v for _, v in exprs])).mean())


def main(argv: list | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modulus", type=int, default=5)
    p.add_argument("--max-depth", type=int, default=3)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    net, _ = train(a.modulus, a.max_depth, a.dim, a.steps, seed=a.seed, log_every=max(a.steps // 8, 1))
    res = {d: accuracy(net, a.modulus, d) for d in range(1, a.max_depth + 2)}
    for d, acc in res.items():
        tag = " (deeper than training)" if d > a.max_depth else ""
        print(f"depth {d}: accuracy {acc:.3f}  (chance {1 / a.modulus:.3f}){tag}")
    return res


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
