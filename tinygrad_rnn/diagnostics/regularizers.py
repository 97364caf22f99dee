r"""Remedies for exploding and vanishing gradients through time (Pascanu, Mikolov & Bengio, 2013).

* :func:`gradient_flow_penalty`: the regulariser Ω that "encourages information flow": it asks each
  step's Jacobian to preserve the norm of the error signal travelling backwards,

  .. math::

      Ω = \sum_{t=1}^{T-1} \left( \frac{\lVert \frac{∂L}{∂h_{t+1}} \frac{∂h_{t+1}}{∂h_t} \rVert}
                                       {\lVert \frac{∂L}{∂h_{t+1}} \rVert} - 1 \right)^2

  with ∂L/∂h_{t+1} (the total derivative, through all later steps) treated as a constant.
* :func:`clip_and_count` / :class:`ClipStats`: clip by norm (direction kept) or by value (direction
  changed) through :mod:`tinygrad_rnn.nn.utils`, and count how often the clip actually fired.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..autograd import grad
from ..backend import xp
from ..nn.utils import _params, _vector_norm, clip_grad_norm_, clip_grad_value_
from ..operands import check_tensors
from ..tensor import Tensor

__all__ = ["ClipStats", "clip_and_count", "gradient_flow_penalty"]


def gradient_flow_penalty(
    loss: Tensor | None, hidden_states: Sequence[Tensor], *, upstream: Sequence[Any] | None = None, eps: float = 1e-8
) -> Tensor:
    r"""Pascanu et al.'s information-flow regulariser Ω, differentiable w.r.t. the model's parameters.

    .. math::

        Ω = \frac{1}{N} \sum_{n=1}^{N} \sum_{t=1}^{T-1}
            \left( \frac{\sqrt{\lVert δ_{t+1} J_{t+1} \rVert^2 + ε^2}}{\lVert δ_{t+1} \rVert + ε} - 1 \right)^2,
        \qquad δ_{t+1} = \operatorname{sg}\!\left(\frac{∂L}{∂h_{t+1}}\right),\;
        J_{t+1} = \frac{∂h_{t+1}}{∂h_t}

    where the norms are over the hidden units of one sample ``n`` (each sequence gets its own ratio, as
    in the paper's per-example formulation) and ``sg`` stops the gradient: δ is a constant, so Ω only
    pushes the step Jacobians towards preserving the norm of the error that actually flows through them.
    ``ε`` keeps the ratio finite when δ = 0 (a sample whose loss ignores h_{t+1} gives ratio 1, so 0
    penalty) and keeps ‖·‖ differentiable at 0.

    ``hidden_states`` is the list ``[h_1, ..., h_T]`` of ``(N, H)`` (or ``(H,)``) states produced by a cell
    loop, ``h_{t+1} = cell(x_{t+1}, h_t)``. They must be the very tensors the loop fed into the next step,
    so the **composed** cell path is needed: ``nn.RNNCell`` (or ``GRUCell``, or any function built from the
    framework's ops) called in a Python loop. Slices ``out[t]`` of an ``nn.RNN`` output do not work, fused
    or not (``nn.use_fused(False)`` composes the steps, but the output is stacked afterwards, so its slices
    do not depend on one another); this function detects that and says so.

    ``loss`` is the scalar whose gradients define δ. Alternatively pass ``upstream=[δ_2, ..., δ_T]``
    (arrays or Tensors, treated as constants) and ``loss=None``: useful to check Ω by finite differences,
    where δ must not move with the parameters. Returns a 0-d Tensor with a graph (built with
    ``tg.grad(..., create_graph=True)``), so ``(loss + λ·Ω).backward()`` trains with the regulariser.
    """
    op = "gradient_flow_penalty"
    if isinstance(hidden_states, Tensor):
        raise TypeError(
            f"{op}: hidden_states must be a list [h_1, ..., h_T] of Tensors, got a single Tensor of "
            f"shape {hidden_states.shape}; collect the states of a cell loop in a list"
        )
    hs = list(hidden_states)
    if len(hs) < 2:
        raise ValueError(f"{op}: need at least 2 hidden states (one transition h_t -> h_(t+1)), got {len(hs)}")
    check_tensors(op, hs, "hidden state")
    for i, h in enumerate(hs):
        if h.shape != hs[0].shape:
            raise ValueError(
                f"{op}: hidden state {i} has shape {h.shape} but hidden state 0 has {hs[0].shape}; "
                "all states of one loop share a shape"
            )
        if not h.requires_grad:
            raise RuntimeError(
                f"{op}: hidden state {i} does not require grad; build the states with grad enabled "
                "from parameters that require grad"
            )
    if not eps > 0:
        raise ValueError(f"{op}: eps must be > 0, got {eps!r}")

    if upstream is None:
        if not isinstance(loss, Tensor):
            raise TypeError(
                f"{op}: loss must be a scalar Tensor (or pass upstream= and loss=None), got {type(loss).__name__}"
            )
        if loss.numel() != 1:
            raise ValueError(f"{op}: loss must be a scalar, got shape {loss.shape}")
        # the total ∂L/∂h_{t+1} for t+1 = 2..T; retain_graph so loss.backward() still works afterwards
        ds = grad(loss, hs[1:], retain_graph=True, allow_unused=True)
        deltas = [xp.zeros(h.array.shape, dtype=h.array.dtype) if d is None else d.array for d, h in zip(ds, hs[1:])]
    else:
        if loss is not None:
            raise ValueError(f"{op}: pass either loss or upstream, not both")
        deltas = [u.array if isinstance(u, Tensor) else xp.asarray(u, dtype=hs[0].array.dtype) for u in upstream]
        if len(deltas) != len(hs) - 1:
            raise ValueError(f"{op}: upstream needs one gradient per state h_2..h_T ({len(hs) - 1}), got {len(deltas)}")
        for i, d in enumerate(deltas):
            if tuple(d.shape) != hs[0].shape:
                raise ValueError(f"{op}: upstream {i} has shape {tuple(d.shape)}, expected {hs[0].shape}")

    total: Tensor | None = None
    for t in range(len(hs) - 1):
        d = deltas[t]
        try:
            # δ_{t+1} J_{t+1}: one vector-Jacobian product through a single step, kept on the tape
            (v,) = grad(hs[t + 1], hs[t], grad_outputs=Tensor(d), retain_graph=True, create_graph=True)
        except RuntimeError as e:
            if "not used in the graph" not in str(e):
                raise
            raise ValueError(
                f"{op}: hidden state {t + 1} does not depend on hidden state {t}; pass the states of a "
                "composed cell loop (nn.RNNCell called in a Python loop, collecting each h_t), not "
                "slices out[t] of an nn.RNN/LSTM/GRU output (fused or under nn.use_fused(False), the "
                "output is stacked, so its slices do not depend on one another)"
            ) from None
        vn = ((v * v).sum(axis=-1) + eps * eps).sqrt()  # ‖δJ‖, smooth at 0
        dn = xp.sqrt((d * d).sum(axis=-1)) + eps  # ‖δ‖, a constant
        r = vn / Tensor(dn) - 1.0
        term = (r * r).mean() if r.ndim else r * r  # mean over samples, sum over time
        total = term if total is None else total + term
    assert total is not None
    return total


@dataclass
class ClipStats:
    """What :func:`clip_and_count` saw: one entry per call (the total 2-norm *before* clipping)."""

    steps: int = 0
    triggered: int = 0
    norms: list = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Fraction of steps on which clipping changed the gradients (0.0 before any step)."""
        return self.triggered / self.steps if self.steps else 0.0


def clip_and_count(
    params: Tensor | Iterable[Tensor],
    max_norm: float | None = None,
    max_value: float | None = None,
    stats: ClipStats | None = None,
) -> bool:
    r"""Clip the gradients of ``params`` by norm or by value and return whether the clip fired.

    Exactly one of ``max_norm`` (:func:`nn.utils.clip_grad_norm_`: g ← g·max_norm/‖g‖ when ‖g‖ exceeds it,
    the direction is kept) and ``max_value`` (:func:`nn.utils.clip_grad_value_`: each entry clamped to
    [−c, c], the direction generally changes) must be given. "Fired" means the gradients changed: for the
    norm, ``max_norm / (‖g‖ + 1e-6) < 1`` (nn.utils' own test, so it agrees with what was done); for the
    value, some ``|g_i| > c``. With ``stats`` the call is counted there, with the pre-clip total norm.
    """
    op = "clip_and_count"
    if (max_norm is None) == (max_value is None):
        raise ValueError(
            f"{op}: give exactly one of max_norm and max_value, got max_norm={max_norm!r}, max_value={max_value!r}"
        )
    ps = [p for p in _params(op, params) if p.grad is not None]
    norm = 0.0
    if ps:
        norm = float(_vector_norm(xp.stack([_vector_norm(p.grad.array, 2.0) for p in ps]), 2.0))
    if max_norm is not None:
        if not (isinstance(max_norm, (int, float)) and max_norm > 0):
            raise ValueError(f"{op}: max_norm must be a positive number, got {max_norm!r}")
        fired = bool(ps) and not (max_norm / (norm + 1e-6) >= 1.0)  # NaN norms count as fired, as nn.utils scales them
        clip_grad_norm_(ps, max_norm)
    else:
        if not (isinstance(max_value, (int, float)) and max_value > 0):
            raise ValueError(f"{op}: max_value must be a positive number, got {max_value!r}")
        fired = any(bool((xp.abs(p.grad.array) > max_value).any()) for p in ps)
        clip_grad_value_(ps, max_value)
    if stats is not None:
        stats.steps += 1
        stats.triggered += int(fired)
        stats.norms.append(norm if math.isfinite(norm) else float("nan"))
    return fired
