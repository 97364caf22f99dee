"""Character-level LSTM language model, trained with truncated BPTT: the project's main demo.

    python examples/char_lstm.py [--corpus pydoc|zen|PATH] [--hidden 256] [--steps 600] [--seed 0]

Both built-in corpora ship with Python itself: ``pydoc`` (the default) is the language reference text
in the standard library's ``pydoc_data`` (about 0.8 MB of English and code), ``zen`` is the Zen of
Python from the ``this`` module (850 characters: memorised in a few hundred steps); any other value is
a path to a UTF-8 text file. The text is cut into ``--batch`` parallel streams that are walked in windows of
``--bptt`` characters, carrying the detached LSTM state from window to window (stateful TBPTT).
Embedding -> LSTM -> Linear, cross-entropy, gradient clipping by norm, Adam. After training it samples
text at ``--temperature`` and writes a checkpoint (model, optimizer, vocabulary, config) with tg.save.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.apps.charlm import batchify, load_corpus

try:
    from tqdm import tqdm
except ImportError:  # the progress bar is optional
    tqdm = None


class CharLM(nn.Module):
    """Embedding -> LSTM -> Linear over the vocabulary, one output per step (sequence-to-sequence)."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int = 1) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: tg.Tensor, state=None):
        out, state = self.lstm(self.embed(ids), state)  # (T, N, H)
        return self.head(out), state  # (T, N, V)


@tg.no_grad()
def sample(model: CharLM, chars: list, prompt: str, length: int, temperature: float) -> str:
    model.eval()
    stoi = {c: i for i, c in enumerate(chars)}
    ids = [stoi[c] for c in prompt if c in stoi] or [0]
    logits, state = model(tg.Tensor(np.array(ids)[:, None]))
    out = []
    rng = tg.backend.host_rng()
    for _ in range(length):
        z = logits.numpy()[-1, 0].astype(np.float64) / max(temperature, 1e-6)
        p = np.exp(z - z.max())
        nxt = int(rng.choice(len(chars), p=p / p.sum()))
        out.append(chars[nxt])
        logits, state = model(tg.Tensor(np.array([[nxt]])), state)
    model.train()
    return prompt + "".join(out)


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description="Train a character-level LSTM with truncated BPTT.")
    ap.add_argument("--corpus", default="pydoc", help="pydoc | zen | path to a UTF-8 text file")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--steps", type=int, default=600, help="optimizer steps (one BPTT window each)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=64, help="window length k of truncated BPTT")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=1.0, help="max gradient norm")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--sample-len", type=int, default=300)
    ap.add_argument("--out", default="runs/char_lstm.npz", help="checkpoint path")
    args = ap.parse_args(argv)

    tg.manual_seed(args.seed)
    text = load_corpus(args.corpus)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = batchify(np.array([stoi[c] for c in text], dtype=np.int64), args.batch)
    T_all = data.shape[0] - 1
    print(f"corpus {args.corpus!r}: {len(text):,} chars, vocab {len(chars)}, {args.batch} streams of {T_all} steps")

    model = CharLM(len(chars), args.embed, args.hidden, args.layers)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    print(f"model: {model.num_parameters():,} parameters\n{model}")

    losses, state, pos = [], None, 0
    bar = tqdm(range(args.steps), desc="train", unit="step", mininterval=2.0) if tqdm else range(args.steps)
    t0 = time.perf_counter()
    for step in bar:
        if pos + 1 >= T_all:  # end of the streams: start over with a fresh state
            pos, state = 0, None
        k = min(args.bptt, T_all - pos)
        x = tg.Tensor(data[pos : pos + k])
        y = data[pos + 1 : pos + 1 + k]
        pos += k
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        state = nn.utils.detach_state(state)  # truncate: the next window does not backprop into this one
        losses.append(loss.item())
        if tqdm:
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        elif step % 50 == 0:
            print(f"step {step:5d}  loss {np.mean(losses[-20:]):.3f}")
    elapsed = time.perf_counter() - t0

    first, last = float(np.mean(losses[:10])), float(np.mean(losses[-10:]))
    print(f"\ntrained {args.steps} steps in {elapsed:.1f} s: loss {first:.3f} (first 10) -> {last:.3f} (last 10)")
    marks = np.linspace(0, len(losses) - 1, 6).astype(int)
    print("loss curve: " + "  ".join(f"[{m}] {np.mean(losses[max(0, m - 4) : m + 1]):.3f}" for m in marks))
    prompt = text[:12]
    print(
        f"\nsample (temperature {args.temperature}):\n{'-' * 60}\n"
        f"{sample(model, chars, prompt, args.sample_len, args.temperature)}\n{'-' * 60}"
    )

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tg.save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "vocab": "".join(chars),
            "config": json.dumps(vars(args)),
            "losses": np.array(losses),
        },
        args.out,
    )
    print(f"checkpoint written to {args.out}")
    return {"first_loss": first, "last_loss": last, "seconds": elapsed}


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
