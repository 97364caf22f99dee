r"""Cosine annealing (SGDR, Loshchilov & Hutter 2017): without restarts, and with warm restarts."""

from __future__ import annotations

import math

from .optimizer import Optimizer
from .scheduler_base import LRScheduler, group_values

__all__ = ["CosineAnnealingLR", "CosineAnnealingWarmRestarts"]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal each rate from its initial value to ``eta_min`` along half a cosine over ``T_max`` epochs.

    The closed form is

    .. math::
        \gamma_e = \eta_{\min} + \tfrac12 (\gamma_0 - \eta_{\min})\left(1 + \cos\frac{e \pi}{T_{\max}}\right),

    but :meth:`step` applies PyTorch's chainable recursion (so a change to a group's rate between
    steps is carried along, and the sequence equals PyTorch's to the last bit):

    .. math::
        \gamma_{e} = \eta_{\min} + (\gamma_{e-1} - \eta_{\min})
        \frac{1 + \cos(e \pi / T_{\max})}{1 + \cos((e - 1) \pi / T_{\max})},

    except at :math:`e \equiv T_{\max} + 1 \pmod{2 T_{\max}}`, where the denominator vanishes and
    the rate climbs by :math:`\tfrac12(\gamma_0 - \eta_{\min})(1 - \cos(\pi / T_{\max}))` instead. Past
    :math:`T_{\max}` the rate therefore rises again, periodically (no restart; see
    :class:`CosineAnnealingWarmRestarts`). The recursion drifts from the closed form by rounding only.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        self._warn_if_called_outside_step()
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        groups = self.optimizer.param_groups
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        if self._step_count == 1 and e > 0:
            return [eta_min + (base - eta_min) * (1 + math.cos(e * math.pi / T)) / 2 for base in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:
            return [
                g["lr"] + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2 for base, g in zip(self.base_lrs, groups)
            ]
        return [
            (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (g["lr"] - eta_min) + eta_min
            for g in groups
        ]

    def _get_closed_form_lr(self) -> list:
        return [
            self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base in self.base_lrs
        ]


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing restarted every cycle, the cycles growing by ``T_mult``.

    .. math::
        \gamma = \eta_{\min} + \tfrac12 (\gamma_0 - \eta_{\min})\left(1 + \cos\frac{T_{cur} \pi}{T_i}\right)

    where :math:`T_{cur}` counts the epochs since the last restart and :math:`T_i` is the current
    cycle's length (``T_0``, then ``T_0 · T_mult``, ...). :meth:`step` may be given a fractional epoch
    (``epoch + i / iters_per_epoch``) to anneal within an epoch; unlike the other schedulers this is
    not deprecated.
    """

    def __init__(
        self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        if not isinstance(T_0, int) or T_0 <= 0:
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}")
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        self._warn_if_called_outside_step()
        return [
            self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
            for base in self.base_lrs
        ]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or go to ``epoch`` (which may be fractional)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"Expected non-negative epoch, but got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    # the cycle n holding `epoch`: T_0 (T_mult^n - 1) / (T_mult - 1) <= epoch
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        self._get_lr_called_within_step = True
        try:
            values = self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = group_values(self.optimizer, "lr")
