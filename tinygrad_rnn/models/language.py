"""Recurrent language models: a vocabulary, an RNN/LSTM/GRU next-token model, sampling, perplexity and
embedding look-ups (nearest neighbours, analogies).

Shapes follow the sequence layers (time-major): ``ids`` ``(T, N)`` integers -> logits ``(T, N, V)``.

=========================== ==========================================================================
:class:`Vocab`              token <-> id, ``min_freq`` cut-off, ``<pad>`` = 0, ``<unk>`` = 1, ``<eos>`` = 2
:class:`RNNLanguageModel`   one-hot (character level) or ``nn.Embedding`` (word level) -> RNN -> Linear
:func:`sample`              temperature and top-k sampling from a prompt, stopping at ``<eos>``; seeded
:func:`perplexity`          exp(mean next-token NLL) over held-out ids, stateful over BPTT windows
:func:`nearest_neighbours`  the k rows of an embedding matrix closest to a word by cosine similarity
:func:`analogy`             ``a : b :: c : ?`` as the rows closest to ``b − a + c``
=========================== ==========================================================================
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from .. import backend, nn
from ..autograd import no_grad
from ..nn import functional as F
from ..nn.losses import cross_entropy
from ..tensor import Tensor
from .decoding import host_generator

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"


class Vocab:
    """A bijection between tokens and ids ``0 … len-1``; the specials come first.

    ``Vocab(tokens)`` takes the id order as given (e.g. from a checkpoint); :meth:`build` counts a
    token stream, drops tokens seen fewer than ``min_freq`` times and orders the rest by falling
    frequency, ties alphabetically, so the same corpus always gives the same ids.
    """

    def __init__(self, itos: Sequence[str], specials: Sequence[str] = (PAD, UNK, EOS)) -> None:
        itos = list(itos)
        for t in itos:
            if not isinstance(t, str):
                raise TypeError(f"Vocab: tokens must be str, got {type(t).__name__} ({t!r})")
        dup = [t for t, c in Counter(itos).items() if c > 1]
        if dup:
            raise ValueError(f"Vocab: duplicate tokens {dup[:5]}")
        missing = [s for s in specials if s not in itos]
        if missing:  # the specials must exist so that encode/sample can always refer to them
            itos = [s for s in specials if s in missing] + itos
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(itos)}

    @classmethod
    def build(cls, tokens: Iterable[str], min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Count ``tokens`` and keep those seen at least ``min_freq`` times (at most ``max_size`` of them,
        specials not counted); everything else will encode to ``<unk>``."""
        if isinstance(tokens, str):  # a str iterates over characters: almost always a mistake here
            raise TypeError(
                "Vocab.build: expected a sequence of tokens, got a str; pass list(text) for "
                "characters or text.split() for words"
            )
        if not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"Vocab.build: min_freq must be an int >= 1, got {min_freq!r}")
        if max_size is not None and (not isinstance(max_size, int) or max_size < 0):
            raise ValueError(f"Vocab.build: max_size must be None or an int >= 0, got {max_size!r}")
        counts = Counter(tokens)
        specials = (PAD, UNK, EOS)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq and t not in specials), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            kept = kept[:max_size]
        return cls(list(specials) + kept)

    # ---- ids of the specials -------------------------------------------------------------------------
    @property
    def pad_id(self) -> int:
        return self.stoi[PAD]

    @property
    def unk_id(self) -> int:
        return self.stoi[UNK]

    @property
    def eos_id(self) -> int:
        return self.stoi[EOS]

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {self.itos[:8]}{' …' if len(self) > 8 else ''})"

    def encode(self, tokens: Iterable[str], strict: bool = False) -> list[int]:
        """Token ids; unknown tokens become ``<unk>``, or raise ``KeyError`` with ``strict=True``."""
        if isinstance(tokens, str):
            raise TypeError(
                "Vocab.encode: expected a sequence of tokens, got a str; pass list(text) for "
                "characters or a tokenizer's output for words"
            )
        out = []
        for t in tokens:
            i = self.stoi.get(t)
            if i is None:
                if strict:
                    raise KeyError(f"Vocab.encode: token {t!r} is not in the vocabulary ({len(self)} tokens)")
                i = self.unk_id
            out.append(i)
        return out

    def decode(self, ids: Iterable[Any]) -> list[str]:
        """Tokens of ``ids`` (ints or a 1-d array/Tensor); an id outside ``[0, len)`` raises ``IndexError``."""
        if isinstance(ids, Tensor):
            ids = ids.numpy()
        out = []
        for i in np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids).ravel():
            if not float(i).is_integer():
                raise TypeError(f"Vocab.decode: ids must be integers, got {i!r}")
            if not 0 <= int(i) < len(self):
                raise IndexError(f"Vocab.decode: id {int(i)} is out of range [0, {len(self)})")
            out.append(self.itos[int(i)])
        return out


