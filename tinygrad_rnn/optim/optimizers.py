"""Optimizers: SGD, Adagrad, RMSprop, Adam, AdamW.

Every optimizer follows PyTorch's documented update, in the order PyTorch's default single-tensor
(non-foreach, non-fused) implementation evaluates it, so a trajectory matches ``torch.optim`` to
rounding. Notation below: ``θ`` a parameter, ``g`` its gradient, ``γ`` the learning rate, ``λ`` the
weight decay, ``t`` the per-parameter step count (starting at 1).

Updates never write into an array in place: tensors, the tape and saved state share arrays, so a
parameter is updated by rebinding ``p.data`` to a new array and state entries are rebound likewise.
A side effect worth having: the arrays in a :meth:`Optimizer.state_dict` are snapshots, unaffected
by later steps.

Parameter groups work as in PyTorch::

    opt = optim.SGD([{"params": encoder_params}, {"params": head_params, "lr": 1e-2}], lr=1e-3, momentum=0.9)
    opt.add_param_group({"params": new_params, "weight_decay": 1e-4})  # the other options from the defaults

Every hyperparameter is read from the parameter's own group at every step, so each group can have its
own ``lr``, ``weight_decay``, ``betas``, ``momentum`` and so on, and a scheduler or user may change a
group's values between steps. ``model.named_parameters()`` may be passed as well: the names are kept
in the group's ``"param_names"``, as PyTorch does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import backend
from ..autograd import enable_grad
from ..backend import xp
from ..tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]

_SET_MESSAGE = (
    "optimizer parameters need to be organized in ordered collections, but the ordering of tensors in "
    "sets will change between runs. Please use a list instead."
)


def _lerp(a: Any, b: Any, w: float) -> Any:
    """``a + w (b - a)``, evaluated the way ``torch.lerp`` does (the other form for w >= 0.5)."""
    if abs(w) < 0.5:
        return a + w * (b - a)
    return b - (b - a) * (1.0 - w)


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``step`` and state dicts.

    ``params`` is an iterable of Tensors, or of dicts each holding ``"params"`` (an iterable of
    Tensors) plus hyperparameters that override ``defaults`` for that group. ``state`` maps each
    parameter (the Tensor itself) to a dict of its running quantities.

    Subclasses define ``_validate(group)`` (hyperparameter checks), ``_state_names(group)`` (the keys
    a parameter's state holds once it has been stepped) and ``_update(param_array, grad_array, state,
    group) -> new_param_array``.
    """

    def __init__(self, params: Iterable[Any], defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list = []
        name = type(self).__name__
        if isinstance(params, (Tensor, dict)) or not hasattr(params, "__iter__"):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts with a 'params' key, "
                f"got a single {type(params).__name__}; wrap it in a list"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: {_SET_MESSAGE}")
        params = list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    # ---- groups ------------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters: a dict with ``"params"`` and optional hyperparameter overrides.

        Options the group does not set are filled in from the optimizer's defaults (the constructor's
        arguments). Useful for fine-tuning: unfreeze layers and add them with their own learning rate.
        A parameter may belong to one group only. ``"params"`` may be a Tensor, a list of Tensors or a
        list of ``(name, Tensor)`` pairs (``named_parameters()``), but not a set (its order would change
        between runs, and the state dict names parameters by position).
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}: params must be all Tensors or all dicts with a 'params' key; "
                f"got an element of type {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry; got keys {sorted(param_group)}")
        ps = param_group["params"]
        if isinstance(ps, (set, frozenset)):
            raise TypeError(f"{name}: {_SET_MESSAGE}")
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        names = None
        if ps and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in ps):
            names, ps = [n for n, _ in ps], [p for _, p in ps]
        elif any(isinstance(p, tuple) for p in ps):
            raise TypeError(
                f"{name}: parameter group {len(self.param_groups)} mixes (name, Tensor) pairs with other "
                "entries; pass all named or all unnamed parameters"
            )
        if not ps:
            raise ValueError(f"{name}: parameter group {len(self.param_groups)} is empty")
        for i, p in enumerate(ps):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: parameter {i} of group {len(self.param_groups)} is a "
                    f"{type(p).__name__}, expected a Tensor"
                )
            if p.dtype.kind != "f":
                raise TypeError(
                    f"{name}: parameter {i} of group {len(self.param_groups)} has dtype {p.dtype}; "
                    "only floating-point tensors can be optimized"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: parameter {i} of group {len(self.param_groups)} (shape {p.shape}) "
                    "is not a leaf tensor (it was computed by an op); optimize leaves only"
                )
        ids = [id(p) for p in ps]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: parameter group {len(self.param_groups)} lists the same tensor twice")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen.intersection(ids):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        group = dict(self.defaults)
        group.update({k: v for k, v in param_group.items() if k != "params"})
        group["params"] = ps
        if names is not None:
            group["param_names"] = names
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group: dict) -> None:
        lr = group.get("lr")
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr >= 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {lr!r}; expected a number >= 0")

    def _check(self, ok: bool, what: str, value: Any, expected: str) -> None:
        if not ok:
            raise ValueError(f"{type(self).__name__}: invalid {what} {value!r}; expected {expected}")

    # ---- gradients and steps -----------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``None``; or zeros with ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad = Tensor(xp.zeros_like(p.data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; parameters whose ``.grad`` is None are skipped.

        ``closure`` (optional) re-evaluates the model and returns the loss; it is run with grad mode on
        before the update and its result is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for gi, group in enumerate(self.param_groups):
            for pi, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                g = p.grad.data
                if g.shape != p.data.shape:
                    raise RuntimeError(
                        f"{type(self).__name__}.step: parameter {pi} of group {gi} has shape "
                        f"{p.shape} but its grad has shape {tuple(g.shape)}"
                    )
                if g.dtype != p.data.dtype:
                    raise TypeError(
                        f"{type(self).__name__}.step: parameter {pi} of group {gi} is {p.dtype} "
                        f"but its grad is {g.dtype}; they must match (no silent casts)"
                    )
                st = self.state.get(p)
                if st is None:
                    st = self.state[p] = self._init_state(p, group)
                p.data = self._update(p.data, g, st, group)
        return loss

    def _init_state(self, p: Tensor, group: dict) -> dict:
        return {}

    def _state_names(self, group: dict) -> set:
        return set()

    def _update(self, p: Any, g: Any, st: dict, group: dict) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- state dicts -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {"0": {...}, ...}, "param_groups": [{hyperparameters..., "params": [0, 1]}]}``.

        Parameters are named by their position across the groups (as strings, so :func:`tinygrad_rnn.save`
        can write the dict). Values are numbers, tuples and arrays only.
        """
        index: dict = {}
        groups = []
        for group in self.param_groups:
            packed = {k: (list(v) if isinstance(v, list) else v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if st:  # lists copied too (LBFGS's history), so later steps leave this dict alone
                    state[str(index[id(p)])] = {k: (list(v) if isinstance(v, list) else v) for k, v in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict` (possibly via save/load).

        The saved groups must match this optimizer's groups in number and size. Floating state arrays are
        cast to their parameter's dtype, and every array must have its parameter's shape.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{name}: expected a dict with keys 'state' and 'param_groups', got {got}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the state dict has {len(saved_groups)} parameter group(s) but this "
                f"optimizer has {len(self.param_groups)}"
            )
        params = []
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            n_saved = len(saved.get("params", ()))
            if n_saved != len(group["params"]):
                raise ValueError(
                    f"{name}: parameter group {gi} has {n_saved} parameter(s) in the state dict "
                    f"but {len(group['params'])} in this optimizer"
                )
            params.extend(group["params"])
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            g = dict(group)
            # lists come back from save/load for tuples (betas); param_names is the one list option
            g.update({k: (tuple(v) if isinstance(v, list) and k != "param_names" else v) for k, v in saved.items()})
            g["params"] = group["params"]
            self._validate(g)
            new_groups.append(g)
        group_of = {id(p): g for g in new_groups for p in g["params"]}
        new_state: dict = {}
        for key, st in dict(state_dict["state"]).items():
            try:
                i = int(key)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: state key {key!r} is not a parameter index") from None
            if not 0 <= i < len(params):
                raise ValueError(f"{name}: state for parameter {i}, but this optimizer has {len(params)} parameter(s)")
            p = params[i]
            new_state[p] = self._load_param_state(name, i, dict(st), p, group_of[id(p)])
        # commit only after everything validated, so a failed load leaves the optimizer untouched
        for group, g in zip(self.param_groups, new_groups):
            group.clear()
            group.update(g)
        self.state = new_state

    def _load_param_state(self, name: str, i: int, st: dict, p: Tensor, group: dict) -> dict:
        """Check and convert the saved state of parameter ``i`` (a hook: LBFGS keeps other state)."""
        want = self._state_names(group)
        if set(st) != want:
            raise ValueError(
                f"{name}: state of parameter {i} has keys {sorted(st)} but "
                f"{type(self).__name__} with these settings expects {sorted(want)}"
            )
        return {k: self._load_value(name, i, k, v, p) for k, v in st.items()}

    @staticmethod
    def _load_value(name: str, i: int, key: str, v: Any, p: Tensor) -> Any:
        if isinstance(v, Tensor):
            v = v.data
        if isinstance(v, (np.ndarray, backend.ndarray)) and v.ndim > 0:
            a = backend.to_backend(v)
            if a.shape != p.data.shape:
                raise ValueError(
                    f"{name}: state '{key}' of parameter {i} has shape {tuple(a.shape)} but the "
                    f"parameter has shape {p.shape}"
                )
            if a.dtype.kind == "f" and a.dtype != p.data.dtype:
                a = a.astype(p.data.dtype)
            return a
        if isinstance(v, (np.ndarray, np.generic, backend.ndarray)):
            v = v.item()
        return v

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


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
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay)
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
        return {"step": 0, "sum": xp.full(p.data.shape, init, dtype=p.dtype)}

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
        st = {"step": 0, "square_avg": xp.zeros_like(p.data)}
        if group["momentum"] > 0:
            st["momentum_buffer"] = xp.zeros_like(p.data)
        if group["centered"]:
            st["grad_avg"] = xp.zeros_like(p.data)
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
    """

    _decoupled = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        betas = group["betas"]
        self._check(isinstance(betas, (tuple, list)) and len(betas) == 2, "betas", betas, "a pair (beta1, beta2)")
        for i, b in enumerate(betas):
            self._check(0.0 <= b < 1.0, f"beta parameter at index {i}", b, "0 <= beta < 1")
        self._check(group["eps"] >= 0, "eps", group["eps"], "a number >= 0")
        self._check(group["weight_decay"] >= 0, "weight_decay", group["weight_decay"], "a number >= 0")

    def _init_state(self, p: Tensor, group: dict) -> dict:
        st = {"step": 0, "exp_avg": xp.zeros_like(p.data), "exp_avg_sq": xp.zeros_like(p.data)}
        if group["amsgrad"]:
            st["max_exp_avg_sq"] = xp.zeros_like(p.data)
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

    Each step first applies ``θ ← θ (1 − γ λ)`` and then the :class:`Adam` update with λ = 0::

        θ  ← θ (1 − γ λ)
        m  ← m + (1 − β₁)(g − m);   v ← β₂ v + (1 − β₂) g²;   (v̂_max ← max(v̂_max, v) if amsgrad)
        θ  ← θ − (γ / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
