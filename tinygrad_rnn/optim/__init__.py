"""Optimizers and learning-rate schedulers, as ``torch.optim``.

``optim.lr_scheduler.OneCycleLR`` works as in PyTorch; the schedulers are also importable from
``optim`` directly (``optim.StepLR``).
"""

from . import lbfgs, lr_scheduler, optimizers
from .lbfgs import *  # noqa: F403
from .lr_scheduler import *  # noqa: F403
from .optimizers import *  # noqa: F403

__all__ = [*optimizers.__all__, *lbfgs.__all__, *lr_scheduler.__all__, "lr_scheduler"]
