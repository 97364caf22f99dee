"""Running sequence decoders: teacher forcing, greedy and beam-search decoding, and the sampling generator.

The decoders serve every model that writes a token sequence one step at a time from a :class:`Memory`
(:class:`~tinygrad_rnn.models.seq2seq.Seq2Seq`, :class:`~tinygrad_rnn.models.captioning.ImageCaptioner`).
Such a model hands over its ``step(prev (N,) ids, state (N, ...), memory) -> (logits (N, V), new state,
attention (N, S) or None)``; the state must be indexable by rows (beam search reorders and copies it), so
a model with several state tensors joins them into one.

Token lists never hold ``bos`` and end with ``eos`` when it was produced within ``max_len`` tokens
(``eos`` counts towards ``max_len``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..backend import xp
from ..op_functions import stack
from ..tensor import Tensor
from .attention import Memory

__all__ = ["StepDecoder", "check_decode_args", "host_generator"]

#: ``step(prev, state, memory) -> (logits, new_state, attention weights or None)``
Step = Callable[[Any, Tensor, Memory], tuple[Tensor, Tensor, Tensor | None]]


def host_generator(rng: Any, op: str) -> np.random.Generator:
    """The NumPy generator a sampler draws from: ``rng`` itself, a fresh one seeded by an int, or (None)
    the library's host generator that ``manual_seed`` seeds."""
    if rng is None:
        return backend.host_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{op}: rng must be None, an int seed or a numpy Generator, got {type(rng).__name__}")


def check_decode_args(owner: str, max_len: int, beam_size: int = 1) -> None:
    """Reject a ``max_len`` or ``beam_size`` that is not a positive int, naming the model ``owner``."""
    if not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"{owner}: max_len must be a positive int, got {max_len!r}")
    if not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"{owner}: beam_size must be a positive int, got {beam_size!r}")


def _stack_rows(rows: list) -> np.ndarray | None:
    return np.stack(rows) if rows else None


class StepDecoder:
    """Teacher-forced, greedy and beam-search runs of a model's ``step``; generation starts at ``bos``
    and ends at ``eos``."""

    def __init__(self, step: Step, bos: int, eos: int) -> None:
        self.step, self.bos, self.eos = step, bos, eos

    def teacher_forced(self, state: Tensor, memory: Memory, tokens: Any) -> tuple[Tensor, Tensor | None]:
        """Run ``step`` over given previous tokens ``tokens (T, N)`` (the true ones, not the model's guesses):
        logits ``(T, N, V)`` and attention weights ``(T, N, S)`` (None when the step returns none)."""
        logits, weights = [], []
        for t in range(tokens.shape[0]):
            out, state, w = self.step(tokens[t], state, memory)
            logits.append(out)
            weights.append(w)
        return stack(logits, axis=0), (None if weights[0] is None else stack(weights, axis=0))

    def greedy(
        self, state: Tensor, memory: Memory, max_len: int, widths: Sequence[int] | None = None
    ) -> tuple[list[list[int]], list[np.ndarray | None]]:
        """Argmax decoding of the whole batch at once: N token lists and N attention arrays.

        Attention array n is ``(len(tokens[n]), widths[n])`` (all columns when ``widths`` is None), one
        row per generated token; None when the step returns no weights.
        """
        N = memory.keys.shape[0]
        tokens: list[list[int]] = [[] for _ in range(N)]
        rows: list[list] = [[] for _ in range(N)]
        done = np.zeros(N, dtype=bool)
        with no_grad():
            prev = xp.full((N,), self.bos, dtype=np.int64)
            for _ in range(max_len):
                logits, state, w = self.step(prev, state, memory)
                best = backend.to_numpy(logits.array).argmax(-1)
                wn = None if w is None else backend.to_numpy(w.array)
                for n in np.flatnonzero(~done).tolist():
                    tokens[n].append(int(best[n]))
                    if wn is not None:
                        rows[n].append(wn[n] if widths is None else wn[n, : widths[n]])
                    done[n] = best[n] == self.eos
                if done.all():
                    break
                prev = backend.to_backend(best.astype(np.int64))  # finished rows keep running; ignored
        return tokens, [_stack_rows(r) for r in rows]

    def beam(
        self,
        state: Tensor,
        memory: Memory,
        beam_size: int,
        max_len: int,
        length_penalty: float = 1.0,
        widths: Sequence[int] | None = None,
        keep_attention: bool = False,
    ) -> tuple[list[list[int]], list[np.ndarray | None]]:
        """Beam search, one example at a time: the best token list of each and (``keep_attention``) its
        attention rows, cut to ``widths[n]`` columns as in :meth:`greedy` (else None each).

        Hypotheses are ranked by the length-normalised log-probability ``log p(y) / len(y)**length_penalty``
        (``len`` counts ``eos``). Each step extends every live hypothesis by every token, keeps the best
        ``beam_size`` that do not end in ``eos`` and moves those that do (and rank above the last kept
        one) to the finished list. The search stops once ``beam_size`` hypotheses have finished or after
        ``max_len`` tokens (then unfinished hypotheses compete too). ``beam_size=1`` is greedy decoding.
        """
        results: list[list[int]] = []
        attentions: list[np.ndarray | None] = []
        with no_grad():
            for n in range(memory.keys.shape[0]):
                cols = slice(None if widths is None else int(widths[n])) if keep_attention else None
                toks, att = self._beam_one(
                    state[n : n + 1], memory.select([n]), beam_size, max_len, length_penalty, cols
                )
                results.append(toks)
                attentions.append(att)
        return results, attentions

    def _beam_one(
        self, state: Tensor, memory: Memory, beam_size: int, max_len: int, alpha: float, cols: slice | None
    ) -> tuple[list[int], np.ndarray | None]:
        # a hypothesis: (tokens, summed log-prob, attention rows); cols None keeps no attention rows
        live: list = [([], 0.0, [])]
        finished: list = []
        for _ in range(max_len):
            B = len(live)
            prev = xp.asarray([h[0][-1] if h[0] else self.bos for h in live], dtype=np.int64)
            logits, s_new, w = self.step(prev, state, memory.select(np.zeros(B, dtype=np.int64)))
            logp = backend.to_numpy(logits.log_softmax(axis=-1).array).astype(np.float64)
            wn = None if w is None or cols is None else backend.to_numpy(w.array)[:, cols]
            cand = np.array([h[1] for h in live])[:, None] + logp  # (B, V)
            V = cand.shape[1]
            keep_rows, new_live = [], []
            for flat in np.argsort(-cand.ravel(), kind="stable"):
                b, tok = divmod(int(flat), V)
                hyp = (live[b][0] + [tok], float(cand[b, tok]), live[b][2] + ([] if wn is None else [wn[b]]))
                if tok == self.eos:
                    finished.append(hyp)
                else:
                    new_live.append(hyp)
                    keep_rows.append(b)
                if len(new_live) == beam_size:
                    break
            if len(finished) >= beam_size:
                break
            live = new_live
            state = s_new[xp.asarray(keep_rows, dtype=np.int64)]
        else:
            finished.extend(live)  # max_len reached: unfinished hypotheses compete on the same score
        best = max(finished, key=lambda h: h[1] / len(h[0]) ** alpha)
        return best[0], _stack_rows(best[2])
