"""Run under the CuPy stand-in (PYTHONPATH=tests/fake_gpu, TINYGRAD_RNN_BACKEND=cupy); prints one JSON line.

Each case reports what the test asserts on: sync counts of a char-LM training step and of ``loss.item()``,
and where (and with which message) each deferred device check raises.
"""

from __future__ import annotations

import json
import sys

import cupy  # the stand-in: the backend has imported it already
import numpy as np
from cupy import _standin

import tinygrad_rnn as tg
from tinygrad_rnn import checks, nn, optim

V, E, H, T, N = 20, 8, 16, 12, 4


class CharLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed, self.lstm, self.head = nn.Embedding(V, E), nn.LSTM(E, H), nn.Linear(H, V)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def training_step(model, opt, x, y):
    opt.zero_grad()
    logits, _ = model(x)
    loss = nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


def raised_at(fn) -> dict:
    """Run ``fn`` (a list of stages); report the stage that raised and the message."""
    for i, stage in enumerate(fn()):
        try:
            stage()
        except IndexError as e:
            return {"stage": i, "error": str(e), "pending_after": checks.waiting()}
    return {"stage": None, "error": None, "pending_after": checks.waiting()}


def main() -> None:
    out: dict = {"backend": tg.backend.name, "standin": bool(getattr(cupy, "__standin__", False))}
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    model = CharLM()
    opt = optim.Adam(model.parameters(), 1e-3)
    x, y = tg.tensor(rng.integers(0, V, (T, N))), tg.tensor(rng.integers(0, V, (T, N)))
    training_step(model, opt, x, y)  # first step: lazy state (Adam's moments) is made here
    steps = []
    for _ in range(3):
        with _standin.counting() as c:
            loss = training_step(model, opt, x, y)
        steps.append([c.n, c.where()])
    with _standin.counting() as c:
        value = loss.item()
    out.update(step_syncs=steps, item_syncs=c.n, loss=value, pending=checks.waiting())

    # a bad class target: no sync at the op, the error at the next read-back, and the loss never returned
    bad_y = y.numpy().copy()
    bad_y[3, 1] = V + 5
    bad_y = tg.tensor(bad_y)
    box: dict = {}

    def target_stages():
        def forward():
            with _standin.counting() as c:
                logits, _ = model(x)
                box["loss"] = nn.functional.cross_entropy(logits.reshape(-1, V), bad_y.reshape(-1))
            box["op_syncs"] = c.n

        return [forward, lambda: box["loss"].item()]

    out["target"] = raised_at(target_stages) | {"op_syncs": box.get("op_syncs")}

    # a bad embedding id, found by print() (a read-back of another tensor)
    ids = x.numpy().copy()
    ids[0, 0] = -1
    ids_t = tg.tensor(ids)
    out["embedding"] = raised_at(lambda: [lambda: model.embed(ids_t), lambda: repr(tg.ones(2))])
    # repeated failures of one check hold one pending flag, not one per call
    if not checks.SYNC_CHECKS:
        for _ in range(50):
            model.embed(ids_t)
        out["pending_kinds_after_50"] = len(checks._pending.flags)
        try:
            tg.cuda.synchronize()
            out["synchronize"] = None
        except IndexError as e:
            out["synchronize"] = str(e)
    # getitem with a device index array that CuPy would wrap around silently
    idx = tg.tensor(np.array([0, 7]))
    out["getitem"] = raised_at(lambda: [lambda: tg.arange(5.0)[idx], lambda: tg.ones(1).numpy()])
    # in-range work after a clean read-back leaves nothing pending
    tg.arange(5.0)[tg.tensor(np.array([0, 4]))].numpy()
    out["clean_pending"] = checks.waiting()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
