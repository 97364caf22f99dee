"""Utilities with PyTorch's ``torch.utils`` names; today the data-loading API, :mod:`tinygrad_rnn.utils.data`."""

from . import data

__all__ = ["data"]
