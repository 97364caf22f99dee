"""Word-level LSTM language model on the Python language reference, with held-out perplexity.

    python examples/word_lm.py [--steps 250] [--hidden 128] [--embed 128] [--min-freq 5] [--seed 0]

The corpus is the text of the standard library's ``pydoc_data`` topics (ships with Python; the Zen of
Python is the fallback where a distribution splits it out), lowercased and cut into words, numbers and
single punctuation marks by one regular expression; each topic ends with ``<eos>``. Every k-th block
of ``--block`` tokens (k = 1 / ``--heldout``) is held out, never trained on, and its vocabulary is not
counted. Training is stateful truncated BPTT (``--batch`` streams, windows of ``--bptt`` words,
detached state carried over), gradient clipping and Adam.
It prints the training loss, held-out perplexity before and after, samples at two temperatures
with top-k, and the nearest neighbours of a few common words plus one analogy query.

What to expect (defaults, about a minute on 2 cores): held-out perplexity falls from about the
vocabulary size (~1,400) to roughly 30-60 (a vocabulary this small, with rare words folded into
``<unk>``, makes perplexity look better than on real benchmarks); samples are locally
grammatical-looking Python-manual phrases;
neighbours and the analogy mostly reflect word frequency and syntactic role, not meaning. A corpus of
~100k tokens and a minute of training is far too little for good embeddings; the point is the mechanics.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import io
import re
import time

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models.language import (
    RNNLanguageModel,
    Vocab,
    analogy,
    nearest_neighbours,
    perplexity,
    sample,
)

TOKEN = re.compile(r"[a-z_]+|[0-9]+|[^\sa-z_0-9]")  # words (identifiers keep their _), numbers, one symbol


def tokenize(text: str) -> list[str]:
    """Lowercase and split into words, numbers and single punctuation characters."""
    return TOKEN.findall(text.lower())


def load_documents() -> list[str]:
    """The pydoc topics in a fixed (sorted) order, or the Zen of Python if pydoc_data is missing."""
    try:
        from pydoc_data.topics import topics
    except ImportError:  # some distributions split pydoc_data out of the standard library
        print("pydoc_data is not installed with this Python; using the Zen of Python instead")
        with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the Zen
            import this
        return codecs.decode(this.s, "rot13").split("\n")
    return [topics[k] for k in sorted(topics)]


def batchify(ids: np.ndarray, batch: int) -> np.ndarray:
    """(T, batch): ``batch`` contiguous streams side by side, the tail that does not fit dropped."""
    n = len(ids) // batch
    return ids[: n * batch].reshape(batch, n).T.copy()


def main(argv: list | None = None) -> dict:
    ap = argparse.ArgumentParser(description="Train a word-level LSTM language model; report held-out perplexity.")
    ap.add_argument("--steps", type=int, default=250, help="optimizer steps (one BPTT window each)")
    ap.add_argument("--embed", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"])
    ap.add_argument("--tie", action="store_true", help="tie the embedding and output weights (needs embed == hidden)")
    ap.add_argument("--min-freq", type=int, default=5, help="rarer words become <unk>")
    ap.add_argument("--max-tokens", type=int, default=0, help="use only the first N tokens (0: all)")
    ap.add_argument("--heldout", type=float, default=0.1, help="fraction held out (every k-th block of tokens)")
    ap.add_argument("--block", type=int, default=1000, help="tokens per block of the held-out split")
    ap.add_argument("--eval-tokens", type=int, default=8000, help="held-out tokens scored for perplexity")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top-k", type=int, default=40)
    ap.add_argument("--sample-len", type=int, default=40)
    args = ap.parse_args(argv)

    tg.manual_seed(args.seed)
    tokens = [t for doc in load_documents() for t in tokenize(doc) + ["<eos>"]]
    if args.max_tokens:
        tokens = tokens[: args.max_tokens]
    # hold out every k-th block of --block tokens: spread over the whole manual (the alphabetical tail
    # alone is a few related topics), yet contiguous enough for the state to carry context
    every = max(2, round(1 / args.heldout)) if args.heldout > 0 else 0
    blocks = [tokens[i : i + args.block] for i in range(0, len(tokens), args.block)]
    train_toks = [t for i, b in enumerate(blocks) if not every or i % every != every - 1 for t in b]
    held_toks = [t for i, b in enumerate(blocks) if every and i % every == every - 1 for t in b]
    if len(held_toks) < 2:
        raise SystemExit("word_lm: the held-out split is empty; raise --heldout or --max-tokens")
    # the vocabulary comes from the training part only, so held-out words unseen in training are <unk>
    vocab = Vocab.build(train_toks, min_freq=args.min_freq)
    train = np.array(vocab.encode(train_toks), dtype=np.int64)
    held = np.array(vocab.encode(held_toks), dtype=np.int64)[: args.eval_tokens]
    data = batchify(train, args.batch)
    T_all = data.shape[0] - 1
    unk = float(np.mean(held == vocab.unk_id))
    print(
        f"corpus: {len(train_toks):,} training tokens, {len(held_toks):,} held out ({len(held):,} scored); "
        f"vocab {len(vocab):,} (min_freq {args.min_freq}); <unk> is {unk:.1%} of held-out tokens"
    )

    model = RNNLanguageModel(len(vocab), args.embed, args.hidden, cell=args.cell, tie_weights=args.tie)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    print(f"model: {model.num_parameters():,} parameters")
    held_streams = batchify(held, 8)  # 8 streams: 8x fewer sequential steps to score, same tokens
    ppl_before = perplexity(model, held_streams, bptt=args.bptt)
    print(f"held-out perplexity before training: {ppl_before:.1f} (a uniform guess scores {len(vocab)})")

    losses, state, pos = [], None, 0
    t0 = time.perf_counter()
    for step in range(args.steps):
        if pos + 1 >= T_all:  # end of the streams: start over with a fresh state
            pos, state = 0, None
        k = min(args.bptt, T_all - pos)
        x, y = data[pos : pos + k], data[pos + 1 : pos + 1 + k]
        pos += k
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        state = nn.utils.detach_state(state)  # truncate: no backprop into the previous window
        losses.append(loss.item())
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  train loss {np.mean(losses[-20:]):.3f}")
    elapsed = time.perf_counter() - t0
    ppl_after = perplexity(model, held_streams, bptt=args.bptt)
    first, last = float(np.mean(losses[:10])), float(np.mean(losses[-10:]))
    print(f"\ntrained {args.steps} steps in {elapsed:.1f} s: train loss {first:.3f} -> {last:.3f}")
    print(f"held-out perplexity: {ppl_before:.1f} -> {ppl_after:.1f}")

    prompt = vocab.encode(tokenize("the return statement"))
    for temp in (0.7, 1.0):
        out = sample(
            model, prompt, args.sample_len, temperature=temp, top_k=args.top_k, eos_id=vocab.eos_id, rng=args.seed
        )
        print(
            f"\nsample (temperature {temp}, top-k {args.top_k}):\n  the return statement " + " ".join(vocab.decode(out))
        )

    W = model.embedding.weight
    print(
        "\nnearest neighbours by cosine similarity of the input embeddings "
        "(expect frequency/syntax effects more than meaning):"
    )
    for w in ("function", "list", "class", "if", "the"):
        if w in vocab:
            print(f"  {w:>9}: " + ", ".join(f"{n} ({s:.2f})" for n, s in nearest_neighbours(W, vocab, w, k=5)))
    query = ("list", "lists", "string")
    if all(q in vocab for q in query):
        ans = analogy(W, vocab, *query, k=3)
        print(
            f"\nanalogy {query[0]} : {query[1]} :: {query[2]} : ?  ->  "
            + ", ".join(f"{n} ({s:.2f})" for n, s in ans)
            + "\n(one query on a tiny corpus: a right answer here would be luck as much as learning)"
        )
    else:
        print(
            f"\nanalogy {query[0]} : {query[1]} :: {query[2]} : ?  skipped: "
            f"{[q for q in query if q not in vocab]} not in the vocabulary"
        )
    return {
        "first_loss": first,
        "last_loss": last,
        "ppl_before": ppl_before,
        "ppl_after": ppl_after,
        "vocab": len(vocab),
        "seconds": elapsed,
    }


if __name__ == "__main__":
    tg.runtime.tune_process()  # a script owns its process; the library never tunes it on import
    main()
