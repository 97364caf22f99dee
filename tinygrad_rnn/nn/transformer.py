r"""Attention and the Transformer layers, with PyTorch's names, parameters, shapes and mask conventions.

:func:`masked_attention` is the library's one attention kernel (``models.transformer`` builds on it
through these modules). For queries ``Q`` (L × d), keys ``K`` (S × d) and values ``V`` (S × d_v):

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

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend
from .. import functions as Fn
from ..backend import xp
from ..ops.special import masked_softmax
from ..tensor import Tensor
from . import functional as F
from .cells import check_dtype
from .containers import ModuleList
from .layers import Dropout, Linear
from .module import Module, Parameter
from .normalization import LayerNorm

__all__ = [
    "masked_attention",
    "MultiheadAttention",
    "TransformerEncoderLayer",
    "TransformerEncoder",
    "TransformerDecoderLayer",
    "TransformerDecoder",
    "Transformer",
]


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


# ---- initialisation (PyTorch's distributions, drawn from the library's seeded host generator) -------
def _fans(shape: tuple) -> tuple[int, int]:
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _xavier_uniform(shape: tuple, dtype: Any = None) -> Any:
    fan_in, fan_out = _fans(shape)
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    d = backend.get_default_dtype() if dtype is None else dtype
    return backend.to_backend(backend.host_rng().uniform(-bound, bound, shape).astype(d))


def _xavier_normal(shape: tuple) -> Any:
    fan_in, fan_out = _fans(shape)
    std = math.sqrt(2.0 / (fan_in + fan_out))
    a = backend.host_rng().standard_normal(shape) * std
    return backend.to_backend(a.astype(backend.get_default_dtype()))


def _zeros(shape: tuple) -> Any:
    return backend.to_backend(np.zeros(shape, backend.get_default_dtype()))


# ---- masks ---------------------------------------------------------------------------------------
class _Masks:
    """The masks of one attention call as a boolean ``blocked`` array and an additive float ``bias``,
    both 4-D ``(N | 1, H | 1, L | 1, S)``."""

    def __init__(self, owner: str, dtype: Any) -> None:
        self.owner, self.dtype = owner, dtype
        self.blocked: Any = None
        self.bias: Any = None

    def add(self, name: str, mask: Any, shape4: tuple) -> None:
        arr = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
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
            self.in_proj_weight = Parameter(_xavier_uniform((3 * E, E)))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(_xavier_uniform((E, E)))
            self.k_proj_weight = Parameter(_xavier_uniform((E, self.kdim)))
            self.v_proj_weight = Parameter(_xavier_uniform((E, self.vdim)))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(_zeros((3 * E,)))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias)
        if bias:
            self.out_proj.bias = Parameter(_zeros((E,)))
        self.bias_k: Parameter | None = None  # plain attributes unless add_bias_kv, as in PyTorch
        self.bias_v: Parameter | None = None
        if add_bias_kv:
            self.bias_k = Parameter(_xavier_normal((1, 1, E)))
            self.bias_v = Parameter(_xavier_normal((1, 1, E)))

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


# ---- Transformer layers ---------------------------------------------------------------------------
def _activation(owner: str, activation: Any) -> Callable[[Tensor], Tensor]:
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise ValueError(f"{owner}: activation should be 'relu', 'gelu' or a callable, not {activation!r}")
    if not callable(activation):
        raise TypeError(f"{owner}: activation should be 'relu', 'gelu' or a callable, got {type(activation).__name__}")
    return activation


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: their arguments, the submodules in PyTorch's order
    (``self_attn``, [``multihead_attn``], ``linear1``, ``dropout``, ``linear2``, ``norm1..n``,
    ``dropout1..n``) and the self-attention, feed-forward and residual steps."""

    _cross_attention = False  # the decoder layer adds multihead_attn, norm3 and dropout3

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
    ) -> None:
        if dim_feedforward < 1:
            raise ValueError(f"{type(self).__name__}: dim_feedforward must be positive, got {dim_feedforward}")
        super().__init__()
        cross = self._cross_attention
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        if cross:
            self.multihead_attn = MultiheadAttention(
                d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first
            )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        if cross:
            self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if cross:
            self.dropout3 = Dropout(dropout)
        self.activation = _activation(type(self).__name__, activation)

    def _residual(self, x: Tensor, norm: Module, block: Callable[[Tensor], Tensor]) -> Tensor:
        """One residual sublayer: ``x + block(norm(x))`` pre-norm, ``norm(x + block(x))`` post-norm."""
        if self.norm_first:
            return x + block(norm(x))
        return norm(x + block(x))

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        y, _ = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal
        )
        return self.dropout1(y)

    def _ff_block(self, x: Tensor) -> Tensor:
        # the last sublayer's dropout: dropout2 in the encoder layer, dropout3 in the decoder layer
        last_dropout = self.dropout3 if self._cross_attention else self.dropout2
        return last_dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_TransformerLayer):
    r"""PyTorch's ``nn.TransformerEncoderLayer``: self-attention and a feed-forward block, each residual.

    ``TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1, activation='relu',
    layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True)``. With FF(x) =
    linear2(dropout(activation(linear1(x)))) and SA the self-attention:

    .. math::

        \text{post-norm:}\quad x \leftarrow \mathrm{norm}_1(x + \mathrm{SA}(x)),\quad
        x \leftarrow \mathrm{norm}_2(x + \mathrm{FF}(x)) \\
        \text{pre-norm (norm\_first):}\quad x \leftarrow x + \mathrm{SA}(\mathrm{norm}_1(x)),\quad
        x \leftarrow x + \mathrm{FF}(\mathrm{norm}_2(x))

    (each sublayer output passes dropout1/dropout2). Submodules: ``self_attn``, ``linear1``,
    ``dropout``, ``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``.
    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``.
    """

    def forward(
        self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool = False
    ) -> Tensor:
        x = self._residual(src, self.norm1, lambda y: self._sa_block(y, src_mask, src_key_padding_mask, is_causal))
        return self._residual(x, self.norm2, self._ff_block)


