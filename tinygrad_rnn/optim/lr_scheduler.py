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

from . import cyclic, plateau, scheduler_base, schedulers_compose, schedulers_cosine, schedulers_decay
from .cyclic import *  # noqa: F403
from .plateau import *  # noqa: F403
from .scheduler_base import *  # noqa: F403
from .schedulers_compose import *  # noqa: F403
from .schedulers_cosine import *  # noqa: F403
from .schedulers_decay import *  # noqa: F403

# Each submodule lists its own names; this module re-exports them all, in the order of the table above.
_PARTS = (scheduler_base, schedulers_decay, schedulers_cosine, cyclic, schedulers_compose, plateau)
__all__ = [name for part in _PARTS for name in part.__all__]
