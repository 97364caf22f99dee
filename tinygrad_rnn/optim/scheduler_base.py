"""``LRScheduler``, the base of the learning-rate schedulers, with PyTorch 2.x's stepping rules.

A scheduler owns no learning rates of its own: at every :meth:`LRScheduler.step` it computes each
parameter group's next rate and writes it into ``group["lr"]``. Most schedulers are *chainable*: the
next rate is computed from the group's current rate (``get_lr``), so several schedulers can act on one
optimizer, and a user's own change to ``group["lr"]`` is carried forward. Those with a closed form
(``_get_closed_form_lr``, from ``base_lrs`` and the epoch) use it when an epoch is passed to
:meth:`~LRScheduler.step` (deprecated in PyTorch, as here) and when :class:`SequentialLR` restarts them.
"""

from __future__ import annotations

import warnings
from typing import Any

from .optimizer import Optimizer

__all__ = ["LRScheduler", "EPOCH_DEPRECATION_WARNING"]

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being "
    "deprecated where possible. Please use `scheduler.step()` to step the "
    "scheduler. During the deprecation, if epoch is different from None, the "
    "closed form is used instead of the new chainable form, where available. "
    "Please open an issue if you are unable to replicate your use case: "
    "https://github.com/pytorch/pytorch/issues/new/choose."
)

# transient flags, never part of a state dict
_FLAGS = ("_get_lr_called_within_step", "_is_initial")


def format_param(name: str, optimizer: Optimizer, param: Any) -> list:
    """One value per parameter group: ``param`` repeated, or a list/tuple of the right length."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(param)} values, param_groups has {len(optimizer.param_groups)}."
            )
        return list(param)
    return [param] * len(optimizer.param_groups)


def check_optimizer(who: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{who}: expected an Optimizer, got {type(optimizer).__name__}")


def group_values(optimizer: Optimizer, key: str) -> list:
    return [group[key] for group in optimizer.param_groups]


class LRScheduler:
    """Base class: sets each group's ``"lr"`` from ``get_lr()`` at every :meth:`step`.

    Construction records each group's ``"initial_lr"`` (when ``last_epoch == -1``; otherwise it must be
    there already, from a restored optimizer) and performs the first step, so right after construction
    ``last_epoch == 0`` and the groups hold the epoch-0 rates, as in PyTorch. Call ``scheduler.step()``
    after ``optimizer.step()``, once per epoch (or per iteration, for the per-batch schedules).

    Subclasses define ``get_lr()`` (the chainable rule, reading ``self.last_epoch`` and the groups'
    current rates) and optionally ``_get_closed_form_lr()``. During the construction step
    ``self._is_initial`` is true.
    """

    _get_lr_called_within_step: bool = False
    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        check_optimizer(name, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{name}: resuming with last_epoch={last_epoch} needs 'initial_lr' in "
                        f"parameter group {i}; construct with last_epoch=-1 or restore the optimizer"
                    )
        self.base_lrs = [float(g["initial_lr"]) for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and take the construction step (also used by :class:`SequentialLR`)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:  # pragma: no cover - abstract
        """The next rate of every parameter group (called by :meth:`step`; use :meth:`get_last_lr`)."""
        raise NotImplementedError

    def _warn_if_called_outside_step(self) -> None:
        if not self._get_lr_called_within_step:
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                UserWarning,
                stacklevel=3,
            )

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and write the new rates into the optimizer's groups.

        ``epoch`` (deprecated, as in PyTorch) jumps to that epoch, through the closed form where the
        scheduler has one.
        """
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        groups = self.optimizer.param_groups
        if len(values) != len(groups):
            raise ValueError(
                f"{type(self).__name__}: computed {len(values)} learning rates for {len(groups)} parameter "
                "groups; a group added after the scheduler was made has no schedule"
            )
        for group, lr in zip(groups, values):
            group["lr"] = lr
        self._last_lr = group_values(self.optimizer, "lr")

    def get_last_lr(self) -> list:
        """The rates the last :meth:`step` set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Every attribute except the optimizer, as numbers, strings, lists and dicts (``tg.save`` writes it)."""
        return {
            k: (list(v) if isinstance(v, list) else v)
            for k, v in self.__dict__.items()
            if k != "optimizer" and k not in _FLAGS
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the attributes saved by :meth:`state_dict`."""
        self.__dict__.update({k: v for k, v in state_dict.items() if k not in _FLAGS})
