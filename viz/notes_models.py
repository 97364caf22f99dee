"""The lecture notes' models, written with the framework's ops in the notes' notation.

Each builder runs a forward pass and returns ``(loss, params)`` where ``params`` maps the notes' names
(w^(x), w^(a), w^(o), ...) to the parameter tensors, ready for :func:`tinygrad_rnn.graph.to_dot`.
Every time step runs inside ``tg.scope("t=k")`` so the drawing clusters the unfolded network by step.
"""

from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn


def _param(rng: np.random.Generator, *shape: int) -> nn.Parameter:
    return nn.Parameter(rng.standard_normal(shape).astype(np.float32) * 0.5)


def vanilla_rnn(T: int = 3, output_per_step: bool = False, hidden: int = 2, features: int = 1, seed: int = 0) -> tuple:
    """a_t = tanh(w^(x)·x_t + w^(a)·a_{t-1} + b^(a)); o = w^(o)·a_T + b^(o) (or o_t at every step);
    C = squared error of the output(s)."""
    rng = np.random.default_rng(seed)
    params = {
        "w^(x)": _param(rng, features, hidden),
        "w^(a)": _param(rng, hidden, hidden),
        "b^(a)": _param(rng, hidden),
        "w^(o)": _param(rng, hidden, 1),
        "b^(o)": _param(rng, 1),
    }
    xs = [tg.Tensor(rng.standard_normal((1, features)).astype(np.float32)) for _ in range(T)]
    ys = [tg.Tensor(rng.standard_normal((1, 1)).astype(np.float32)) for _ in range(T)]
    a = tg.zeros(1, hidden)
    terms = []
    for t in range(1, T + 1):
        with tg.scope(f"t={t}"):
            a = (xs[t - 1] @ params["w^(x)"] + a @ params["w^(a)"] + params["b^(a)"]).tanh()
            if output_per_step or t == T:
                o = a @ params["w^(o)"] + params["b^(o)"]
                terms.append(((o - ys[t - 1]) ** 2).sum())
    loss = terms[0]
    for term in terms[1:]:
        loss = loss + term
    return loss, params


def output_recurrent_rnn(T: int = 3, hidden: int = 2, seed: int = 0) -> tuple:
    """The notes' second model: the recurrence goes through the output,
    a_t = tanh(w^(x)·x_t + w^(y)·o_{t-1} + b^(a)), o_t = w^(o)·a_t + b^(o) (teacher forcing would feed y_{t-1})."""
    rng = np.random.default_rng(seed)
    params = {
        "w^(x)": _param(rng, 1, hidden),
        "w^(y)": _param(rng, 1, hidden),
        "b^(a)": _param(rng, hidden),
        "w^(o)": _param(rng, hidden, 1),
        "b^(o)": _param(rng, 1),
    }
    o = tg.zeros(1, 1)
    loss = None
    for t in range(1, T + 1):
        with tg.scope(f"t={t}"):
            x = tg.Tensor(rng.standard_normal((1, 1)).astype(np.float32))
            a = (x @ params["w^(x)"] + o @ params["w^(y)"] + params["b^(a)"]).tanh()
            o = a @ params["w^(o)"] + params["b^(o)"]
            term = (o * o).sum()
        loss = term if loss is None else loss + term
    return loss, params
