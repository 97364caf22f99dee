"""Transformer encoder vs LSTM on one padded sequence-classification task, same step budget.

    python examples/transformer_vs_lstm.py [--steps 300] [--seed 0]

Task: sequences of tokens 1..5 with random lengths 3..16 (0 = padding); the label says whether token 1
occurs more often than token 2 (ties count as "no"). Tokens 3..5 are distractors. The order does not
matter, only counts, which suits attention + mean pooling; the LSTM must carry the running difference.

* Transformer: Embedding + sinusoidal positions, one pre-norm encoder block with key-padding mask,
  mean over the real positions, Linear head.
* LSTM: Embedding, ``nn.LSTM(..., lengths=...)`` so each item stops at its own end, Linear on h_n.
Both train with Adam and gradient clipping; prints both test accuracies.
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models.transformer import (
    TransformerEncoder,
    lengths_to_padding_mask,
    masked_mean,
)

VOCAB, T_MAX = 6, 16


def make_batch(rng: np.random.Generator, n: int) -> tuple:
    lengths = rng.integers(3, T_MAX + 1, n)
    ids = rng.integers(1, VOCAB, (n, T_MAX))
    ids[np.arange(T_MAX)[None, :] >= lengths[:, None]] = 0
    y = ((ids == 1).sum(1) > (ids == 2).sum(1)).astype(np.int64)
    return ids, lengths, y


class TransformerClassifier(nn.Module):
    def __init__(self, dim: int = 16, heads: int = 2, layers: int = 1, ff: int = 32) -> None:
        super().__init__()
        self.enc = TransformerEncoder(VOCAB, dim, heads, layers, ff, max_len=T_MAX)
        self.head = nn.Linear(dim, 2)

    def forward(self, ids: np.ndarray, lengths: np.ndarray) -> tg.Tensor:
        mask = lengths_to_padding_mask(lengths, ids.shape[1])
        return self.head(masked_mean(self.enc(ids, key_padding_mask=mask), mask))


class LSTMClassifier(nn.Module):
    def __init__(self, dim: int = 16, hidden: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, dim)
        self.rnn = nn.LSTM(dim, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, ids: np.ndarray, lengths: np.ndarray) -> tg.Tensor:
        _, (h_n, _) = self.rnn(self.embed(ids), lengths=lengths)
        return self.head(h_n[-1])


def train_and_eval(model: nn.Module, steps: int, seed: int, lr: float = 5e-3) -> float:
    rng = np.random.default_rng(seed)
    params = list(model.parameters())
    opt = optim.Adam(params, lr=lr)
    for _ in range(steps):
        ids, lengths, y = make_batch(rng, 64)
        loss = F.cross_entropy(model(ids, lengths), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    ids, lengths, y = make_batch(np.random.default_rng(seed + 1000), 1000)
    with tg.no_grad():
        return float((model(ids, lengths).numpy().argmax(-1) == y).mean())


def main(argv: list | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    res = {}
    for name, make in (("transformer", TransformerClassifier), ("lstm", LSTMClassifier)):
        tg.manual_seed(a.seed)
        res[name] = train_and_eval(make(), a.steps, a.seed)
        print(f"{name:12s} test accuracy {res[name]:.3f} after {a.steps} steps")
    return res


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
