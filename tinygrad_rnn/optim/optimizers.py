"""Optimizers: SGD, Adagrad, RMSprop, Adam, AdamW.

Every optimizer follows PyTorch's documented update, in the order PyTorch's default single-tensor
(non-foreach, non-fused) implementation evaluates it, so a trajectory matches ``torch.optim`` to
rounding. Notation below: ``θ`` a parameter, ``g`` its gradient, ``γ`` the learning rate, ``λ`` the
weight decay, ``t`` the per-parameter step count (starting at 1).

Each ``_update`` computes the new values as a new array, which the base class writes into the
parameter's own memory (``views.write``: views of the parameter see the step, and a graph that saved
the old values refuses to backpropagate, as in PyTorch). State entries are rebound, never written, so
the arrays in a :meth:`Optimizer.state_dict` are snapshots, unaffected by later steps.

Parameter groups, state and ``state_dict`` are the base class's (:mod:`.optimizer`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..backend import xp
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]


def _lerp(a: Any, b: Any, w: float) -> Any:
    """``a + w (b - a)``, evaluated the way ``torch.lerp`` does (the other form for w >= 0.5)."""
    if abs(w) < 0.5:
        return a + w * (b - a)
    return b - (b - a) * (1.0 - w)


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    For each parameter, with momentum ``μ`` and dampening ``τ``::

        g  ← g + λ θ                      if λ ≠ 0
        b  ← g                            at the first step (if μ ≠ 0)
        b  ← μ b + (1 − τ) g              afterwards
        g  ← g + μ b   (nesterov)   or   g ← b   (plain momentum)     if μ ≠ 0
        θ  ← θ − γ g

    Nesterov momentum requires ``momentum > 0`` and ``dampening == 0``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,  # before nesterov, as in PyTorch, so positional calls mean the same
        nesterov: bool = False,
    ) -> None:
        super().__init__(
            params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        )

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        self._check(group["momentum"] >= 0, "momentum", group["momentum"], "a number >= 0")
        self._check(group["weight_decay"] >= 0, "weight_decay", group["weight_decay"], "a number >= 0")
        self._check(
            not group["nesterov"] or (group["momentum"] > 0 and group["dampening"] == 0),
            "nesterov",
            group["nesterov"],
            f"nesterov=False; Nesterov momentum requires a momentum > 0 and zero "
            f"dampening (momentum={group['momentum']}, dampening={group['dampening']})",
        )

    def _state_names(self, group: dict) -> set:
        return {"momentum_buffer"} if group["momentum"] != 0 else set()

    def _update(self, p: Any, g: Any, st: dict, group: dict) -> Any:
        lr, mu, tau, wd = (float(group[k]) for k in ("lr", "momentum", "dampening", "weight_decay"))
        if wd != 0:
            g = g + wd * p
        if mu != 0:
            buf = st.get("momentum_buffer")
            buf = g if buf is None else buf * mu + (1.0 - tau) * g
            st["momentum_buffer"] = buf
            g = g + mu * buf if group["nesterov"] else buf
        return p - lr * g


class Adagrad(Optimizer):
    r"""Adagrad: per-coordinate learning rates from the running sum of squared gradients.

    The state sum starts at ``initial_accumulator_value`` (the constructor's, for every group, as in
    PyTorch); then each step::

        g  ← g + λ θ                      if λ ≠ 0
        γ̃  = γ / (1 + (t − 1) η)          (η = lr_decay)
        s  ← s + g²
        θ  ← θ − γ̃ g / (√s + ε)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                eps=eps,
            ),
        )

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        for k in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            self._check(group[k] >= 0, k, group[k], "a number >= 0")

    def _init_state(self, p: Tensor, group: dict) -> dict:
        # PyTorch fills the accumulator from the constructor's value for every group (a group's own
        # initial_accumulator_value is stored but unused); the same here, so trajectories agree
        init = float(self.defaults["initial_accumulator_value"])
        return {"step": 0, "sum": xp.full(p.array.shape, init, dtype=p.dtype)}

    def _state_names(self, group: dict) -> set:
        return {"step", "sum"}

    def _update(self, p: Any, g: Any, st: dict, group: dict) -> Any:
        lr, lr_decay, wd, eps = (float(group[k]) for k in ("lr", "lr_decay", "weight_decay", "eps"))
        st["step"] = step = st["step"] + 1
        if wd != 0:
            g = g + wd * p
        clr = lr / (1 + (step - 1) * lr_decay)
        st["sum"] = s = st["sum"] + g * g
        return p + (-clr) * (g / (xp.sqrt(s) + eps))


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), optionally centered and with momentum.

    With smoothing constant ``α`` and momentum ``μ``; ``v``, ``ḡ`` and ``b`` start at zero::

        g  ← g + λ θ                      if λ ≠ 0
        v  ← α v + (1 − α) g²
        ḡ  ← ḡ + (1 − α)(g − ḡ)           if centered;   d = √(v − ḡ²) + ε
                                          else           d = √v + ε
        b  ← μ b + g / d;   θ ← θ − γ b   if μ > 0
        θ  ← θ − γ g / d                  otherwise
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(
            params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)
        )

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        for k in ("alpha", "eps", "weight_decay", "momentum"):
            self._check(group[k] >= 0, k, group[k], "a number >= 0")

    def _init_state(self, p: Tensor, group: dict) -> dict:
        st = {"step": 0, "square_avg": xp.zeros_like(p.array)}
        if group["momentum"] > 0:
            st["momentum_buffer"] = xp.zeros_like(p.array)
        if group["centered"]:
            st["grad_avg"] = xp.zeros_like(p.array)
        return st

    def _state_names(self, group: dict) -> set:
        return (
            {"step", "square_avg"}
            | ({"momentum_buffer"} if group["momentum"] > 0 else set())
            | ({"grad_avg"} if group["centered"] else set())
        )

    def _update(self, p: Any, g: Any, st: dict, group: dict) -> Any:
        lr, alpha, eps, wd, mu = (float(group[k]) for k in ("lr", "alpha", "eps", "weight_decay", "momentum"))
        st["step"] += 1
        if wd != 0:
            g = g + wd * p
        st["square_avg"] = v = st["square_avg"] * alpha + (1.0 - alpha) * (g * g)
        if group["centered"]:
            st["grad_avg"] = ga = _lerp(st["grad_avg"], g, 1.0 - alpha)
            d = xp.sqrt(v - ga * ga) + eps
        else:
            d = xp.sqrt(v) + eps
        if mu > 0:
            st["momentum_buffer"] = b = st["momentum_buffer"] * mu + g / d
            return p + (-lr) * b
        return p + (-lr) * (g / d)


