"""A small Transformer encoder composed from the framework's ops (batch-first).

Scaled dot-product attention with H heads of size d_h = dim / H, for x of shape (N, T, dim)::

    Q = x W_qᵀ + b_q,   K = x W_kᵀ + b_k,   V = x W_vᵀ + b_v          each split into H heads (N, H, T, d_h)
    S = Q Kᵀ / √d_h                                                     (N, H, T, T) scores
    A = softmax(S masked)  over the key axis                            masked keys get weight exactly 0
    out = concat_h(A V) W_oᵀ + b_o                                      (N, T, dim)

Masks (``True`` = *blocked*, PyTorch's convention): ``key_padding_mask`` (N, T) hides padded keys from
every query; ``causal=True`` hides keys j > i from query i. Blocked scores are replaced by a large
negative number before the softmax and the weights are then multiplied by the allowed mask, so:

* a row with at least one allowed key sums to 1 and blocked keys get weight 0 (their exp underflows);
* a row whose keys are *all* blocked (e.g. a query at a padded position when every key is padded) gets
  all-zero weights and a zero attention output — never NaN, and no gradient flows through it.

Layer normalisation over the last axis: LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β with μ, σ² the mean and
(biased) variance of the last axis.

Sinusoidal positions: PE[t, 2i] = sin(t / 10000^(2i/dim)), PE[t, 2i+1] = cos(t / 10000^(2i/dim)).

The encoder block is **pre-norm** (Xiong et al. 2020; GPT-2 style), which trains stably without warm-up::

    x ← x + Dropout(MHA(LN₁(x)))
    x ← x + Dropout(W₂ ReLU(W₁ LN₂(x) + b₁) + b₂)

and :class:`TransformerEncoder` applies a final LayerNorm after the last block (pre-norm leaves the
residual stream un-normalised). Pass ``norm_first=False`` for the original post-norm block
(x ← LN₁(x + MHA(x)); x ← LN₂(x + FF(x))).

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

import math
from typing import Any

import numpy as np

from .. import backend
from .. import functions as Fn
from ..backend import xp
from ..nn.layers import Dropout, Embedding, Linear
from ..nn.module import Module, Parameter
from ..tensor import Tensor

_BLOCKED = -1e9  # finite, so a fully blocked row stays finite (softmax of equal values) before zeroing


class LayerNorm(Module):
    """LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β over the last axis (``dim``); γ = 1, β = 0 at init."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        if dim < 1 or eps < 0:
            raise ValueError(f"LayerNorm: dim must be positive and eps non-negative, got {dim}, {eps}")
        self.dim, self.eps = dim, eps
        d = backend.get_default_dtype()
        self.weight = Parameter(backend.to_backend(np.ones(dim, d)))
        self.bias = Parameter(backend.to_backend(np.zeros(dim, d)))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 0 or x.shape[-1] != self.dim:
            raise ValueError(f"LayerNorm: expected input (*, {self.dim}), got shape {x.shape}")
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        var = (xc * xc).mean(axis=-1, keepdims=True)
        return xc / (var + self.eps).sqrt() * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"


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
    m = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"{op}: key_padding_mask must be boolean (True = padding), got {m.dtype}")
    if tuple(m.shape) != (N, T):
        raise ValueError(f"{op}: key_padding_mask must have shape (N, T) = ({N}, {T}), got {tuple(m.shape)}")
    return m


