"""Training utilities: gradient clipping (by total norm, by value), variable-length batches
(:mod:`.rnn`, PyTorch's ``nn.utils.rnn``: ``pad_sequence``, ``PackedSequence`` and packing), and
truncated BPTT (re-exported from :mod:`..tbptt`).

The clipping functions replace each ``p.grad`` with a new Tensor rather than scaling its array in place:
arrays are shared between tensors and the tape, so writing into one could change values elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ...backend import xp
from ...tensor import Tensor
from ..tbptt import detach_state, truncated_bptt, windows  # noqa: F401
from . import rnn  # noqa: F401  (nn.utils.rnn, as in PyTorch)
from .rnn import PackedSequence  # noqa: F401

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "pad_sequence",
    "rnn",
    "PackedSequence",
    "detach_state",
    "windows",
    "truncated_bptt",
]


def _params(op: str, parameters: Any) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        ps = list(parameters)
    except TypeError:
        raise TypeError(
            f"{op}: parameters must be a Tensor or an iterable of Tensors, got {type(parameters).__name__}"
        ) from None
    for i, p in enumerate(ps):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: parameter {i} is a {type(p).__name__}, expected a Tensor")
    return ps


def _vector_norm(a: Any, p: float) -> Any:
    """``torch.linalg.vector_norm(a, p)`` of all entries of ``a``, as a 0-d array of a's dtype."""
    a = xp.abs(a)
    if p == math.inf:
        return a.max() if a.size else xp.zeros((), dtype=a.dtype)
    if p == -math.inf:
        return a.min() if a.size else xp.asarray(math.inf, dtype=a.dtype)
    if p == 0:
        return xp.asarray((a != 0).sum(), dtype=a.dtype)
    if p == 1:
        return a.sum()
    if p == 2:
        return xp.sqrt((a * a).sum())
    return ((a**p).sum()) ** (1.0 / p)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    r"""Rescale the gradients of ``parameters`` so that their joint norm is at most ``max_norm``.

    The total norm is the ``norm_type``-norm of the vector of each gradient's ``norm_type``-norm (which for
    ``p`` in (0, ∞) equals the norm of all gradient entries together); ``norm_type=float('inf')`` gives the
    largest absolute entry. Then, as in PyTorch::

        coef = max_norm / (total + 1e-6)
        g    ← g · min(coef, 1)  for every gradient

    Parameters whose ``.grad`` is None are skipped. Returns the total norm *before* clipping as a 0-d
    Tensor (0.0 when no parameter has a gradient). With ``error_if_nonfinite=True`` a NaN or infinite total
    raises RuntimeError and leaves the gradients untouched; otherwise the gradients are scaled by the
    (non-finite) coefficient, as PyTorch does.
    """
    op = "clip_grad_norm_"
    ps = _params(op, parameters)
    try:
        max_norm, norm_type = float(max_norm), float(norm_type)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: max_norm and norm_type must be numbers, got {max_norm!r} and {norm_type!r}") from None
    grads = [p for p in ps if p.grad is not None]
    if not grads:
        return Tensor(0.0)
    dtypes = {p.grad.dtype for p in grads}
    dtype = np.result_type(*dtypes)
    norms = [_vector_norm(p.grad.array, norm_type).astype(dtype) for p in grads]
    # always the norm of the stacked norms, even for one gradient, so rounding (and p = 0) match PyTorch
    total = _vector_norm(xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"{op}: the total norm of order {norm_type} of the gradients of {len(grads)} "
            f"parameter(s) is non-finite ({float(total)}), so it cannot be clipped. To scale the "
            "gradients by the non-finite norm anyway, pass error_if_nonfinite=False"
        )
    coef = max_norm / (total + 1e-6)  # a 0-d array in the gradients' dtype, as in PyTorch
    # min(coef, 1) on the device rather than a branch on coef < 1, which would read it back to the host
    # (a GPU sync per step); g * 1 is g exactly, and NaN coefficients scale too, as in PyTorch
    coef = xp.minimum(coef, 1.0)
    # inf * 0 = NaN is the intended result for a non-finite norm (as in PyTorch), not worth a warning
    with np.errstate(invalid="ignore"):
        for p in grads:
            g = p.grad.array
            p.grad = Tensor(g * coef.astype(g.dtype))
    return Tensor(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    r"""Clamp every gradient entry into ``[−clip_value, clip_value]``: ``g ← min(max(g, −c), c)``.

    Parameters whose ``.grad`` is None are skipped; ``clip_value`` must be a non-negative number.
    """
    op = "clip_grad_value_"
    ps = _params(op, parameters)
    try:
        c = float(clip_value)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: clip_value must be a number, got {clip_value!r}") from None
    if not c >= 0:
        raise ValueError(f"{op}: clip_value must be >= 0, got {clip_value!r}")
    for p in ps:
        if p.grad is not None:
            p.grad = Tensor(xp.clip(p.grad.array, -c, c))


def pad_sequence(
    sequences: Tensor | Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> tuple[Tensor, list[int]]:
    r"""Stack variable-length sequences into one padded tensor, and report their lengths.

    ``sequences`` is a list of Tensors of shape ``(L_i, *)`` sharing the trailing dims ``*`` and the dtype.
    Returns ``(padded, lengths)``: ``padded`` is :func:`.rnn.pad_sequence`'s (PyTorch's) result, shape
    ``(max L_i, B, *)``, or ``(B, max L_i, *)`` with ``batch_first=True``, where ``padded[:L_i, i] =
    sequences[i]`` and the rest is ``padding_value``; ``lengths`` is the Python list ``[L_0, ..., L_{B-1}]``
    (what the recurrent layers take as ``lengths``). The result is differentiable with respect to every
    input sequence. PyTorch has no ``torch.nn.utils.pad_sequence``: its ``torch.nn.utils.rnn.pad_sequence``
    is :func:`.rnn.pad_sequence`, which returns the padded tensor alone.
    """
    seqs = rnn._sequence_list(sequences, "pad_sequence")
    padded = rnn.pad_sequence(seqs, batch_first, padding_value, padding_side)
    return padded, [s.shape[0] for s in seqs]
