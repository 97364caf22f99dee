r"""Attention with PyTorch's names, parameters, shapes and mask conventions.

:func:`masked_attention` is the library's one attention kernel (the Transformer layers of
:mod:`tinygrad_rnn.nn.transformer` and ``models.transformer`` build on it). For queries ``Q``
(L × d), keys ``K`` (S × d) and values ``V`` (S × d_v):

.. math::

    A = \operatorname{softmax}_{j \notin \text{blocked}_i}\Bigl(\frac{Q K^\top}{\sqrt d} + B\Bigr), \qquad
    \text{out} = \operatorname{dropout}(A)\, V

where the softmax of row ``i`` runs over the keys ``j`` that query ``i`` may see (the others get
weight exactly 0) and ``B`` is an additive float mask. :class:`MultiheadAttention` projects the
inputs, splits ``E`` into ``num_heads`` heads of size ``d = E / num_heads``, attends per head and
projects the concatenated heads back:

.. math::

    \text{head}_h = \operatorname{attention}(q W_{q,h}^\top + b_{q,h},\; k W_{k,h}^\top + b_{k,h},\;
    v W_{v,h}^\top + b_{v,h}), \qquad
    \text{out} = [\text{head}_1; \dots; \text{head}_H]\, W_o^\top + b_o

Masks follow PyTorch: a **boolean** mask is True where attention is *not* allowed; a **float** mask
is added to the scores (``-inf`` entries block). ``attn_mask`` is ``(L, S)`` or ``(N·num_heads, L, S)``
(index ``n·num_heads + h``), ``key_padding_mask`` is ``(N, S)`` (``(S,)`` for unbatched input), and
both may be given (they combine).

.. note::
   **Fully masked rows.** A query whose keys are *all* blocked gets all-zero attention weights, so
   its attention output is the output projection's bias and no gradient flows through that row.
   PyTorch returns NaN there. Rows with at least one allowed key match PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend
from .. import op_functions as Fn
from ..backend import xp
from ..ops.special import masked_softmax
from ..tensor import Tensor
from . import functional as F
from . import init
from .cells import check_dtype
from .layers import Linear
from .module import Module, Parameter

__all__ = ["masked_attention", "MultiheadAttention"]


def masked_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    blocked: Any = None,
    bias: Any = None,
    dropout_p: float = 0.0,
    training: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""Scaled dot-product attention with masks (see the module docstring for the formula).

    ========== ===================================================================================
    q          ``(..., L, d)``
    k, v       ``(..., S, d)``, ``(..., S, d_v)``
    blocked    boolean, broadcastable to ``(..., L, S)``: True hides key ``j`` from query ``i``
    bias       float Tensor or array broadcastable to ``(..., L, S)``, added to the scores
    returns    ``(out (..., L, d_v), weights (..., L, S))``; the weights after dropout, as PyTorch's
               MultiheadAttention returns them
    ========== ===================================================================================

    Note the convention: ``True`` means *blocked* (PyTorch's ``attn_mask`` and ``key_padding_mask``),
    not *allowed* (``F.scaled_dot_product_attention``). A fully blocked row gets all-zero weights.
    """
    q = q * math.sqrt(1.0 / q.shape[-1])  # scaling q (L × d) is cheaper than scaling the scores (L × S)
    scores = q @ k.swapaxes(-1, -2)
    if bias is not None:
        scores = scores + bias
    w = F.dropout(masked_softmax(scores, blocked), dropout_p, training)
    return w @ v, w


# ---- initialisation: PyTorch's distributions through nn.init (the library's seeded host generator) ---
def _param(shape: tuple, fill: Callable[[Tensor], Tensor]) -> Parameter:
    p = Parameter(xp.empty(shape, dtype=backend.get_default_dtype()))
    fill(p)
    return p


# ---- masks ---------------------------------------------------------------------------------------
class _Masks:
    """The masks of one attention call as a boolean ``blocked`` array and an additive float ``bias``,
    both 4-D ``(N | 1, H | 1, L | 1, S)``."""

    def __init__(self, owner: str, dtype: Any) -> None:
        self.owner, self.dtype = owner, dtype
        self.blocked: Any = None
        self.bias: Any = None

    def add(self, name: str, mask: Any, shape4: tuple) -> None:
        arr = mask.array if isinstance(mask, Tensor) else xp.asarray(mask)
        if arr.dtype == bool:
            self._block(arr.reshape(shape4))
            return
        if arr.dtype.kind != "f":
            raise TypeError(f"{self.owner}: only bool and floating {name} are supported, got dtype {arr.dtype}")
        # -inf entries are blocked entries: the masked softmax leaves them out and they are replaced by 0
        # before anything is recorded, so no -inf enters the scores (detect_anomaly stays quiet) and a fully
        # masked row is 0 rather than NaN
        neginf = xp.isneginf(arr)
        has_neginf = bool(neginf.any())
        if has_neginf:
            self._block(neginf.reshape(shape4))
        if isinstance(mask, Tensor) and mask.requires_grad:  # a learned additive mask: keep it on the tape
            t = Fn.where(neginf, 0.0, mask) if has_neginf else mask
            t = t.astype(self.dtype).reshape(shape4)
        else:
            a = xp.where(neginf, 0, arr) if has_neginf else arr
            if not bool(a.any()):  # an all-zero additive mask changes nothing
                return
            t = Tensor._make(a.astype(self.dtype).reshape(shape4), False, None, 0)
        self.bias = t if self.bias is None else self.bias + t

    def _block(self, b: Any) -> None:
        self.blocked = b if self.blocked is None else (self.blocked | b)

    def extend_keys(self) -> None:
        """One more key (a bias_k or zero-attention column), visible to every query."""
        if self.blocked is not None:
            b = self.blocked
            self.blocked = xp.concatenate([b, xp.zeros(b.shape[:-1] + (1,), dtype=bool)], axis=-1)
        if self.bias is not None:
            self.bias = Fn.pad(self.bias, [(0, 0)] * 3 + [(0, 1)])


