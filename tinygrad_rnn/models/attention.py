"""Attention over a set of keys: additive (Bahdanau) and dot (Luong) scores, a masked softmax, and the
``Memory`` a decoder reads at every step. Used by the encoder-decoder and the image captioner.

The equations and shapes are in each class's docstring; padded keys (mask False) get a score of
``MASK_VALUE`` before the softmax, so their weights are 0 and a row never turns NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..backend import xp
from ..nn.layers import Linear
from ..nn.module import Module
from ..op_functions import where
from ..tensor import Tensor

MASK_VALUE = -1e9


def masked_softmax(scores: Tensor, mask: Any | None) -> Tensor:
    """Softmax over the last axis of ``scores (N, S)`` with positions where ``mask`` is False set to 0."""
    if mask is None:
        return scores.softmax(axis=-1)
    m = mask.array if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.shape != scores.shape:
        raise ValueError(f"masked_softmax: mask shape {tuple(m.shape)} != scores shape {scores.shape}")
    if not bool(m.any(axis=-1).all()):
        # a fully masked row has no distribution to return; uniform weights over padding would be a lie
        raise ValueError("masked_softmax: every row needs at least one unmasked position (empty sequence?)")
    return where(m, scores, MASK_VALUE).softmax(axis=-1)


def _check_attention_args(name: str, query: Tensor, keys: Tensor, q_size: int, k_size: int) -> None:
    if query.ndim != 2 or query.shape[1] != q_size:
        raise ValueError(f"{name}: query must be (N, {q_size}), got shape {query.shape}")
    if keys.ndim != 3 or keys.shape[0] != query.shape[0] or keys.shape[2] != k_size:
        raise ValueError(f"{name}: keys must be (N={query.shape[0]}, S, {k_size}), got shape {keys.shape}")
    if keys.shape[1] == 0:
        raise ValueError(f"{name}: keys hold an empty sequence (S = 0)")


class AdditiveAttention(Module):
    r"""Bahdanau attention: ``score_j = vᵀ tanh(W_q q + W_k k_j + b_k)``.

    ============== ==================== ==============================================
    query ``q``    ``(N, query_size)``  the decoder state s_{t-1}
    keys ``k``     ``(N, S, key_size)`` encoder outputs (batch-major)
    mask           ``(N, S)`` bool      True at real (non-padded) positions; optional
    context        ``(N, key_size)``    Σ_j α_j k_j
    weights ``α``  ``(N, S)``           softmax over j; 0 at masked positions
    ============== ==================== ==============================================

    ``W_k k`` does not depend on the decoder step, so :meth:`precompute` computes it once per source.
    """

    def __init__(self, query_size: int, key_size: int, attn_size: int | None = None) -> None:
        super().__init__()
        attn_size = attn_size or query_size
        for what, v in (("query_size", query_size), ("key_size", key_size), ("attn_size", attn_size)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"AdditiveAttention: {what} must be a positive int, got {v!r}")
        self.query_size, self.key_size, self.attn_size = query_size, key_size, attn_size
        self.query_proj = Linear(query_size, attn_size, bias=False)  # W_q
        self.key_proj = Linear(key_size, attn_size)  # W_k, b_k
        self.v = Linear(attn_size, 1, bias=False)  # vᵀ

    def precompute(self, keys: Tensor) -> Tensor:
        """``W_k k + b_k``: ``(N, S, attn_size)``, shared by every decoder step."""
        return self.key_proj(keys)

    def forward(
        self, query: Tensor, keys: Tensor, mask: Any | None = None, projected: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        _check_attention_args("AdditiveAttention", query, keys, self.query_size, self.key_size)
        N, S, _ = keys.shape
        pk = self.precompute(keys) if projected is None else projected
        hidden = (pk + self.query_proj(query).reshape(N, 1, self.attn_size)).tanh()  # (N, S, A)
        scores = self.v(hidden).reshape(N, S)
        weights = masked_softmax(scores, mask)
        context = (weights.reshape(N, 1, S) @ keys).reshape(N, self.key_size)  # batched matmul
        return context, weights

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}, attn_size={self.attn_size}"


class DotAttention(Module):
    r"""Luong attention: ``score_j = qᵀ W k_j`` (``general=True``) or ``qᵀ k_j`` (``general=False``).

    Shapes as :class:`AdditiveAttention`. ``W`` is ``(query_size, key_size)``, stored as a bias-free
    ``Linear(key_size, query_size)`` so that :meth:`precompute` maps every key into query space once.
    The plain dot product has no parameters and needs ``key_size == query_size``.
    """

    def __init__(self, query_size: int, key_size: int, general: bool = True) -> None:
        super().__init__()
        for what, v in (("query_size", query_size), ("key_size", key_size)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"DotAttention: {what} must be a positive int, got {v!r}")
        if not general and query_size != key_size:
            raise ValueError(
                f"DotAttention: plain dot attention needs query_size == key_size, got "
                f"{query_size} and {key_size}; use general=True to learn a projection"
            )
        self.query_size, self.key_size, self.general = query_size, key_size, general
        if general:
            self.key_proj = Linear(key_size, query_size, bias=False)  # W k_j

    def precompute(self, keys: Tensor) -> Tensor:
        """``W k`` (or ``k`` itself): ``(N, S, query_size)``."""
        return self.key_proj(keys) if self.general else keys

    def forward(
        self, query: Tensor, keys: Tensor, mask: Any | None = None, projected: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        _check_attention_args("DotAttention", query, keys, self.query_size, self.key_size)
        N, S, _ = keys.shape
        pk = self.precompute(keys) if projected is None else projected
        scores = (pk @ query.reshape(N, self.query_size, 1)).reshape(N, S)  # qᵀ W k_j
        weights = masked_softmax(scores, mask)
        context = (weights.reshape(N, 1, S) @ keys).reshape(N, self.key_size)
        return context, weights

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}, general={self.general}"


@dataclass
class Memory:
    """What the decoder reads at every step, computed once per source batch.

    ``keys (N, S, K)`` encoder outputs batch-major; ``mask (N, S)`` bool (True = real token);
    ``projected`` the attention's :meth:`precompute` of the keys (None without attention);
    ``context (N, K)`` the fixed context (the encoder's final state).
    """

    keys: Tensor
    mask: Any
    projected: Tensor | None
    context: Tensor

    def select(self, rows: Any) -> Memory:
        """The memory of batch rows ``rows`` (repeats allowed: beam search copies one source B times)."""
        r = xp.asarray(rows)
        return Memory(
            self.keys[r], self.mask[r], None if self.projected is None else self.projected[r], self.context[r]
        )
