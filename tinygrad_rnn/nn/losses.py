"""Loss functions: cross-entropy, negative log-likelihood, mean squared error, binary cross-entropy on logits.

All are compositions of the framework's differentiable ops (``log_softmax``, integer-array indexing,
``where``, ``sum`` ...), so they backpropagate, work under ``create_graph=True`` and run on either backend.
Semantics follow PyTorch's functional forms (argument names, defaults, shapes, reductions).

Shapes for the class-index losses (class axis 1, as in PyTorch):

============================  ============================  ==========================
input                         target (integer class ids)    ``reduction="none"`` gives
============================  ============================  ==========================
``(C,)``                      ``()``                        ``()``
``(N, C)``                    ``(N,)``                      ``(N,)``
``(N, C, d1, ..., dk)``       ``(N, d1, ..., dk)``          ``(N, d1, ..., dk)``
============================  ============================  ==========================

A sequence model's ``(N, T, C)`` (or ``(T, N, C)``) logits are *not* in this layout: flatten them with
``logits.reshape(-1, C)`` and ``target.reshape(-1)``, or move the class axis with ``logits.permute(0, 2, 1)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, checks
from ..backend import is_array, xp
from ..op_functions import softplus, where
from ..ops.movement import GetItem
from ..tensor import Tensor
from .module import Module

__all__ = [
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "binary_cross_entropy_with_logits",
    "CrossEntropyLoss",
    "NLLLoss",
    "MSELoss",
    "BCEWithLogitsLoss",
]

_REDUCTIONS = ("mean", "sum", "none")


# ---- argument checks ------------------------------------------------------------------------------
def _check_reduction(op: str, reduction: Any) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _float_input(op: str, x: Any, what: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: {what} must be floating point, got {x.dtype} with shape {x.shape}")
    return x


def _raw(v: Any) -> Any:
    """A backend array from a Tensor, backend array, NumPy array or nested list."""
    if isinstance(v, Tensor):
        return v.array
    if is_array(v):
        return v
    return backend.to_backend(np.asarray(v))


def _float_like(op: str, what: str, v: Any, like: Tensor) -> Tensor:
    """``v`` as a Tensor of ``like``'s dtype. A Tensor of another dtype is refused (no silent casts); plain
    arrays and lists are data, so they are converted."""
    if isinstance(v, Tensor):
        if v.dtype != like.dtype:
            raise TypeError(
                f"{op}: {what} is {v.dtype} {v.shape} but input is {like.dtype} {like.shape}; "
                "cast one of them with .astype(...)"
            )
        return v
    a = _raw(v)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{op}: {what} must be numeric, got {a.dtype}")
    return Tensor(a.astype(like.dtype))


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _class_target(op: str, x: Tensor, target: Any, ignore_index: int) -> tuple:
    """Validate integer class targets against ``(N, C, d1, ...)`` input; return (x, target array, unbatched)."""
    t = _raw(target)
    if t.dtype.kind not in "iu":
        hint = "; class-probability targets are not supported, pass class indices" if t.dtype.kind == "f" else ""
        raise TypeError(f"{op}: target must hold integer class indices (e.g. int64), got {t.dtype}{hint}")
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have a class axis, shape (C,), (N, C) or (N, C, d1, ...); got a scalar")
    unbatched = x.ndim == 1
    if unbatched:
        if t.ndim != 0:
            raise ValueError(
                f"{op}: unbatched input of shape {x.shape} needs a scalar (0-d) target, got shape {tuple(t.shape)}"
            )
        x, t = x.reshape(1, x.shape[0]), t.reshape(1)
    want = (x.shape[0],) + x.shape[2:]
    if tuple(t.shape) != want:
        hint = ""
        if x.ndim >= 3 and tuple(t.shape) == x.shape[:-1]:
            hint = (
                f". It looks like (N, T, C) logits: the class axis must be axis 1, so pass "
                f"input.reshape(-1, {x.shape[-1]}) with target.reshape(-1), or input.permute(0, 2, 1)"
            )
        raise ValueError(
            f"{op}: input of shape {x.shape} (N, C, d1, ...) needs a target of shape {want}, got {tuple(t.shape)}{hint}"
        )
    n_classes = x.shape[1]
    bad = ((t < 0) | (t >= n_classes)) & (t != ignore_index)
    if checks.deferred(t):
        expected = f"expected 0 <= target < {n_classes} or target == ignore_index ({ignore_index})"
        checks.expect_not(
            (op, "target", n_classes, ignore_index),
            bad.any(),
            lambda: IndexError(f"{op}: a target is out of range for {n_classes} classes; {expected}{checks.later(op)}"),
        )
    elif bool(bad.any()):
        pos = tuple(int(i) for i in np.unravel_index(int(bad.ravel().argmax()), t.shape))
        raise IndexError(
            f"{op}: target value {int(t[pos])} at position {pos} is out of range for {n_classes} "
            f"classes; expected 0 <= target < {n_classes} or target == ignore_index ({ignore_index})"
        )
    return x, t, unbatched


def _class_weight(op: str, weight: Any, x: Tensor) -> Any:
    """The per-class weight as a constant array of the input's dtype (no gradient flows to it, as in PyTorch)."""
    if weight is None:
        return None
    w = _float_like(op, "weight", weight, x).array
    if w.shape != (x.shape[1],):
        raise ValueError(f"{op}: weight must have shape ({x.shape[1]},), one entry per class, got {tuple(w.shape)}")
    return w


