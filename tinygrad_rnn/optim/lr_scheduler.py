"""Learning-rate schedulers, as ``torch.optim.lr_scheduler``: the same classes, rules and state dicts.

Every scheduler's rate sequence equals PyTorch's (to the last bit, for the same ``step()`` calls):

============================= ==============================================================
``LambdaLR``                  ``γ_0 · f(e)``
``MultiplicativeLR``          ``γ_{e-1} · f(e)``
``StepLR``, ``MultiStepLR``   ``× gamma`` every ``step_size`` epochs / at each milestone
``ConstantLR``, ``LinearLR``  a constant or linearly changing factor for ``total_iters`` epochs
``ExponentialLR``             ``× gamma`` every epoch
``PolynomialLR``              ``γ_0 (1 − e/T)^power``
``CosineAnnealingLR``         half a cosine down to ``eta_min`` over ``T_max`` epochs
``CosineAnnealingWarmRestarts`` cosine cycles of growing length
``CyclicLR``                  triangles between ``base_lr`` and ``max_lr``, per batch
``OneCycleLR``                warm-up to ``max_lr`` then anneal, per batch, with inverse momentum
``SequentialLR``              schedulers one after another at milestones
``ChainedScheduler``          schedulers stepped together
``ReduceLROnPlateau``         ``× factor`` when a metric stops improving (``step(metric)``)
============================= ==============================================================

Deliberate differences from PyTorch: no warning when ``scheduler.step()`` is called before
``optimizer.step()`` (PyTorch wraps the optimizer's ``step`` to detect it); ``MultiStepLR`` stores its
milestones in the state dict as a sorted list, and no state dict holds the transient
``_is_initial``/``_get_lr_called_within_step`` flags, so every state dict can be written by ``tg.save``.
"""

from .cyclic import CyclicLR, OneCycleLR
from .plateau import ReduceLROnPlateau
from .scheduler_base import EPOCH_DEPRECATION_WARNING, LRScheduler
from .schedulers_compose import ChainedScheduler, SequentialLR
from .schedulers_cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from .schedulers_decay import (
    ConstantLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "OneCycleLR",
    "SequentialLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "EPOCH_DEPRECATION_WARNING",
]
