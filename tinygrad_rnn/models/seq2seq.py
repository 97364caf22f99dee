r"""Encoder–decoder (sequence-to-sequence) models with optional attention.

The encoder reads a padded batch of source token ids and the decoder writes target tokens one at a time,
each step conditioned on a *context vector* ``c_t`` that summarises the source:

* ``attention="none"`` (Cho et al., 2014): ``c_t = c = h^enc_final`` for every t, one fixed vector, so the
  whole source must be squeezed through it (the bottleneck that attention removes);
* ``attention="additive"`` (Bahdanau et al., 2015) or ``"dot"`` (Luong et al., 2015): ``c_t`` is a
  weighted average of *all* encoder states, with weights recomputed from the decoder state at every step.

Decoder step t (``s`` decoder state, ``e(·)`` target embedding, ``y_{t-1}`` the previous token)::

    c_t, α_t = attend(s_{t-1}, H^enc, mask)          (or c_t = c, α_t = None, without attention)
    s_t      = GRUCell([e(y_{t-1}); c_t], s_{t-1})
    logits_t = W_o [s_t; c_t] + b_o
    s_0      = tanh(W_b h^enc_final + b_b)            (a bridge from the encoder's final state)

Attention, for query ``q = s_{t-1}`` and keys ``k_j`` (the encoder outputs, j over source positions)::

    additive: score_j = vᵀ tanh(W_q q + W_k k_j + b_k)
    dot:      score_j = qᵀ W k_j   (general)    or    qᵀ k_j   (plain, needs key size == query size)
    α_j       = softmax_j(score_j), with score_j := −1e9 where j is padding (so α_j = 0 there exactly
                up to float rounding, and no row is all −inf, so no NaN)
    c         = Σ_j α_j k_j

Shapes (time-major, as ``nn.GRU``'s default; S source length, T target length, N batch):

=================== ===================================== =============================================
``src``             ``(S, N)`` int                        source ids, padded with ``pad`` past lengths
``src_lengths``     ``(N,)`` int, each in ``[1, S]``      true source lengths
``tgt_in``          ``(T, N)`` int                        ``<bos> y_1 … y_{T-1}`` (teacher forcing)
encoder outputs     ``(S, N, D·H)``                       D = 2 when bidirectional
logits              ``(T, N, V_tgt)``                     from :meth:`Seq2Seq.forward`
attention weights   ``(T, N, S)``                         ``return_attention=True``; rows sum to 1
=================== ===================================== =============================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..nn.cells import GRUCell
from ..nn.layers import Embedding, Linear
from ..nn.losses import cross_entropy
from ..nn.module import Module
from ..nn.rnn import GRU
from ..op_functions import concat
from ..tensor import Tensor
from .attention import AdditiveAttention, DotAttention, Memory, masked_softmax
from .decoding import StepDecoder, check_decode_args

__all__ = [
    "AdditiveAttention",
    "Decoder",
    "DotAttention",
    "Encoder",
    "Memory",
    "Seq2Seq",
    "masked_softmax",
    "pad_batch",
    "teacher_forcing_batch",
]


#: Score given to padded source positions. Large and finite (not −inf): a softmax row then never sees
#: −inf − (−inf) = NaN, and exp(−1e9 − max) underflows to exactly 0 in float32 and float64.
class Encoder(Module):
    """Embedding + GRU over a padded batch.

    ``forward(src (S, N), lengths (N,)) -> (outputs (S, N, D·H), final (N, D·H))``; ``final`` joins the
    directions' last states (each sequence's own last real step forward, position 0 backward), and
    ``outputs`` are zero past each length (the GRU's ``lengths=`` masking).
    """

    def __init__(self, vocab: int, emb: int, hidden: int, bidirectional: bool = False, pad: int = 0) -> None:
        super().__init__()
        self.embed = Embedding(vocab, emb, padding_idx=pad)
        self.rnn = GRU(emb, hidden, bidirectional=bidirectional)
        self.output_size = hidden * (2 if bidirectional else 1)

    def forward(self, src: Any, lengths: Any) -> tuple[Tensor, Tensor]:
        out, h_n = self.rnn(self.embed(src), lengths=lengths)  # h_n: (D, N, H)
        final = h_n[0] if h_n.shape[0] == 1 else concat(list(h_n.unbind(0)), axis=-1)
        return out, final


class Decoder(Module):
    """Embedding + GRUCell + Linear; one step at a time (see the module docstring for the equations).

    ``step(prev (N,) ids, s (N, H), memory) -> (logits (N, V), s_new (N, H), weights (N, S) or None)``.
    """

    def __init__(
        self, vocab: int, emb: int, hidden: int, context_size: int, attention: Module | None = None, pad: int = 0
    ) -> None:
        super().__init__()
        self.embed = Embedding(vocab, emb, padding_idx=pad)
        self.cell = GRUCell(emb + context_size, hidden)
        self.out = Linear(hidden + context_size, vocab)
        self.attention = attention  # a Module registers itself; None just records "fixed context"

    def step(self, prev: Any, s: Tensor, memory: Memory) -> tuple[Tensor, Tensor, Tensor | None]:
        if self.attention is None:
            c, w = memory.context, None
        else:
            c, w = self.attention(s, memory.keys, memory.mask, memory.projected)  # attend with s_{t-1}
        s = self.cell(concat([self.embed(prev), c], axis=-1), s)
        return self.out(concat([s, c], axis=-1)), s, w


def _int_array(x: Any, what: str) -> np.ndarray:
    a = backend.to_numpy(x.array if isinstance(x, Tensor) else np.asarray(x))
    if a.size and a.dtype.kind not in "iu":
        raise TypeError(f"Seq2Seq: {what} must hold integer token ids, got dtype {a.dtype}")
    return a.astype(np.int64)


class Seq2Seq(Module):
    """GRU encoder–decoder; ``attention`` is ``"none"`` (fixed context), ``"additive"`` or ``"dot"``.

    ``forward(src, src_lengths, tgt_in)`` runs the decoder with teacher forcing and returns logits
    ``(T, N, V_tgt)`` (and attention weights ``(T, N, S)`` with ``return_attention=True``; None without
    attention). :meth:`greedy_decode` and :meth:`beam_search` return one token list per example, ending
    with ``eos`` when it was produced within ``max_len`` tokens (``eos`` counts towards ``max_len``).
    ``bos``, ``eos``, ``pad`` are target ids; ``pad`` is also the source padding id and the ignored target
    of :meth:`loss`.
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        emb: int = 32,
        hidden: int = 64,
        attention: str = "additive",
        bos: int = 1,
        eos: int = 2,
        pad: int = 0,
        bidirectional: bool = False,
        attn_size: int | None = None,
    ) -> None:
        super().__init__()
        for what, v in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab), ("emb", emb), ("hidden", hidden)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"Seq2Seq: {what} must be a positive int, got {v!r}")
        if attention not in ("none", "additive", "dot"):
            raise ValueError(f"Seq2Seq: attention must be 'none', 'additive' or 'dot', got {attention!r}")
        specials = {"bos": bos, "eos": eos, "pad": pad}
        for name, i in specials.items():
            if not 0 <= i < tgt_vocab:
                raise ValueError(f"Seq2Seq: {name}={i} is not a target id in [0, tgt_vocab={tgt_vocab})")
        if len(set(specials.values())) != 3:
            raise ValueError(f"Seq2Seq: bos, eos and pad must be distinct ids, got {specials}")
        if not 0 <= pad < src_vocab:
            raise ValueError(f"Seq2Seq: pad={pad} is not a source id in [0, src_vocab={src_vocab})")
        self.src_vocab, self.tgt_vocab, self.attention_kind = src_vocab, tgt_vocab, attention
        self.bos, self.eos, self.pad = bos, eos, pad
        self.encoder = Encoder(src_vocab, emb, hidden, bidirectional, pad)
        K = self.encoder.output_size
        attn: Module | None = None
        if attention == "additive":
            attn = AdditiveAttention(hidden, K, attn_size)
        elif attention == "dot":
            attn = DotAttention(hidden, K, general=True)
        self.bridge = Linear(K, hidden)
        self.decoder = Decoder(tgt_vocab, emb, hidden, K, attn, pad)

    # ---- input checks ------------------------------------------------------------------------------
    def _check_src(self, src: Any, src_lengths: Any) -> tuple[np.ndarray, np.ndarray]:
        s = _int_array(src, "src")
        if s.ndim != 2:
            raise ValueError(f"Seq2Seq: src must be (S, N) token ids (time-major), got shape {s.shape}")
        S, N = s.shape
        if S == 0 or N == 0:
            raise ValueError(f"Seq2Seq: empty source batch (src shape {s.shape}); every sequence needs a token")
        lens = _int_array(src_lengths, "src_lengths")
        if lens.shape != (N,):
            raise ValueError(f"Seq2Seq: src_lengths must hold one length per example ({N}), got shape {lens.shape}")
        if lens.min() < 1:
            raise ValueError(
                f"Seq2Seq: empty source sequence (length {int(lens.min())}) at example "
                f"{int(lens.argmin())}; every source needs at least one token"
            )
        if lens.max() > S:
            raise ValueError(f"Seq2Seq: src_lengths max {int(lens.max())} exceeds the padded length S={S}")
        if s.min() < 0 or s.max() >= self.src_vocab:
            raise ValueError(
                f"Seq2Seq: source ids must lie in [0, src_vocab={self.src_vocab}), got range "
                f"[{int(s.min())}, {int(s.max())}] (mismatched source vocabulary?)"
            )
        return s, lens

    def _check_tgt(self, tgt: Any, N: int, what: str) -> np.ndarray:
        t = _int_array(tgt, what)
        if t.ndim != 2 or t.shape[1] != N:
            raise ValueError(f"Seq2Seq: {what} must be (T, N={N}) token ids, got shape {t.shape}")
        if t.shape[0] == 0:
            raise ValueError(f"Seq2Seq: {what} is an empty target sequence (T = 0)")
        if t.min() < 0 or t.max() >= self.tgt_vocab:
            raise ValueError(
                f"Seq2Seq: {what} ids must lie in [0, tgt_vocab={self.tgt_vocab}), got range "
                f"[{int(t.min())}, {int(t.max())}] (mismatched target vocabulary?)"
            )
        return t

    # ---- encoder -----------------------------------------------------------------------------------
    def encode(self, src: Any, src_lengths: Any) -> tuple[Memory, Tensor]:
        """Run the encoder once: the decoder's :class:`Memory` and initial state ``s_0 (N, H)``."""
        s, lens = self._check_src(src, src_lengths)
        S = s.shape[0]
        out, final = self.encoder(backend.to_backend(s), lens)
        keys = out.transpose(0, 1)  # (N, S, K): batch-major
        mask = backend.to_backend(np.arange(S)[None, :] < lens[:, None])  # (N, S)
        attn = self.decoder.attention
        projected = None if attn is None else attn.precompute(keys)
        return Memory(keys, mask, projected, final), self.bridge(final).tanh()

    # ---- teacher forcing ---------------------------------------------------------------------------
    def forward(
        self, src: Any, src_lengths: Any, tgt_in: Any, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor | None]:
        memory, s = self.encode(src, src_lengths)
        tgt = self._check_tgt(tgt_in, memory.keys.shape[0], "tgt_in")
        tgt = backend.to_backend(tgt)
        out, weights = self._decoder().teacher_forced(s, memory, tgt)
        return (out, weights) if return_attention else out

    def loss(self, src: Any, src_lengths: Any, tgt_in: Any, tgt_out: Any) -> Tensor:
        """Mean token cross-entropy of ``tgt_out (T, N)`` (``pad`` positions ignored)."""
        logits: Any = self.forward(src, src_lengths, tgt_in)  # no weights asked for: a Tensor
        T, N, V = logits.shape
        target = self._check_tgt(tgt_out, N, "tgt_out")
        if target.shape[0] != T:
            raise ValueError(f"Seq2Seq: tgt_out has {target.shape[0]} steps but tgt_in has {T}")
        return cross_entropy(logits.reshape(T * N, V), target.reshape(-1), ignore_index=self.pad)

    # ---- decoding ----------------------------------------------------------------------------------
    def greedy_decode(
        self, src: Any, src_lengths: Any, max_len: int = 50, return_attention: bool = False
    ) -> list | tuple[list, list]:
        """Argmax decoding of the whole batch at once; a list of N token lists (without ``bos``).

        With ``return_attention=True`` also a list of N arrays ``(len(tokens), src_length)`` (None
        without attention), one row per generated token: ready for a heat map.
        """
        check_decode_args("Seq2Seq", max_len)
        _, lens = self._check_src(src, src_lengths)
        with no_grad():
            memory, s = self.encode(src, src_lengths)
            tokens, rows = self._decoder().greedy(s, memory, max_len, widths=lens.tolist())
        return (tokens, rows) if return_attention else tokens

    def beam_search(
        self,
        src: Any,
        src_lengths: Any,
        beam_size: int = 4,
        max_len: int = 50,
        length_penalty: float = 1.0,
        return_attention: bool = False,
    ) -> list | tuple[list, list]:
        """Beam search, one example at a time; a list of N token lists (the best hypothesis each).

        Ranking and stopping are :meth:`StepDecoder.beam <tinygrad_rnn.models.decoding.StepDecoder.beam>`'s:
        ``log p(y) / len(y)**length_penalty`` (``len`` counts ``eos``); ``beam_size=1`` is greedy decoding.
        With ``return_attention=True`` also the best hypothesis' attention rows, as :meth:`greedy_decode`.
        """
        check_decode_args("Seq2Seq", max_len, beam_size)
        _, lens = self._check_src(src, src_lengths)
        with no_grad():
            memory, s0 = self.encode(src, src_lengths)
            results, attentions = self._decoder().beam(
                s0, memory, beam_size, max_len, length_penalty, widths=lens.tolist(), keep_attention=return_attention
            )
        return (results, attentions) if return_attention else results

    def _decoder(self) -> StepDecoder:
        return StepDecoder(self.decoder.step, self.bos, self.eos)

    def extra_repr(self) -> str:
        return (
            f"src_vocab={self.src_vocab}, tgt_vocab={self.tgt_vocab}, attention={self.attention_kind!r}, "
            f"bos={self.bos}, eos={self.eos}, pad={self.pad}"
        )


# ---- batching helpers ----------------------------------------------------------------------------------
def pad_batch(seqs: Sequence[Sequence[int]], pad: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Time-major ``(max_len, N)`` int64 array padded with ``pad``, and the lengths ``(N,)``."""
    if len(seqs) == 0:
        raise ValueError("pad_batch: no sequences")
    lens = np.array([len(s) for s in seqs], dtype=np.int64)
    out = np.full((max(int(lens.max()), 1), len(seqs)), pad, dtype=np.int64)
    for n, s in enumerate(seqs):
        out[: len(s), n] = s
    return out, lens


def teacher_forcing_batch(
    targets: Sequence[Sequence[int]], bos: int, eos: int, pad: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``tgt_in = <bos> y`` and ``tgt_out = y <eos>``, both ``(max_len + 1, N)`` padded with ``pad``."""
    tin, _ = pad_batch([[bos, *y] for y in targets], pad)
    tout, _ = pad_batch([[*y, eos] for y in targets], pad)
    return tin, tout
