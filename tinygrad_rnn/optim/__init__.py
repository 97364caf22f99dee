"""Optimizers and learning-rate schedulers; ``optim.lr_scheduler.StepLR`` also works, as in PyTorch."""

from . import lr_scheduler  # noqa: F401
from .lr_scheduler import LambdaLR, LRScheduler, StepLR
from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "LRScheduler",
    "StepLR",
    "LambdaLR",
    "lr_scheduler",
]