class MultiHeadAttention(Module):
    """Self-attention with ``heads`` heads of size ``dim // heads``; see the module docstring for equations.

    ``forward(x, key_padding_mask=None, causal=False, need_weights=False)`` returns ``out`` (N, T, dim), or
    ``(out, weights)`` with weights (N, H, T, T) when ``need_weights``.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim < 1 or heads < 1:
            raise ValueError(f"MultiHeadAttention: dim and heads must be positive, got {dim}, {heads}")
        if dim % heads != 0:
            raise ValueError(f"MultiHeadAttention: dim ({dim}) must be divisible by heads ({heads})")
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.q_proj, self.k_proj, self.v_proj = Linear(dim, dim), Linear(dim, dim), Linear(dim, dim)
        self.out_proj = Linear(dim, dim)
        self.dropout = Dropout(dropout)  # on the attention weights, as in PyTorch

    def _heads(self, y: Tensor, N: int, T: int) -> Tensor:
        return y.reshape(N, T, self.heads, self.head_dim).permute(0, 2, 1, 3)  # (N, H, T, d_h)

    def forward(self, x: Tensor, key_padding_mask: Any = None, causal: bool = False, need_weights: bool = False) -> Any:
        if x.ndim != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"MultiHeadAttention: expected x of shape (N, T, {self.dim}), got {x.shape}")
        N, T, _ = x.shape
        q, k, v = (self._heads(p(x), N, T) for p in (self.q_proj, self.k_proj, self.v_proj))
        scores = (q @ k.swapaxes(-1, -2)) * (1.0 / math.sqrt(self.head_dim))  # (N, H, T, T)
        blocked = None
        if key_padding_mask is not None:
            blocked = _check_padding_mask("MultiHeadAttention", key_padding_mask, N, T)[:, None, None, :]
        if causal:
            future = xp.triu(xp.ones((T, T), dtype=bool), k=1)[None, None]  # key j > query i
            blocked = future if blocked is None else (blocked | future)
        if blocked is None:
            w = scores.softmax(-1)
        else:
            allowed = xp.broadcast_to(~blocked, scores.shape)
            w = Fn.where(allowed, scores, _BLOCKED).softmax(-1)
            # zero blocked weights exactly; this is what makes fully blocked rows 0 instead of uniform
            w = Fn.where(allowed, w, 0.0)
        a = self.dropout(w) @ v  # (N, H, T, d_h)
        out = self.out_proj(a.permute(0, 2, 1, 3).reshape(N, T, self.dim))
        return (out, w) if need_weights else out

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}"


class TransformerEncoderBlock(Module):
    """One encoder block, pre-norm by default (see the module docstring); ``ff`` is the hidden width."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float = 0.0, norm_first: bool = True) -> None:
        super().__init__()
        if ff < 1:
            raise ValueError(f"TransformerEncoderBlock: ff must be positive, got {ff}")
        self.norm_first = norm_first
        self.attn = MultiHeadAttention(dim, heads, dropout)
        self.norm1, self.norm2 = LayerNorm(dim), LayerNorm(dim)
        self.ff1, self.ff2 = Linear(dim, ff), Linear(ff, dim)
        self.drop = Dropout(dropout)

    def _ff(self, x: Tensor) -> Tensor:
        return self.ff2(self.ff1(x).relu())

    def forward(self, x: Tensor, key_padding_mask: Any = None, causal: bool = False) -> Tensor:
        if self.norm_first:
            x = x + self.drop(self.attn(self.norm1(x), key_padding_mask, causal))
            return x + self.drop(self._ff(self.norm2(x)))
        x = self.norm1(x + self.drop(self.attn(x, key_padding_mask, causal)))
        return self.norm2(x + self.drop(self._ff(x)))


class TransformerEncoder(Module):
    """Token embedding + sinusoidal positions, ``layers`` blocks, final LayerNorm (pre-norm only).

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
        self.blocks = [TransformerEncoderBlock(dim, heads, ff, dropout, norm_first) for _ in range(layers)]
        for i, b in enumerate(self.blocks):
            setattr(self, f"block{i}", b)  # registers each block's parameters in order
        self.norm = LayerNorm(dim) if norm_first else None
        self.drop = Dropout(dropout)

    def forward(self, ids: Any, lengths: Any = None, key_padding_mask: Any = None, causal: bool = False) -> Tensor:
        idx = ids.data if isinstance(ids, Tensor) else xp.asarray(ids)
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
    keep = ~(key_padding_mask.data if isinstance(key_padding_mask, Tensor) else xp.asarray(key_padding_mask))
    w = Tensor(keep.astype(h.dtype))[:, :, None]
    return (h * w).sum(axis=1) / w.sum(axis=1)