class TransformerDecoderLayer(_TransformerLayer):
    r"""PyTorch's ``nn.TransformerDecoderLayer``: self-attention, attention over ``memory``, feed-forward.

    Same arguments as :class:`TransformerEncoderLayer`. Post-norm (pre-norm moves each norm inside):

    .. math::

        x \leftarrow \mathrm{norm}_1(x + \mathrm{SA}(x)),\quad
        x \leftarrow \mathrm{norm}_2(x + \mathrm{MHA}(x, \text{memory})),\quad
        x \leftarrow \mathrm{norm}_3(x + \mathrm{FF}(x))

    Submodules: ``self_attn``, ``multihead_attn``, ``linear1``, ``dropout``, ``linear2``, ``norm1..3``,
    ``dropout1..3``. ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``.
    """

    _cross_attention = True

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        y, _ = self.multihead_attn(
            x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal
        )
        return self.dropout2(y)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = self._residual(tgt, self.norm1, lambda y: self._sa_block(y, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self._residual(
            x, self.norm2, lambda y: self._mha_block(y, memory, memory_mask, memory_key_padding_mask, memory_is_causal)
        )
        return self._residual(x, self.norm3, self._ff_block)


def _clones(owner: str, layer: Any, n: int) -> ModuleList:
    if not isinstance(layer, Module):
        raise TypeError(f"{owner}: expected a layer Module, got {type(layer).__name__}")
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"{owner}: num_layers must be a non-negative int, got {n!r}")
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


class TransformerEncoder(Module):
    """PyTorch's ``nn.TransformerEncoder``: ``num_layers`` deep copies of ``encoder_layer`` (state_dict keys
    ``layers.0. ...``), then ``norm`` if given.

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``. ``enable_nested_tensor``
    and ``mask_check`` are accepted and ignored: PyTorch's nested-tensor fast path (inference only)
    returns zeros at padded positions; here they hold the values computed there.
    """

    def __init__(
        self,
        encoder_layer: Module,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = _clones("TransformerEncoder", encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(
        self, src: Tensor, mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool | None = None
    ) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """PyTorch's ``nn.TransformerDecoder``: ``num_layers`` deep copies of ``decoder_layer``, then ``norm``.

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)``.
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones("TransformerDecoder", decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(
                x,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=bool(tgt_is_causal),
                memory_is_causal=memory_is_causal,
            )
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """PyTorch's ``nn.Transformer``: an encoder stack and a decoder stack, each with a final LayerNorm.

    ``Transformer(d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
    dropout=0.1, activation='relu', custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
    batch_first=False, norm_first=False, bias=True)``; every parameter with more than one dimension is
    re-drawn Xavier-uniform, as PyTorch's ``_reset_parameters`` does.

    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
    memory_is_causal=False)``: src ``(S, N, E)``, tgt ``(T, N, E)`` (batch-first ``(N, S, E)``,
    ``(N, T, E)``; unbatched ``(S, E)``, ``(T, E)``) -> ``(T, N, E)`` like tgt.
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__()
        layer_args = (
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            activation,
            layer_norm_eps,
            batch_first,
            norm_first,
            bias,
        )
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*layer_args), num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*layer_args), num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                p.data = _xavier_uniform(p.shape, p.dtype)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Any = None,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        src_key_padding_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        batch_axis = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch_axis] != tgt.shape[batch_axis]):
            raise ValueError(
                f"Transformer: the batch sizes of src and tgt must be equal; got shapes {src.shape} and {tgt.shape} "
                f"(batch_first={self.batch_first})"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(
                f"Transformer: the feature sizes of src and tgt must equal d_model={self.d_model}; got shapes "
                f"{src.shape} and {tgt.shape}"
            )
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """The ``(sz, sz)`` causal float mask: ``-inf`` above the diagonal (future keys), 0 elsewhere.

        ``device`` is accepted for PyTorch's signature and ignored (tensors live on the active backend).
        """
        d = (
            backend.get_default_dtype()
            if dtype is None
            else backend.as_float_dtype(dtype, "generate_square_subsequent_mask")
        )
        return Tensor(backend.to_backend(np.triu(np.full((sz, sz), -np.inf, dtype=d), k=1)))
