r"""Cyclical schedules, stepped once per batch: ``CyclicLR`` (Smith 2017) and ``OneCycleLR`` (Smith &
Topin's 1cycle policy, "super-convergence", 2018). Both move the momentum inversely to the rate."""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from functools import partial
from typing import Any

from .optimizer import Optimizer
from .scheduler_base import LRScheduler, check_optimizer, format_param

__all__ = ["CyclicLR", "OneCycleLR"]


def _momentum_groups(optimizer: Optimizer) -> bool:
    """Whether the groups' momentum is ``betas[0]`` (Adam-like) rather than ``momentum`` (SGD-like)."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
    return "betas" in optimizer.defaults


def _set_momentum(group: dict, use_beta1: bool, value: float) -> None:
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


class CyclicLR(LRScheduler):
    r"""Cycle each rate between ``base_lr`` and ``max_lr`` in triangles (Smith, "Cyclical Learning Rates").

    A cycle is ``step_size_up`` steps up and ``step_size_down`` (default: the same) steps down. With
    :math:`c` the cycle number (from 1) and :math:`x` the position in it, the rate is

    .. math::
        \gamma = 	ext{base\_lr} + (	ext{max\_lr} - 	ext{base\_lr}) \cdot h(x) \cdot 	ext{scale}(\cdot)

    with :math:`h` the triangle (0 → 1 → 0). ``mode`` picks the amplitude scale: ``'triangular'``
    (1), ``'triangular2'`` (halved every cycle, :math:`2^{1-c}`) or ``'exp_range'``
    (:math:`	ext{gamma}^{	ext{iteration}}`); or pass ``scale_fn`` with ``scale_mode`` ``'cycle'``
    (called with :math:`c`) or ``'iterations'`` (called with the step count). With ``cycle_momentum``
    the momentum (or ``betas[0]``) moves from ``max_momentum`` down to ``base_momentum`` and back.
    Constructing the scheduler sets every group's rate to its ``base_lr``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | list,
        max_lr: float | list,
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | list = 0.8,
        max_momentum: float | list = 0.9,
        last_epoch: int = -1,
    ) -> None:
        check_optimizer("CyclicLR", optimizer)
        self.optimizer = optimizer
        base_lrs = format_param("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = format_param("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError("mode is invalid and scale_fn is None")
        self.mode, self.gamma = mode, gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_groups(optimizer)
            self.base_momentums = format_param("base_momentum", optimizer, base_momentum)
            self.max_momentums = format_param("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for m_mom, b_mom, group in zip(self.max_momentums, self.base_momentums, optimizer.param_groups):
                    _set_momentum(group, self.use_beta1, m_mom)
                    group["max_momentum"] = m_mom
                    group["base_momentum"] = b_mom
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self) -> None:
        if self._scale_fn_custom is not None:
            return
        if self.mode == "triangular":
            self._scale_fn_ref: Callable[[float], float] = _triangular_scale_fn
            self.scale_mode = "cycle"
        elif self.mode == "triangular2":
            self._scale_fn_ref = _triangular2_scale_fn
            self.scale_mode = "cycle"
        elif self.mode == "exp_range":
            self._scale_fn_ref = partial(_exp_range_scale_fn, self.gamma)
            self.scale_mode = "iterations"

    def scale_fn(self, x: float) -> float:
        """The amplitude scale at cycle (or iteration) ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return self._scale_fn_ref(x)

    def get_lr(self) -> list:
        """The rates at step ``last_epoch``; with ``cycle_momentum`` also sets the groups' momenta."""
        self._warn_if_called_outside_step()
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        at = cycle if self.scale_mode == "cycle" else self.last_epoch
        lrs = [base + (top - base) * scale_factor * self.scale_fn(at) for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, low, high in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                _set_momentum(group, self.use_beta1, high - (high - low) * scale_factor * self.scale_fn(at))
        return lrs

    def state_dict(self) -> dict:
        """As the base, without the scale function; a callable object's attributes are kept (as in PyTorch)."""
        sd = super().state_dict()
        sd.pop("_scale_fn_ref", None)
        fn = sd.pop("_scale_fn_custom")
        sd["_scale_fn_custom"] = None if fn is None or isinstance(fn, types.FunctionType) else dict(fn.__dict__)
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        fn = state_dict.pop("_scale_fn_custom", None)
        super().load_state_dict(state_dict)
        if fn is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(fn)
        self._init_scale_fn()


def _triangular_scale_fn(x: float) -> float:
    return 1.0


def _triangular2_scale_fn(x: float) -> float:
    return 1 / (2.0 ** (x - 1))


def _exp_range_scale_fn(gamma: float, x: float) -> float:
    return gamma**x


def _annealing_cos(start: float, end: float, pct: float) -> float:
    """From ``start`` (pct = 0) to ``end`` (pct = 1) along half a cosine."""
    cos_out = math.cos(math.pi * pct) + 1
    return end + (start - end) / 2.0 * cos_out


def _annealing_linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


def _phase(end_step: float, lr: tuple[str, str], momentum: tuple[str, str]) -> dict[str, Any]:
    """One OneCycleLR phase as PyTorch keeps it: its last step, and the group keys of the rate and the
    momentum it goes from and to."""
    return dict(end_step=end_step, start_lr=lr[0], end_lr=lr[1], start_momentum=momentum[0], end_momentum=momentum[1])


class OneCycleLR(LRScheduler):
    r"""Warm the rate up to ``max_lr`` and anneal it far below its start, over ``total_steps`` batches.

    The rate starts at ``initial_lr = max_lr / div_factor``, rises to ``max_lr`` over the first
    ``pct_start`` of the steps and falls to ``min_lr = initial_lr / final_div_factor`` by the last step
    (step ``total_steps - 1``); with ``three_phase`` it falls back to ``initial_lr`` symmetrically first
    and only the last phase goes to ``min_lr``. Each phase interpolates from its start value to its end
    value with ``anneal_strategy`` ``'cos'`` (:math:`\text{end} + \tfrac12(\text{start} - \text{end})
    (1 + \cos \pi p)`) or ``'linear'``, :math:`p` the fraction of the phase done.

    With ``cycle_momentum`` the momentum moves inversely, between ``max_momentum`` and
    ``base_momentum``: the group's ``"momentum"`` (SGD, RMSprop) or the first of its ``"betas"``
    (Adam, AdamW). ``total_steps`` is given directly or as ``epochs * steps_per_epoch``; stepping past it
    raises ``ValueError``. ``max_lr`` and the momenta may be lists, one value per group.

    The group keys ``initial_lr``, ``max_lr``, ``min_lr``, ``max_momentum`` and ``base_momentum`` are
    written into each parameter group, as in PyTorch.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list,
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list = 0.85,
        max_momentum: float | list = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        check_optimizer("OneCycleLR", optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")

        # the phases one after another, each ending at its end_step
        n = self.total_steps
        warmup = _phase(float(pct_start * n) - 1, ("initial_lr", "max_lr"), ("max_momentum", "base_momentum"))
        if three_phase:
            down = _phase(float(2 * pct_start * n) - 2, ("max_lr", "initial_lr"), ("base_momentum", "max_momentum"))
            anneal = _phase(n - 1, ("initial_lr", "min_lr"), ("max_momentum", "max_momentum"))
            self._schedule_phases = [warmup, down, anneal]
        else:
            anneal = _phase(n - 1, ("max_lr", "min_lr"), ("base_momentum", "max_momentum"))
            self._schedule_phases = [warmup, anneal]

        if not isinstance(pct_start, float) or pct_start < 0 or pct_start > 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_func_type = anneal_strategy

        max_lrs = format_param("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for m, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_groups(optimizer)
            max_momentums = format_param("max_momentum", optimizer, max_momentum)
            base_momentums = format_param("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for m_mom, b_mom, group in zip(max_momentums, base_momentums, optimizer.param_groups):
                    _set_momentum(group, self.use_beta1, m_mom)
                    group["max_momentum"] = m_mom
                    group["base_momentum"] = b_mom
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        f = _annealing_cos if self._anneal_func_type == "cos" else _annealing_linear
        return f(start, end, pct)

    def get_lr(self) -> list:
        """The rates at step ``last_epoch``; with ``cycle_momentum`` also sets the groups' momenta."""
        self._warn_if_called_outside_step()
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"Tried to step {step_num} times. The specified number of total steps is {self.total_steps}"
            )
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == last:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                _set_momentum(group, self.use_beta1, momentum)
        return lrs
