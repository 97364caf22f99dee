"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad``, ``step(closure)``, ``state_dict``.

The algorithms (:mod:`.optimizers`, :mod:`.lbfgs`) subclass it. Parameter groups work as in PyTorch::

    opt = optim.SGD([{"params": encoder_params}, {"params": head_params, "lr": 1e-2}], lr=1e-3, momentum=0.9)
    opt.add_param_group({"params": new_params, "weight_decay": 1e-4})  # the other options from the defaults

Every hyperparameter is read from the parameter's own group at every step, so each group can have its
own options, and a scheduler or user may change a group's values between steps.
``model.named_parameters()`` may be passed as well: the names are kept in the group's
``"param_names"``, as PyTorch does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import backend, views
from ..autograd import enable_grad
from ..backend import xp
from ..tensor import Tensor

__all__ = ["Optimizer"]

_SET_MESSAGE = (
    "optimizer parameters need to be organized in ordered collections, but the ordering of tensors in "
    "sets will change between runs. Please use a list instead."
)


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
                    p.grad = Tensor(xp.zeros_like(p.array))

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
                g = p.grad.array
                if g.shape != p.array.shape:
                    raise RuntimeError(
                        f"{type(self).__name__}.step: parameter {pi} of group {gi} has shape "
                        f"{p.shape} but its grad has shape {tuple(g.shape)}"
                    )
                if g.dtype != p.array.dtype:
                    raise TypeError(
                        f"{type(self).__name__}.step: parameter {pi} of group {gi} is {p.dtype} "
                        f"but its grad is {g.dtype}; they must match (no silent casts)"
                    )
                st = self.state.get(p)
                if st is None:
                    st = self.state[p] = self._init_state(p, group)
                views.write(p, self._update(p.array, g, st, group))
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
            v = v.array
        if isinstance(v, (np.ndarray, backend.ndarray)) and v.ndim > 0:
            a = backend.to_backend(v)
            if a.shape != p.array.shape:
                raise ValueError(
                    f"{name}: state '{key}' of parameter {i} has shape {tuple(a.shape)} but the "
                    f"parameter has shape {p.shape}"
                )
            if a.dtype.kind == "f" and a.dtype != p.array.dtype:
                a = a.astype(p.array.dtype)
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