class RNNLanguageModel(nn.Module):
    """Next-token model: input layer -> ``nn.RNN``/``nn.LSTM``/``nn.GRU`` -> ``nn.Linear`` over the vocabulary.

    ``one_hot=True`` feeds ``F.one_hot(ids, vocab_size)`` (character level: few symbols, nothing to learn
    in the input layer; ``emb`` is then unused and may be None); otherwise an ``nn.Embedding(vocab_size,
    emb)`` (word level). ``tie_weights=True`` shares the embedding matrix with the output layer
    (``head.weight is embedding.weight``), which needs ``emb == hidden`` and an embedding.

    ``forward(ids, state=None)``: ``ids`` ``(T, N)`` ints -> ``(logits (T, N, V), state)``; pass the
    returned state (detached) into the next window for stateful truncated BPTT.
    """

    CELLS: ClassVar[dict[str, type]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

    def __init__(
        self,
        vocab_size: int,
        emb: int | None,
        hidden: int,
        cell: str = "lstm",
        one_hot: bool = False,
        num_layers: int = 1,
        tie_weights: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(vocab_size, int) or vocab_size < 2:
            raise ValueError(f"RNNLanguageModel: vocab_size must be an int >= 2, got {vocab_size!r}")
        if cell not in self.CELLS:
            raise ValueError(f"RNNLanguageModel: cell must be one of {sorted(self.CELLS)}, got {cell!r}")
        if not one_hot and (not isinstance(emb, int) or emb <= 0):
            raise ValueError(f"RNNLanguageModel: emb must be a positive int with an embedding, got {emb!r}")
        if tie_weights and one_hot:
            raise ValueError("RNNLanguageModel: tie_weights needs an embedding (one_hot=False)")
        if tie_weights and emb != hidden:
            raise ValueError(f"RNNLanguageModel: tie_weights needs emb == hidden, got emb={emb}, hidden={hidden}")
        self.vocab_size, self.hidden, self.cell, self.one_hot = vocab_size, hidden, cell, one_hot
        self.emb = vocab_size if one_hot else emb
        if not one_hot:
            self.embedding = nn.Embedding(vocab_size, emb)  # type: ignore[arg-type]  # checked int above
        self.drop = nn.Dropout(dropout)
        self.rnn = self.CELLS[cell](self.emb, hidden, num_layers=num_layers)
        self.head = nn.Linear(hidden, vocab_size)
        if tie_weights:
            # One Parameter under two names: gradients from input and output accumulate into it, and
            # parameters() lists it once (Module dedupes by identity), so the optimizer steps it once.
            self.head.weight = self.embedding.weight

    def forward(self, ids: Any, state: Any = None) -> tuple:
        idx = ids.array if isinstance(ids, Tensor) else backend.xp.asarray(ids)
        if idx.ndim != 2:
            raise ValueError(f"RNNLanguageModel: ids must be (T, N) integers, got shape {tuple(idx.shape)}")
        if self.one_hot:
            # one_hot makes the default dtype; follow the parameters instead so a .double() model gets float64
            x = F.one_hot(idx, self.vocab_size, dtype=self.head.weight.dtype)
        else:
            x = self.embedding(idx)
        out, state = self.rnn(self.drop(x), state)
        return self.head(self.drop(out)), state

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}, one_hot={self.one_hot}"


def next_token_distribution(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """Probabilities over the vocabulary from one row of logits: keep the ``top_k`` largest (exactly k,
    ties broken by index), divide by ``temperature`` and softmax. ``temperature == 0`` is argmax."""
    z = np.asarray(logits, dtype=np.float64).ravel()
    V = z.size
    if top_k is not None:
        if not isinstance(top_k, (int, np.integer)) or not 1 <= top_k:
            raise ValueError(f"sample: top_k must be None or an int >= 1, got {top_k!r}")
        if top_k < V:
            # a stable argsort keeps exactly k tokens even when logits tie at the cut-off
            keep = np.argsort(-z, kind="stable")[:top_k]
            masked = np.full(V, -np.inf)
            masked[keep] = z[keep]
            z = masked
    if temperature < 0 or not math.isfinite(temperature):
        raise ValueError(f"sample: temperature must be a finite number >= 0, got {temperature!r}")
    if temperature == 0:
        p = np.zeros(V)
        p[int(np.argmax(z))] = 1.0
        return p
    z = z / temperature
    p = np.exp(z - z.max())  # subtract the max: large z / small temperature must not overflow
    return p / p.sum()


def sample(
    model: nn.Module,
    prompt_ids: Sequence[int],
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    eos_id: int | None = None,
    rng: Any = None,
) -> list[int]:
    """Generate up to ``length`` new token ids after ``prompt_ids`` (the prompt is not returned).

    The prompt is read in one call; then each step draws from :func:`next_token_distribution` of the last
    logits and feeds the draw back with the carried state. Generation stops after emitting ``eos_id``
    (which is included as the last id). ``rng``: None (the framework's seeded host generator, see
    ``tg.manual_seed``), an int seed or a ``numpy.random.Generator`` — the same seed gives the same text.
    ``model(ids (T, 1), state) -> (logits (T, 1, V), state)``, e.g. an :class:`RNNLanguageModel`.
    """
    prompt = [int(i) for i in prompt_ids]
    if not prompt:
        raise ValueError("sample: prompt_ids is empty; give at least one id (e.g. the <eos> id as a start)")
    if not isinstance(length, int) or length < 0:
        raise ValueError(f"sample: length must be an int >= 0, got {length!r}")
    gen = host_generator(rng, "sample")
    was_training = getattr(model, "training", False)
    model.eval()  # no dropout while generating
    out: list[int] = []
    try:
        with no_grad():
            logits, state = model(np.array(prompt, dtype=np.int64)[:, None])
            for _ in range(length):
                p = next_token_distribution(logits.numpy()[-1, 0], temperature, top_k)
                nxt = int(gen.choice(p.size, p=p))
                out.append(nxt)
                if eos_id is not None and nxt == eos_id:
                    break
                logits, state = model(np.array([[nxt]], dtype=np.int64), state)
    finally:
        model.train(was_training)
    return out


def perplexity(model: nn.Module, ids: Any, bptt: int = 64) -> float:
    """exp(mean NLL of predicting ``ids[t+1]`` from ``ids[:t+1]``) on held-out ids, no gradients.

    ``ids``: a 1-d sequence, or ``(T, N)`` for N independent streams side by side (faster). The text is
    walked in windows of ``bptt`` steps carrying the state between them, as in stateful TBPTT training,
    so every prediction but the first sees all the history before it. Each window's NLL is summed and the
    total divided once by the number of predictions, so a short last window is not over-weighted.
    A model with uniform logits scores exactly the vocabulary size.
    """
    arr = np.asarray(ids.numpy() if isinstance(ids, Tensor) else ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"perplexity: ids must be integers, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError(f"perplexity: need a 1-d sequence or (T, N) streams with T >= 2, got shape {arr.shape}")
    if not isinstance(bptt, int) or bptt < 1:
        raise ValueError(f"perplexity: bptt must be an int >= 1, got {bptt!r}")
    was_training = getattr(model, "training", False)
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        with no_grad():
            for start in range(0, arr.shape[0] - 1, bptt):
                x = arr[start : start + bptt]
                y = arr[start + 1 : start + 1 + bptt]
                x = x[: y.shape[0]]
                logits, state = model(x, state)
                V = logits.shape[-1]
                # float64 accumulation: thousands of window sums in float32 would drift
                total += float(cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="sum").item())
                count += y.size
    finally:
        model.train(was_training)
    return math.exp(total / count)


def _unit_rows(weight: Any) -> np.ndarray:
    w = np.asarray(weight.numpy() if isinstance(weight, Tensor) else backend.to_numpy(weight), dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"embedding_weight must be (V, D), got shape {w.shape}")
    norms = np.linalg.norm(w, axis=1, keepdims=True)
    return w / np.maximum(norms, 1e-12)  # an all-zero row (e.g. <pad>) gets similarity 0, not NaN


def _row(vocab: Vocab, word: str, n: int) -> int:
    if word not in vocab:
        raise KeyError(f"{word!r} is not in the vocabulary ({len(vocab)} tokens)")
    i = vocab.stoi[word]
    if i >= n:
        raise ValueError(f"{word!r} has id {i} but the embedding has only {n} rows")
    return i


def _closest(unit: np.ndarray, query: np.ndarray, vocab: Vocab, exclude: set, k: int) -> list[tuple[str, float]]:
    q = query / max(float(np.linalg.norm(query)), 1e-12)
    sims = unit @ q
    order = np.argsort(-sims, kind="stable")
    out = []
    for i in order:
        tok = vocab.itos[int(i)]
        if int(i) in exclude or tok in (PAD, UNK, EOS):
            continue
        out.append((tok, float(sims[i])))
        if len(out) == k:
            break
    return out


def nearest_neighbours(embedding_weight: Any, vocab: Vocab, word: str, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` words whose embedding rows have the highest cosine similarity to ``word``'s row, as
    ``(word, similarity)`` pairs, best first (the word itself and the specials are left out).

    Be honest about what this shows: embeddings learnt by a small LM on a small corpus for a minute
    mostly group words by frequency and by the syntactic slot they fill; semantic neighbours
    ("function" ~ "method") need far more text and training.
    """
    unit = _unit_rows(embedding_weight)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"nearest_neighbours: k must be an int >= 1, got {k!r}")
    i = _row(vocab, word, unit.shape[0])
    return _closest(unit, unit[i], vocab, {i}, k)


def analogy(embedding_weight: Any, vocab: Vocab, a: str, b: str, c: str, k: int = 1) -> list[tuple[str, float]]:
    """``a`` is to ``b`` as ``c`` is to ``?``: the ``k`` words closest (cosine) to ``b − a + c`` over
    unit-normalised rows (3CosAdd), excluding ``a``, ``b``, ``c`` and the specials.

    On a corpus of a few hundred thousand tokens and a briefly trained model the answer is usually
    wrong; famous word2vec analogies needed billions of tokens. Treat the output as a demonstration of
    the arithmetic, not as evidence that the model learnt meaning.
    """
    unit = _unit_rows(embedding_weight)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"analogy: k must be an int >= 1, got {k!r}")
    ia, ib, ic = (_row(vocab, w, unit.shape[0]) for w in (a, b, c))
    return _closest(unit, unit[ib] - unit[ia] + unit[ic], vocab, {ia, ib, ic}, k)


__all__ = [
    "EOS",
    "PAD",
    "UNK",
    "RNNLanguageModel",
    "Vocab",
    "analogy",
    "nearest_neighbours",
    "next_token_distribution",
    "perplexity",
    "sample",
]