def _pick(logp: Tensor, safe: Any) -> Tensor:
    """``logp[n, safe[n, d...], d...]``: the log-probability of each target class, shaped like the target."""
    # one open grid per target axis; together with ``safe`` on the class axis they broadcast to the
    # target's shape, so no (N, d..., C) transposed copy of logp is needed
    k = safe.ndim
    grids = [xp.arange(n).reshape(tuple(n if j == i else 1 for j in range(k))) for i, n in enumerate(safe.shape)]
    # in range by construction (the targets were checked above): no getitem range check again
    return GetItem.apply(logp, index=(grids[0], safe) + tuple(grids[1:]))


def _nll(
    op: str, logp: Tensor, target: Any, weight: Any, ignore_index: int, reduction: str, label_smoothing: float = 0.0
) -> Tensor:
    _check_reduction(op, reduction)
    if not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool):
        raise TypeError(f"{op}: ignore_index must be an int, got {ignore_index!r}")
    ignore_index = int(ignore_index)
    logp, t, unbatched = _class_target(op, logp, target, ignore_index)
    w = _class_weight(op, weight, logp)
    valid = t != ignore_index
    safe = xp.where(valid, t, 0)  # ignored positions index class 0; where() below discards them
    picked = _pick(logp, safe)
    if w is None:
        wt = valid.astype(logp.dtype)
        per = where(valid, -picked, 0.0)
    else:
        wt = xp.where(valid, w[safe], 0).astype(logp.dtype)
        per = where(valid, -(picked * Tensor(wt)), 0.0)
    smooth = None
    if label_smoothing > 0:
        lp = logp if w is None else logp * Tensor(w.reshape((1, -1) + (1,) * (logp.ndim - 2)))
        smooth = where(valid, -lp.sum(axis=1), 0.0)
    if reduction == "none":
        loss = per
        if smooth is not None:
            loss = (1.0 - label_smoothing) * per + smooth * (label_smoothing / logp.shape[1])
        return loss.reshape(()) if unbatched else loss
    total = per.sum()
    stotal = None if smooth is None else smooth.sum()
    if reduction == "mean":
        # every target ignored (or weighted 0): PyTorch's mean is 0/0 = NaN, with zero gradients. Decided
        # on the device, without reading the denominator back: divide by 1 instead and add NaN.
        denom = wt.sum()
        empty = denom == 0
        denom_t = Tensor(xp.where(empty, 1, denom).astype(logp.dtype))
        nan_t = Tensor(xp.where(empty, np.nan, 0).astype(logp.dtype))
        total = total / denom_t + nan_t
        stotal = None if stotal is None else stotal / denom_t
    if stotal is None:
        return total
    return (1.0 - label_smoothing) * total + stotal * (label_smoothing / logp.shape[1])


