"""A small Transformer encoder for token sequences (batch-first), built on :mod:`tinygrad_rnn.nn.transformer`.

The layers are PyTorch's (``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer``, ``nn.LayerNorm``,
one implementation shared with them); this module adds what a token classifier needs around them:
positions, lengths -> masks, pooling, and a simpler calling convention.

Scaled dot-product attention with H heads of size d_h = dim / H, for x of shape (N, T, dim)::

    [Q K V] = x W_inᵀ + b_in                                            in_proj_weight (3·dim, dim), split
    S = Q Kᵀ / √d_h                                                     (N, H, T, T) scores, per head
    A = masked softmax(S) over the key axis                             blocked keys get weight exactly 0
    out = concat_h(A V) W_oᵀ + b_o                                      out_proj, (N, T, dim)

Masks (``True`` = *blocked*, PyTorch's convention): ``key_padding_mask`` (N, T) hides padded keys from
every query; ``causal=True`` hides keys j > i from query i. The masked softmax
(:class:`tinygrad_rnn.ops.special.MaskedSoftmax`) leaves blocked keys out, so:

* a row with at least one allowed key sums to 1 and blocked keys get weight 0;
* a row whose keys are *all* blocked (e.g. a query at a padded position when every key is padded) gets
  all-zero weights and a zero attention output — never NaN, and no gradient flows through it.

Layer normalisation over the last axis: LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β with μ, σ² the mean and
(biased) variance of the last axis (:class:`tinygrad_rnn.nn.LayerNorm`).

Sinusoidal positions: PE[t, 2i] = sin(t / 10000^(2i/dim)), PE[t, 2i+1] = cos(t / 10000^(2i/dim)).

The encoder block is **pre-norm** by default (Xiong et al. 2020; GPT-2 style), which trains stably
without warm-up::

    x ← x + Dropout(MHA(LN₁(x)))
    x ← x + Dropout(W₂ Dropout(ReLU(W₁ LN₂(x) + b₁)) + b₂)

and :class:`TransformerEncoder` applies a final LayerNorm after the last block (pre-norm leaves the
residual stream un-normalised). Pass ``norm_first=False`` for the original post-norm block
(x ← LN₁(x + MHA(x)); x ← LN₂(x + FF(x))).

Parameter names are PyTorch's: a block holds ``self_attn.in_proj_weight``, ``self_attn.out_proj.*``,
``linear1``, ``linear2``, ``norm1``, ``norm2``, so a ``torch.nn.TransformerEncoderLayer(dim, heads, ff,
batch_first=True, norm_first=...)`` state_dict loads into a :class:`TransformerEncoderBlock`.

=========================== =============================== =================================
tensor                      shape                           notes
=========================== =============================== =================================
ids (encoder input)         ``(N, T)`` integer              T ≤ max_len
x (block / MHA input)       ``(N, T, dim)``
key_padding_mask            ``(N, T)`` bool                 True = padding (ignored as a key)
lengths (encoder)           ``(N,)`` ints in [1, T]         builds key_padding_mask
attention weights           ``(N, H, T, T)``                rows: queries, columns: keys
output                      ``(N, T, dim)``
=========================== =============================== =================================
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..backend import xp
from ..nn.containers import ModuleList
from ..nn.layers import Dropout, Embedding
from ..nn.module import Module
from ..nn.normalization import LayerNorm
from ..nn.transformer import MultiheadAttention, TransformerEncoderLayer
from ..tensor import Tensor

__all__ = [
    "LayerNorm",
    "MultiHeadAttention",
    "TransformerEncoderBlock",
    "TransformerEncoder",
    "positional_encoding",
    "lengths_to_padding_mask",
    "masked_mean",
]


def positional_encoding(T: int, dim: int, dtype: Any = None) -> Tensor:
    """Sinusoidal table ``(T, dim)``: PE[t, 2i] = sin(t·ω_i), PE[t, 2i+1] = cos(t·ω_i), ω_i = 10000^(−2i/dim)."""
    if T < 0 or dim < 1:
        raise ValueError(f"positional_encoding: need T >= 0 and dim >= 1, got T={T}, dim={dim}")
    pos = np.arange(T, dtype=np.float64)[:, None]
    omega = 10000.0 ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    pe = np.zeros((T, dim))
    pe[:, 0::2] = np.sin(pos * omega)
    pe[:, 1::2] = np.cos(pos * omega[: dim // 2])  # odd dim: one fewer cosine column
    return Tensor(pe.astype(backend.get_default_dtype() if dtype is None else dtype))


def _check_padding_mask(op: str, mask: Any, N: int, T: int) -> Any:
    m = mask.array if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"{op}: key_padding_mask must be boolean (True = padding), got {m.dtype}")
    if tuple(m.shape) != (N, T):
        raise ValueError(f"{op}: key_padding_mask must have shape (N, T) = ({N}, {T}), got {tuple(m.shape)}")
    return m


def _check_x(op: str, x: Any, dim: int) -> None:
    if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[-1] != dim:
        raise ValueError(f"{op}: expected x of shape (N, T, {dim}), got {getattr(x, 'shape', type(x).__name__)}")


class MultiHeadAttention(MultiheadAttention):
    """Batch-first self-attention with ``heads`` heads of size ``dim // heads``: an
    :class:`tinygrad_rnn.nn.MultiheadAttention` (its parameters, init and masks) with a shorter call.

    ``forward(x, key_padding_mask=None, causal=False, need_weights=False)`` returns ``out`` (N, T, dim), or
    ``(out, weights)`` with per-head weights (N, H, T, T) when ``need_weights``.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        if dim < 1 or heads < 1:
            raise ValueError(f"MultiHeadAttention: dim and heads must be positive, got {dim}, {heads}")
        if dim % heads != 0:
            raise ValueError(f"MultiHeadAttention: dim ({dim}) must be divisible by heads ({heads})")
        super().__init__(dim, heads, dropout=dropout, batch_first=True)
        self.dim, self.heads = dim, heads

    def forward(self, x: Tensor, key_padding_mask: Any = None, causal: bool = False, need_weights: bool = False) -> Any:  # type: ignore[override]
        _check_x("MultiHeadAttention", x, self.dim)
        if key_padding_mask is not None:
            key_padding_mask = _check_padding_mask("MultiHeadAttention", key_padding_mask, x.shape[0], x.shape[1])
        out, w = super().forward(
            x,
            x,
            x,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            average_attn_weights=False,
            is_causal=causal,
        )
        return (out, w) if need_weights else out

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}"