class Adam(Optimizer):
    r"""Adam (Kingma & Ba), with the AMSGrad variant; weight decay is L2 added to the gradient.

    With ``(β₁, β₂) = betas``; ``m``, ``v`` and ``v̂_max`` start at zero::

        g  ← g + λ θ                      if λ ≠ 0
        m  ← m + (1 − β₁)(g − m)          (= β₁ m + (1 − β₁) g)
        v  ← β₂ v + (1 − β₂) g²
        v̂_max ← max(v̂_max, v)            if amsgrad (used in place of v below)
        θ  ← θ − (γ / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)

    ``weight_decay=None`` is the class's default: 0 here, 1e-2 for :class:`AdamW` (PyTorch's defaults).
    """

    # what sets AdamW apart: the update below reads _decoupled, the constructor _default_weight_decay
    _decoupled = False
    _default_weight_decay = 0.0

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float | None = None,
        amsgrad: bool = False,
    ) -> None:
        wd = self._default_weight_decay if weight_decay is None else weight_decay
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=wd, amsgrad=amsgrad))

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        betas = group["betas"]
        self._check(isinstance(betas, (tuple, list)) and len(betas) == 2, "betas", betas, "a pair (beta1, beta2)")
        for i, b in enumerate(betas):
            self._check(0.0 <= b < 1.0, f"beta parameter at index {i}", b, "0 <= beta < 1")
        self._check(group["eps"] >= 0, "eps", group["eps"], "a number >= 0")
        self._check(group["weight_decay"] >= 0, "weight_decay", group["weight_decay"], "a number >= 0")

    def _init_state(self, p: Tensor, group: dict) -> dict:
        st = {"step": 0, "exp_avg": xp.zeros_like(p.array), "exp_avg_sq": xp.zeros_like(p.array)}
        if group["amsgrad"]:
            st["max_exp_avg_sq"] = xp.zeros_like(p.array)
        return st

    def _state_names(self, group: dict) -> set:
        return {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if group["amsgrad"] else set())

    def _update(self, p: Any, g: Any, st: dict, group: dict) -> Any:
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        st["step"] = step = st["step"] + 1
        if wd != 0:
            if self._decoupled:
                p = p * (1.0 - lr * wd)
            else:
                g = g + wd * p
        st["exp_avg"] = m = _lerp(st["exp_avg"], g, 1.0 - beta1)
        st["exp_avg_sq"] = v = st["exp_avg_sq"] * beta2 + (1.0 - beta2) * (g * g)
        step_size = lr / (1.0 - beta1**step)
        bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
        if group["amsgrad"]:
            st["max_exp_avg_sq"] = v = xp.maximum(st["max_exp_avg_sq"], v)
        denom = xp.sqrt(v) / bias_correction2_sqrt + eps
        return p + (-step_size) * (m / denom)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter): the decay shrinks θ, not the gradient.

    The constructor is :class:`Adam`'s, with ``weight_decay`` 1e-2 by default. Each step first applies
    ``θ ← θ (1 − γ λ)`` and then the :class:`Adam` update with λ = 0 (the same code: one ``_update``)::

        θ  ← θ (1 − γ λ)
        m  ← m + (1 − β₁)(g − m);   v ← β₂ v + (1 − β₂) g²;   (v̂_max ← max(v̂_max, v) if amsgrad)
        θ  ← θ − (γ / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
    """

    _decoupled = True
    _default_weight_decay = 1e-2
