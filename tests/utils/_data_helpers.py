"""Datasets shared by the tests in this folder (pytest's default import mode puts the folder on
``sys.path``, so a test imports them with ``from _data_helpers import Range``)."""


class Range:
    """The map-style dataset ``0, 1, ..., n - 1``: a plain ``__getitem__``/``__len__`` object, which
    PyTorch's DataLoader takes as ours does."""

    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return i

    def __len__(self):
        return self.n
