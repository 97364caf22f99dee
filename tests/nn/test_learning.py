"""Learning tests: small recurrent models trained end to end reach stated accuracies (fixed seeds)."""

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim


def _train(modules, loss_fn, batches, steps, lr=1e-2, clip=1.0):
    params = [p for m in modules for p in m.parameters()]
    opt = optim.Adam(params, lr=lr)
    losses = []
    for _ in range(steps):
        loss = loss_fn(*next(batches))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        losses.append(loss.item())
    return losses


def _majority_batches(rng, n=64, t_min=3, t_max=16):
    """±1 sequences of random lengths (padded to t_max); label: is the sum positive (odd lengths: no ties)."""
    while True:
        lengths = rng.integers(t_min // 2, t_max // 2, n) * 2 + 1
        x = rng.choice([-1.0, 1.0], (t_max, n, 1)).astype(np.float32)
        x[np.arange(t_max)[:, None] >= lengths[None, :]] = 0.0
        yield x, lengths, (x.sum(axis=(0, 2)) > 0).astype(np.int64)


def test_sequence_to_one_classifier_with_lengths():
    """GRU reads padded sequences of different lengths; one output from h_n at each sequence's own end."""
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    gru, head = nn.GRU(1, 16), nn.Linear(16, 2)

    def loss_fn(x, lengths, y):
        _, h = gru(tg.Tensor(x), lengths=lengths)
        return F.cross_entropy(head(h[-1]), y)

    losses = _train([gru, head], loss_fn, _majority_batches(rng), steps=250)
    x, lengths, y = next(_majority_batches(np.random.default_rng(99), n=1000))
    with tg.no_grad():
        _, h = gru(tg.Tensor(x), lengths=lengths)
        acc = (head(h[-1]).numpy().argmax(-1) == y).mean()
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    assert acc >= 0.9, acc


def _next_symbol_batches(rng, n=32, T=12, V=5):
    """Tag each position with the symbol that comes *next* (the last position gets the extra class V)."""
    while True:
        ids = rng.integers(0, V, (T, n))
        tags = np.concatenate([ids[1:], np.full((1, n), V)], axis=0)
        yield np.eye(V, dtype=np.float32)[ids], tags


def _tagger_accuracy(bidirectional, steps):
    tg.manual_seed(1)
    rng = np.random.default_rng(1)
    rnn = nn.GRU(5, 16, bidirectional=bidirectional)
    head = nn.Linear(16 * (2 if bidirectional else 1), 6)

    def loss_fn(x, tags):
        out, _ = rnn(tg.Tensor(x))  # (T, N, D*H): one output per step
        return F.cross_entropy(head(out).reshape(-1, 6), tags.reshape(-1))

    _train([rnn, head], loss_fn, _next_symbol_batches(rng), steps=steps)
    x, tags = next(_next_symbol_batches(np.random.default_rng(7), n=500))
    with tg.no_grad():
        pred = head(rnn(tg.Tensor(x))[0]).numpy().argmax(-1)
    return (pred == tags).mean()


def test_sequence_to_sequence_tagger_needs_the_future():
    """A bidirectional GRU tagger learns to output x_{t+1} at step t; a forward-only one cannot see it."""
    acc_bi = _tagger_accuracy(True, steps=200)
    acc_uni = _tagger_accuracy(False, steps=200)
    assert acc_bi >= 0.95, acc_bi
    assert acc_uni <= 0.4, acc_uni  # chance is 1/5 on 11 of 12 positions, plus the easy last one


def _adding_batches(rng, n=64, T=30):
    """The adding problem: values in [0, 1) and a 0/1 marker channel with one mark in each half of the
    sequence; the target is the sum of the two marked values (predicting 1.0 always gives MSE ≈ 0.167)."""
    while True:
        v = rng.random((T, n)).astype(np.float32)
        m = np.zeros((T, n), np.float32)
        m[rng.integers(0, T // 2, n), np.arange(n)] = 1
        m[rng.integers(T // 2, T, n), np.arange(n)] = 1
        yield np.stack([v, m], axis=-1), (v * m).sum(axis=0)


def _adding_mse(cls, steps=400, T=30):
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    rnn, head = cls(2, 32), nn.Linear(32, 1)

    def loss_fn(x, y):
        _, h = rnn(tg.Tensor(x))
        return F.mse_loss(head(h[-1]).reshape(-1), tg.Tensor(y))

    _train([rnn, head], loss_fn, _adding_batches(rng, T=T), steps=steps)
    x, y = next(_adding_batches(np.random.default_rng(99), n=1000, T=T))
    with tg.no_grad():
        _, h = rnn(tg.Tensor(x))
        err = head(h[-1]).numpy().reshape(-1) - y
    return float((err**2).mean()), float((np.abs(err) < 0.1).mean())


def test_gru_solves_the_adding_problem_where_a_vanilla_rnn_stalls():
    """T = 30: the two marked values are up to 29 steps apart. Same budget (400 Adam steps) for both."""
    mse_gru, acc_gru = _adding_mse(nn.GRU)
    mse_rnn, _ = _adding_mse(nn.RNN)
    assert mse_gru < 0.01 and acc_gru >= 0.9, (mse_gru, acc_gru)
    assert mse_rnn > 0.1, mse_rnn  # stuck near the 0.167 baseline
