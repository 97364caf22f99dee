"""Schedulers made of schedulers: ``SequentialLR`` (one after another) and ``ChainedScheduler`` (all at once)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from .optimizer import Optimizer
from .plateau import ReduceLROnPlateau
from .scheduler_base import LRScheduler, check_optimizer, group_values

__all__ = ["SequentialLR", "ChainedScheduler"]


def _check_schedulers(who: str, optimizer: Optimizer, schedulers: Sequence[Any]) -> None:
    for i, s in enumerate(schedulers):
        if not hasattr(s, "optimizer"):
            raise TypeError(f"{who} at index {i} should have `optimizer` as its attribute.")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(
                f"{who} does not support `ReduceLROnPlateau` scheduler as it "
                "requires additional kwargs to be specified when calling `step`, "
                f"but got one at index {i} in the given schedulers sequence."
            )
        if s.optimizer is not optimizer:
            raise ValueError(
                f"{who} expects all schedulers to belong to the same optimizer, but "
                f"got scheduler {type(s).__name__} at index {i} has {s.optimizer}, "
                f"which is different from {type(optimizer).__name__}."
            )


def _nested_state(sched: LRScheduler, schedulers: Sequence[LRScheduler]) -> dict:
    sd = {k: v for k, v in LRScheduler.state_dict(sched).items() if k != "_schedulers"}
    sd["_schedulers"] = [s.state_dict() for s in schedulers]
    return sd


def _load_nested(sched: LRScheduler, schedulers: Sequence[LRScheduler], state_dict: dict) -> None:
    state_dict = dict(state_dict)
    saved = state_dict.pop("_schedulers")
    LRScheduler.load_state_dict(sched, state_dict)
    for s, sd in zip(schedulers, saved):
        s.load_state_dict(sd)


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until epoch ``milestones[0]``, then ``schedulers[1]``, and so on.

    The schedulers must already be constructed on the same optimizer (each construction took a first
    step); SequentialLR undoes those steps, resets the rates to their ``initial_lr`` and restarts the
    first scheduler. At a milestone the next scheduler restarts from epoch 0 (through its closed form
    where it has one), so e.g. a ``LinearLR`` warm-up followed by ``CosineAnnealingLR``::

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(opt, T_max=95)
        sched = SequentialLR(opt, [warmup, decay], milestones=[5])
    """

    def __init__(self, optimizer: Optimizer, schedulers: list, milestones: list, last_epoch: int = -1) -> None:
        who = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{who} expects at least one scheduler, but got no scheduler.")
        check_optimizer(who, optimizer)
        _check_schedulers(who, optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more "
                f"than the number of milestone points, but got number of schedulers {len(schedulers)} and the "
                f"number of milestones to be equal to {len(milestones)}"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # undo the construction steps of the schedulers and start the first one again
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def recursive_undo(self, sched: Any = None) -> None:
        """Take one epoch off every (nested) scheduler's ``last_epoch``."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Advance one epoch: the active scheduler steps (or, at a milestone, the next one restarts)."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        """This scheduler's attributes with each wrapped scheduler's state dict under ``"_schedulers"``."""
        return _nested_state(self, self._schedulers)

    def load_state_dict(self, state_dict: dict) -> None:
        _load_nested(self, self._schedulers, state_dict)


class ChainedScheduler(LRScheduler):
    """Step several schedulers together each epoch, so their effects on the rates multiply (chain).

    For example a constant warm-up factor for the first epochs on top of an exponential decay. The
    schedulers must be chainable (all built-in ones but :class:`~tinygrad_rnn.optim.lr_scheduler.LambdaLR`
    and the closed-form uses are); :class:`ReduceLROnPlateau` is not accepted.
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        who = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{who} expects at least one scheduler to be chained, but got no scheduler.")
        opt = optimizer if optimizer is not None else getattr(schedulers[0], "optimizer", None)
        check_optimizer(who, opt)
        assert isinstance(opt, Optimizer)
        _check_schedulers(who, opt, schedulers)
        self._schedulers = list(schedulers)
        self.optimizer = opt
        self._last_lr = group_values(opt, "lr")

    def step(self) -> None:  # type: ignore[override]
        """Step every scheduler, in order."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = group_values(self.optimizer, "lr")

    def state_dict(self) -> dict:
        """This scheduler's attributes with each wrapped scheduler's state dict under ``"_schedulers"``."""
        return _nested_state(self, self._schedulers)

    def load_state_dict(self, state_dict: dict) -> None:
        _load_nested(self, self._schedulers, state_dict)