class TransformerEncoderBlock(TransformerEncoderLayer):
    """One batch-first encoder block, pre-norm by default (see the module docstring); ``ff`` is the hidden
    width. A :class:`tinygrad_rnn.nn.TransformerEncoderLayer` (ReLU) with a shorter call:
    ``forward(x, key_padding_mask=None, causal=False)``."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float = 0.0, norm_first: bool = True) -> None:
        if ff < 1:
            raise ValueError(f"TransformerEncoderBlock: ff must be positive, got {ff}")
        super().__init__(dim, heads, dim_feedforward=ff, dropout=dropout, batch_first=True, norm_first=norm_first)
        self.dim = dim

    def forward(self, x: Tensor, key_padding_mask: Any = None, causal: bool = False) -> Tensor:  # type: ignore[override]
        _check_x("TransformerEncoderBlock", x, self.dim)
        if key_padding_mask is not None:
            key_padding_mask = _check_padding_mask("TransformerEncoderBlock", key_padding_mask, x.shape[0], x.shape[1])
        return super().forward(x, src_key_padding_mask=key_padding_mask, is_causal=causal)


class TransformerEncoder(Module):
    """Token embedding + sinusoidal positions, ``layers`` blocks (``blocks.0``, ``blocks.1``, ...), and a
    final LayerNorm (pre-norm only).

    ``forward(ids, lengths=None, key_padding_mask=None, causal=False)`` -> ``(N, T, dim)``. Outputs at
    padded positions are computed but meaningless; pool with :func:`masked_mean` or ignore them in the loss.
    """

    def __init__(
        self,
        vocab: int,
        dim: int,
        heads: int,
        layers: int,
        ff: int,
        max_len: int,
        dropout: float = 0.0,
        norm_first: bool = True,
    ) -> None:
        super().__init__()
        if layers < 1 or max_len < 1:
            raise ValueError(f"TransformerEncoder: layers and max_len must be positive, got {layers}, {max_len}")
        self.dim, self.max_len, self.norm_first = dim, max_len, norm_first
        self.embed = Embedding(vocab, dim)
        self.register_buffer("pe", positional_encoding(max_len, dim))
        # independently initialised blocks (nn.TransformerEncoder would deep-copy one)
        self.blocks = ModuleList(TransformerEncoderBlock(dim, heads, ff, dropout, norm_first) for _ in range(layers))
        self.norm = LayerNorm(dim) if norm_first else None
        self.drop = Dropout(dropout)

    def forward(self, ids: Any, lengths: Any = None, key_padding_mask: Any = None, causal: bool = False) -> Tensor:
        idx = ids.array if isinstance(ids, Tensor) else xp.asarray(ids)
        if idx.ndim != 2:
            raise ValueError(f"TransformerEncoder: ids must have shape (N, T), got {tuple(idx.shape)}")
        N, T = idx.shape
        if T > self.max_len:
            raise ValueError(f"TransformerEncoder: sequence length {T} exceeds max_len {self.max_len}")
        if lengths is not None:
            if key_padding_mask is not None:
                raise ValueError("TransformerEncoder: pass lengths or key_padding_mask, not both")
            key_padding_mask = lengths_to_padding_mask(lengths, T)
            if key_padding_mask.shape[0] != N:
                raise ValueError(f"TransformerEncoder: lengths has {key_padding_mask.shape[0]} entries for N={N}")
        x = self.drop(self.embed(idx) + self.pe[:T])
        for b in self.blocks:
            x = b(x, key_padding_mask, causal)
        return self.norm(x) if self.norm is not None else x


def lengths_to_padding_mask(lengths: Any, T: int) -> Any:
    """``(N,)`` lengths -> ``(N, T)`` boolean mask, True at padded positions t >= length."""
    ln = np.asarray(lengths.numpy() if isinstance(lengths, Tensor) else lengths)
    if ln.ndim != 1 or ln.dtype.kind not in "iu" or (ln.size and (ln.min() < 1 or ln.max() > T)):
        raise ValueError(f"lengths must be a 1-d array of ints in [1, {T}], got {ln!r}")
    return xp.asarray(np.arange(T)[None, :] >= ln[:, None])


def masked_mean(h: Tensor, key_padding_mask: Any) -> Tensor:
    """Mean of ``h`` (N, T, D) over the non-padded positions -> (N, D)."""
    keep = ~(key_padding_mask.array if isinstance(key_padding_mask, Tensor) else xp.asarray(key_padding_mask))
    w = Tensor(keep.astype(h.dtype))[:, :, None]
    return (h * w).sum(axis=1) / w.sum(axis=1)