# ---- functional forms ----------------------------------------------------------------------------
def nll_loss(
    log_probs: Tensor, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    r"""Negative log-likelihood of integer targets given log-probabilities (class axis 1).

    For element ``i`` with target class ``y_i`` and class weights ``w`` (all ones when ``weight`` is None)::

        ℓ_i = −w[y_i] · log_probs[i, y_i]          (0 where y_i == ignore_index)
        mean: Σ ℓ_i / Σ_{i not ignored} w[y_i]     sum: Σ ℓ_i        none: ℓ (shaped like the target)

    A mean over targets that are all ignored is NaN (as in PyTorch). ``weight`` is a constant ``(C,)``
    tensor or array; no gradient flows to it. See the module docstring for the accepted shapes.
    """
    x = _float_input("nll_loss", log_probs, "log_probs")
    return _nll("nll_loss", x, target, weight, ignore_index, reduction)


def cross_entropy(
    logits: Tensor,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    r"""Softmax cross-entropy of integer targets, from unnormalised logits (class axis 1).

    With ``p = log_softmax(logits, axis=1)`` (computed stably), ``C`` classes, smoothing ``ε`` and class
    weights ``w``::

        nll      = nll_loss(p, target, weight, ignore_index, reduction)
        smooth_i = −Σ_c w[c] p[i, c]                (0 where target is ignored)
        loss     = (1 − ε) · nll + (ε / C) · reduce(smooth)

    where ``reduce`` for ``"mean"`` divides the sum by the same Σ w[y_i] as ``nll_loss``. Accepts ``(C,)``,
    ``(N, C)`` and ``(N, C, d1, ...)`` logits. For a sequence model's ``(N, T, C)`` logits use
    ``cross_entropy(logits.reshape(-1, C), target.reshape(-1))`` or ``logits.permute(0, 2, 1)``.
    """
    x = _float_input("cross_entropy", logits, "logits")
    if not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    _check_reduction("cross_entropy", reduction)
    if x.ndim == 0:
        raise ValueError(
            "cross_entropy: logits must have a class axis, shape (C,), (N, C) or (N, C, d1, ...); got a scalar"
        )
    logp = x.log_softmax(axis=0 if x.ndim == 1 else 1)
    return _nll("cross_entropy", logp, target, weight, ignore_index, reduction, float(label_smoothing))


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    r"""Mean squared error ``ℓ_i = (input_i − target_i)²``, reduced by mean, sum or none.

    The shapes must be equal: a ``(N, 1)`` prediction against a ``(N,)`` target would silently broadcast
    to ``(N, N)``, so it is an error here. Gradients flow to ``target`` too when it requires grad.
    """
    op = "mse_loss"
    x = _float_input(op, input)
    _check_reduction(op, reduction)
    t = _float_like(op, "target", target, x)
    if t.shape != x.shape:
        raise ValueError(
            f"{op}: input shape {x.shape} and target shape {t.shape} differ; they must be equal "
            "(no broadcasting: reshape one side explicitly)"
        )
    return _reduce((x - t) ** 2, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Any,
    weight: Any = None,  # noqa: A002
    pos_weight: Any = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Sigmoid + binary cross-entropy in one numerically stable expression.

    For logit ``x``, target ``t`` (probabilities, same shape as ``x``), element weight ``w`` (broadcast to
    ``x``) and positive-class weight ``p`` (broadcast along the last axis, e.g. shape ``(C,)``)::

        ℓ = w · [ (1 − t) x + (1 + (p − 1) t) · softplus(−x) ]
          = w · [ −p t log σ(x) − (1 − t) log(1 − σ(x)) ]

    with ``softplus(−x) = max(−x, 0) + log(1 + e^(−|x|))``, so nothing overflows even for ``|x| = 1000``
    (without ``pos_weight`` this is ``max(x, 0) − x t + log(1 + e^(−|x|))``).
    """
    op = "binary_cross_entropy_with_logits"
    x = _float_input(op, input)
    _check_reduction(op, reduction)
    t = _float_like(op, "target", target, x)
    if t.shape != x.shape:
        raise ValueError(f"{op}: target shape {t.shape} must equal input shape {x.shape}")
    sp = softplus(-x, threshold=None)  # exact: the loss matches PyTorch for every |x|
    if pos_weight is None:
        loss = (1.0 - t) * x + sp
    else:
        pw = _float_like(op, "pos_weight", pos_weight, x)
        _check_broadcast(op, "pos_weight", pw.shape, x.shape)
        loss = (1.0 - t) * x + ((pw - 1.0) * t + 1.0) * sp
    if weight is not None:
        w = _float_like(op, "weight", weight, x)
        _check_broadcast(op, "weight", w.shape, x.shape)
        loss = loss * w
    return _reduce(loss, reduction)


def _check_broadcast(op: str, what: str, shape: tuple, to: tuple) -> None:
    try:
        ok = np.broadcast_shapes(shape, to) == to
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{op}: {what} of shape {shape} does not broadcast to the input's shape {to}")


# ---- module forms --------------------------------------------------------------------------------
class _Loss(Module):
    """A loss's options held in a Module; ``loss(input, target)`` calls :meth:`forward`."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Module form of :func:`cross_entropy`."""

    def __init__(
        self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0
    ) -> None:
        super().__init__()
        _check_reduction("CrossEntropyLoss", reduction)
        self.weight, self.ignore_index, self.reduction = weight, ignore_index, reduction
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(_Loss):
    """Module form of :func:`nll_loss`."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction("NLLLoss", reduction)
        self.weight, self.ignore_index, self.reduction = weight, ignore_index, reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """Module form of :func:`mse_loss`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction("MSELoss", reduction)
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return mse_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Module form of :func:`binary_cross_entropy_with_logits`."""

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__()
        _check_reduction("BCEWithLogitsLoss", reduction)
        self.weight, self.reduction, self.pos_weight = weight, reduction, pos_weight

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return binary_cross_entropy_with_logits(input, target, self.weight, self.pos_weight, self.reduction)