def _shape(t: Any) -> tuple:
    return tuple(np.shape(t))  # masks may come as Tensors, arrays or nested lists


class MultiheadAttention(Module):
    r"""PyTorch's ``nn.MultiheadAttention`` (see the module docstring for the equations and masks).

    ``MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
    add_zero_attn=False, kdim=None, vdim=None, batch_first=False)``.

    ====================== =================================================================
    parameter              shape (PyTorch's names)
    ====================== =================================================================
    in_proj_weight         ``(3E, E)`` when kdim = vdim = E, else ``q_proj_weight`` ``(E, E)``,
                           ``k_proj_weight`` ``(E, kdim)``, ``v_proj_weight`` ``(E, vdim)``
    in_proj_bias           ``(3E,)`` (absent with ``bias=False``)
    bias_k, bias_v         ``(1, 1, E)`` with ``add_bias_kv``
    out_proj.weight/bias   ``(E, E)``, ``(E,)``
    ====================== =================================================================

    Initialisation as PyTorch's: Xavier-uniform projection weights, zero biases, Xavier-normal
    bias_k/bias_v, ``out_proj.weight`` Linear's default (values differ from PyTorch's for one seed).

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns ``(attn_output, attn_weights)``:

    ================== ========================================== ===========================
    tensor             batched                                    unbatched
    ================== ========================================== ===========================
    query              ``(L, N, E)``; batch-first ``(N, L, E)``   ``(L, E)``
    key, value         ``(S, N, kdim)``, ``(S, N, vdim)``          ``(S, kdim)``, ``(S, vdim)``
    attn_output        like query                                 ``(L, E)``
    attn_weights       ``(N, L, S)``; per head ``(N, H, L, S)``   ``(L, S)``; ``(H, L, S)``
    ================== ========================================== ===========================

    ``attn_weights`` is None unless ``need_weights``; it is averaged over the heads unless
    ``average_attn_weights=False``. With ``dropout`` > 0 in training it is the dropped-out weights.

    ``is_causal=True`` without an ``attn_mask`` applies the causal mask (key j > query i blocked);
    with an ``attn_mask`` it is a hint and the mask is used as given. (PyTorch raises for the first.)
    A query whose keys are all blocked gets zero weights and the output bias, where PyTorch gives NaN.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"MultiheadAttention: embed_dim and num_heads must be positive, got {embed_dim} and {num_heads}"
            )
        if embed_dim % num_heads != 0:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})"
            )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        E = embed_dim
        self.embed_dim, self.num_heads, self.head_dim = E, num_heads, E // num_heads
        self.kdim = E if kdim is None else kdim
        self.vdim = E if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == E and self.vdim == E
        self.dropout, self.batch_first, self.add_zero_attn = dropout, batch_first, add_zero_attn
        # registration order is PyTorch's, so state_dict() lists the keys in PyTorch's order
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _param((3 * E, E), init.xavier_uniform_)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = _param((E, E), init.xavier_uniform_)
            self.k_proj_weight = _param((E, self.kdim), init.xavier_uniform_)
            self.v_proj_weight = _param((E, self.vdim), init.xavier_uniform_)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = _param((3 * E,), init.zeros_)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias)
        if bias:
            self.out_proj.bias = _param((E,), init.zeros_)
        self.bias_k: Parameter | None = None  # plain attributes unless add_bias_kv, as in PyTorch
        self.bias_v: Parameter | None = None
        if add_bias_kv:
            self.bias_k = _param((1, 1, E), init.xavier_normal_)
            self.bias_v = _param((1, 1, E), init.xavier_normal_)

    # ---- forward pieces ------------------------------------------------------------------------
    def _check_inputs(self, query: Any, key: Any, value: Any) -> None:
        owner = "MultiheadAttention"
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{owner}: {name} must be a Tensor, got {type(t).__name__}")
        if query.ndim not in (2, 3):
            raise ValueError(f"{owner}: query must be unbatched (L, E) or batched (3-D), got shape {query.shape}")
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                f"{owner}: for a {query.ndim}-D query, key and value must be {query.ndim}-D too; got shapes "
                f"{key.shape} and {value.shape}"
            )
        want = self.out_proj.weight.dtype
        for name, t in (("query", query), ("key", key), ("value", value)):
            check_dtype(owner, name, t, want)

    def _project(self, query: Tensor, key: Tensor, value: Tensor, q_in: Tensor, k_in: Tensor, v_in: Tensor) -> tuple:
        E, b = self.embed_dim, self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        if not self._qkv_same_embed_dim:
            return (
                F.linear(q_in, self.q_proj_weight, bq),
                F.linear(k_in, self.k_proj_weight, bk),
                F.linear(v_in, self.v_proj_weight, bv),
            )
        W = self.in_proj_weight
        if query is key and key is value:  # self-attention: one matmul for all three
            return Fn.split(F.linear(q_in, W, b), E, axis=-1)
        if key is value:  # encoder-decoder attention: one matmul for k and v
            k, v = Fn.split(F.linear(k_in, W[E:], None if b is None else b[E:]), E, axis=-1)
            return F.linear(q_in, W[:E], bq), k, v
        return F.linear(q_in, W[:E], bq), F.linear(k_in, W[E : 2 * E], bk), F.linear(v_in, W[2 * E :], bv)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        owner = "MultiheadAttention"
        self._check_inputs(query, key, value)
        batched = query.ndim == 3

        def batch_first(t: Tensor) -> Tensor:
            if not batched:
                return t.unsqueeze(0)
            return t if self.batch_first else t.swapaxes(0, 1)

        # transform each distinct tensor once, so that `key is value` still tells the projection what to share
        q_in = batch_first(query)
        k_in = q_in if key is query else batch_first(key)
        v_in = k_in if value is key else q_in if value is query else batch_first(value)
        N, L, E = q_in.shape
        S = k_in.shape[1]
        H, d = self.num_heads, self.head_dim
        if E != self.embed_dim:
            raise ValueError(
                f"{owner}: expected query with embedding dimension {self.embed_dim}, got shape {query.shape}"
            )
        if k_in.shape[-1] != self.kdim or v_in.shape[-1] != self.vdim:
            raise ValueError(
                f"{owner}: expected key (*, {self.kdim}) and value (*, {self.vdim}), got shapes {key.shape} and "
                f"{value.shape}"
            )
        if k_in.shape[0] != N or v_in.shape[:2] != (N, S):
            raise ValueError(
                f"{owner}: query, key and value must agree in batch size and key/value in sequence length; got "
                f"shapes {query.shape}, {key.shape}, {value.shape} (batch_first={self.batch_first})"
            )

        masks = _Masks(owner, q_in.dtype)
        if attn_mask is not None:
            ms = _shape(attn_mask)
            ok = ms == (L, S) or ms == ((N * H, L, S) if batched else (H, L, S))
            if not ok:
                want = f"(L, S) = {(L, S)} or " + (
                    f"(N*num_heads, L, S) = {(N * H, L, S)}" if batched else f"(num_heads, L, S) = {(H, L, S)}"
                )
                raise ValueError(f"{owner}: attn_mask must have shape {want}, got {ms}")
            masks.add("attn_mask", attn_mask, (1, 1, L, S) if len(ms) == 2 else (N, H, L, S))
        elif is_causal:
            masks.add("attn_mask", xp.triu(xp.ones((L, S), dtype=bool), k=1), (1, 1, L, S))
        if key_padding_mask is not None:
            want_kpm = (N, S) if batched else (S,)
            if _shape(key_padding_mask) != want_kpm:
                raise ValueError(
                    f"{owner}: key_padding_mask must have shape {'(N, S)' if batched else '(S,)'} = {want_kpm}, "
                    f"got {_shape(key_padding_mask)}"
                )
            masks.add("key_padding_mask", key_padding_mask, (N, 1, 1, S))

        q, k, v = self._project(query, key, value, q_in, k_in, v_in)
        if self.bias_k is not None and self.bias_v is not None:
            k = Fn.concat([k, self.bias_k.broadcast_to((N, 1, E))], axis=1)
            v = Fn.concat([v, self.bias_v.broadcast_to((N, 1, E))], axis=1)
            masks.extend_keys()
        q, k, v = (t.reshape(N, t.shape[1], H, d).permute(0, 2, 1, 3) for t in (q, k, v))  # (N, H, ·, d)
        if self.add_zero_attn:
            zero = Tensor._make(xp.zeros((N, H, 1, d), dtype=q.dtype), False, None, 0)
            k, v = Fn.concat([k, zero], axis=2), Fn.concat([v, zero], axis=2)
            masks.extend_keys()

        a, w = masked_attention(q, k, v, masks.blocked, masks.bias, self.dropout, self.training)
        out = self.out_proj(a.permute(0, 2, 1, 3).reshape(N, L, E))
        if not batched:
            out = out.reshape(L, E)
        elif not self.batch_first:
            out = out.swapaxes(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            w = w.mean(axis=1)
        return out, (w if batched else w.reshape(w.shape[1:]))

    def extra_repr(self) -> str:
        extra = "" if self._qkv_same_embed_dim else f", kdim={self.kdim}, vdim={self.vdim}"
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}{extra}, "
            f"batch_first={self.batch_first}"
        )
