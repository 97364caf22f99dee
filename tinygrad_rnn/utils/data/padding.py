"""``pad_collate`` / ``PadCollate``: batch variable-length sequences as a padded Tensor plus their lengths.

The collate every RNN user writes by hand::

    loader = DataLoader(ds, batch_sampler=BucketBatchSampler(lengths, 32), collate_fn=pad_collate)
    for x, lengths, y in loader:          # samples were (sequence, label)
        out, (h, c) = lstm(x, lengths=lengths)

A *sequence* is a Tensor or NumPy array of shape ``(L_i, *)``, or a list (``[3, 17, 5]`` token ids,
``[[0.1, 0.2], ...]`` feature rows). A *sample* is a sequence, or a tuple of fields of which those at
``pad_fields`` (default: the first) are sequences. The batch is:

- for sequence samples: ``(padded, lengths)``;
- for tuple samples: a flat tuple, field by field, where each padded field contributes
  ``padded, lengths`` and every other field is merged by :func:`~.collate.default_collate`:
  ``(seq, label)`` gives ``(padded, lengths, labels)``; ``(src, tgt)`` with ``pad_fields=(0, 1)``
  gives ``(src, src_lengths, tgt, tgt_lengths)``.

``padded`` is ``(T, N, *)`` with ``T = max L_i`` (``(N, T, *)`` with ``batch_first=True``), the layout
of ``nn.LSTM``'s input, and ``lengths`` an int64 Tensor of the ``L_i`` in batch order, what its
``lengths=`` argument takes. Tensors and arrays keep their dtype; lists follow ``Tensor``'s rule (ints
-> int64, floats -> the default dtype). Samples that are Tensors on the GPU are padded there; arrays
and lists are padded on the host and copied over once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import backend
from ...nn.utils.rnn import _pad_arrays, pad_sequence
from ...tensor import Tensor
from ._arrays import _array, _from_backend, _from_host, _host, _needs_tape
from .collate import default_collate


def _as_sequence(x: Any, where: str) -> Any:
    """A Tensor or a host array of shape (L, *) for one sequence."""
    if isinstance(x, Tensor):
        seq: Any = x
    elif isinstance(x, np.ndarray) or backend.is_array(x):
        seq = x if isinstance(x, np.ndarray) else _from_backend(x)
    elif isinstance(x, (list, range)):
        try:
            seq = np.asarray(x)
        except ValueError:
            raise ValueError(
                f"pad_collate: {where} is a ragged nested list; each time step needs the same shape"
            ) from None
        if seq.size == 0:
            seq = seq.astype(np.int64)  # an empty list has no dtype of its own
        elif seq.dtype.kind == "f":
            seq = seq.astype(backend.get_default_dtype())
        elif seq.dtype.kind in "iu":
            seq = seq.astype(np.int64)
    else:
        raise TypeError(
            f"pad_collate: {where} is a {type(x).__name__}; a sequence is a Tensor, a NumPy array or a list "
            "(return a tuple from __getitem__ to pass several fields per sample)"
        )
    dtype = np.dtype(seq.dtype)  # np.dtype() takes both a Tensor's dtype and an array's
    if dtype.kind not in "biuf":
        raise TypeError(f"pad_collate: {where} has dtype {dtype}; only numbers can be padded")
    if seq.ndim == 0:
        raise ValueError(f"pad_collate: {where} is 0-d; a sequence needs a first (time) axis")
    return seq


def _pad(seqs: list[Any], value: Any, batch_first: bool, what: str) -> tuple[Tensor, Tensor]:
    """Pad sequences of shapes (L_i, *) to one (T, N, *) or (N, T, *) Tensor, and their lengths."""
    seqs = [_as_sequence(s, f"{what} {i}") for i, s in enumerate(seqs)]
    tail = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.shape[1:] != tail:
            raise ValueError(
                f"pad_collate: every {what} must have the same shape after the time axis, but {what} 0 has "
                f"shape {tuple(seqs[0].shape)} and {what} {i} has shape {tuple(s.shape)}"
            )
    lens = [int(s.shape[0]) for s in seqs]
    lengths = _from_host(np.asarray(lens, dtype=np.int64))
    if _needs_tape(seqs):  # a gradient must reach the samples: pad on the tape
        ts = [s if isinstance(s, Tensor) else _from_host(s) for s in seqs]
        return pad_sequence(ts, batch_first=batch_first, padding_value=value), lengths

    # Nothing to record: run pad_sequence's kernel on the arrays where they live (arrays and lists on the
    # host, copied over once), promoting mixed dtypes as default_collate does.
    on_device = backend.name != "numpy" and all(isinstance(s, Tensor) for s in seqs)
    arrays = [_array(s) if on_device else _host(s) for s in seqs]
    dtype = np.result_type(*[a.dtype for a in arrays])
    fill = np.asarray(value).astype(dtype)
    if dtype.kind in "biu" and fill != value:  # floats hold any number (NaN included, which != itself)
        raise ValueError(f"pad_collate: padding_value {value!r} cannot be stored in the {what}s' dtype {dtype}")
    arrays = [a.astype(dtype, copy=False) for a in arrays]
    out = _pad_arrays(arrays, batch_first, fill.item(), False, backend.xp if on_device else np)
    return (_from_backend(out) if on_device else _from_host(out)), lengths


def pad_collate(
    batch: Sequence[Any],
    padding_value: float | Sequence[float] = 0,
    batch_first: bool = False,
    pad_fields: Sequence[int] = (0,),
) -> tuple:
    """Collate variable-length sequences into ``(padded, lengths)`` (see the module docstring).

    ``padding_value`` fills the steps past each sequence's end: one number, or one per entry of
    ``pad_fields`` (e.g. ``(0, -100)`` to pad targets with a loss's ignore index).
    """
    if len(batch) == 0:
        raise IndexError("pad_collate: the batch is empty")
    if not isinstance(batch[0], tuple):
        value = padding_value if not isinstance(padding_value, Sequence) else _one_value(padding_value, 1)[0]
        return _pad(list(batch), value, batch_first, "sequence")
    fields = list(zip(*_check_arity(batch)))
    wanted = sorted({_field_index(i, len(fields)) for i in pad_fields})
    if isinstance(padding_value, Sequence):
        values = dict(zip(wanted, _one_value(padding_value, len(wanted))))
    else:
        values = dict.fromkeys(wanted, padding_value)
    out: list[Any] = []
    for i, field in enumerate(fields):
        if i in values:
            out.extend(_pad(list(field), values[i], batch_first, f"field {i} of sample"))
        else:
            out.append(default_collate(list(field)))
    return tuple(out)


def _check_arity(batch: Sequence[tuple]) -> Sequence[tuple]:
    sizes = {len(b) for b in batch}
    if len(sizes) > 1:
        raise ValueError(f"pad_collate: every sample must have the same number of fields; got {sorted(sizes)}")
    return batch


def _field_index(i: Any, n: int) -> int:
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= i < n:
        raise ValueError(f"pad_collate: pad_fields entry {i!r} is not a field index of {n}-field samples")
    return int(i) % n


def _one_value(values: Sequence[float], n: int) -> list[float]:
    if len(values) != n:
        raise ValueError(f"pad_collate: padding_value gives {len(values)} values for {n} padded field(s)")
    return list(values)


class PadCollate:
    """:func:`pad_collate` with its options fixed: ``DataLoader(..., collate_fn=PadCollate(batch_first=True))``."""

    def __init__(
        self, padding_value: float | Sequence[float] = 0, batch_first: bool = False, pad_fields: Sequence[int] = (0,)
    ) -> None:
        self.padding_value = padding_value
        self.batch_first = batch_first
        self.pad_fields = tuple(pad_fields)

    def __call__(self, batch: Sequence[Any]) -> tuple:
        return pad_collate(batch, self.padding_value, self.batch_first, self.pad_fields)

    def __repr__(self) -> str:
        return (
            f"PadCollate(padding_value={self.padding_value!r}, batch_first={self.batch_first}, "
            f"pad_fields={self.pad_fields})"
        )
