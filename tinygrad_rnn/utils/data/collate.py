"""``default_collate`` (a list of samples -> one batch) and ``default_convert`` (one sample -> Tensors).

The rules follow PyTorch's, by the type of the first sample:

============================ ====================================================================
sample                       batch
============================ ====================================================================
Tensor                       the samples stacked on a new first axis (recorded on the tape when one
                             requires grad, as ``torch.stack`` would be)
NumPy array / NumPy scalar   stacked into a Tensor of the same dtype
Python float                 a float64 Tensor (PyTorch's rule, not the default dtype)
Python int / bool            an int64 / bool Tensor (a mix of ints and floats takes the default dtype)
str / bytes                  the list of samples, unchanged
mapping                      the same keys, each collated over the batch
namedtuple                   the same namedtuple, each field collated
tuple / other sequence       transposed and collated field by field: a list for tuples (as in
                             PyTorch), the sequence's own type where it can be rebuilt
============================ ====================================================================

Samples of different shapes cannot be stacked: the ``RuntimeError`` names the two shapes and the
index of the first odd one out. Variable-length sequences want :func:`~.padding.pad_collate`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any

import numpy as np

from ... import backend
from ...op_functions import stack
from ...tensor import Tensor
from ._arrays import _array, _from_backend, _from_host, _host, _needs_tape

_NOT_NUMERIC_KINDS = "SUaOVMm"  # strings, bytes, objects, void records, datetimes: no Tensor holds these
_NUMBER_TYPES = (int, float, np.number, np.bool_)  # bool is an int
_UNSUPPORTED = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _check_same_shape(shapes: list[tuple], what: str) -> None:
    for i, s in enumerate(shapes):
        if s != shapes[0]:
            raise RuntimeError(
                f"default_collate: stack expects each {what} to be equal size, but element 0 has shape "
                f"{shapes[0]} and element {i} has shape {s}; for variable-length sequences use "
                "tinygrad_rnn.utils.data.pad_collate (or pass your own collate_fn)"
            )


def _stack_tensors(batch: Sequence[Tensor]) -> Tensor:
    _check_same_shape([t.shape for t in batch], "tensor")
    if _needs_tape(batch):
        return stack(list(batch), axis=0)
    return _from_backend(backend.xp.stack([_array(t) for t in batch]))


def _stack_numpy(batch: Sequence[Any]) -> Tensor:
    dtype = np.asarray(batch[0]).dtype
    if dtype.kind in _NOT_NUMERIC_KINDS:
        raise TypeError(_UNSUPPORTED.format(dtype))
    arrays = [_host(b) for b in batch]
    _check_same_shape([a.shape for a in arrays], "array")
    return _from_host(np.stack(arrays))  # stacked on the host, copied to the device once


def _numbers(batch: Sequence[Any], floats: bool) -> Tensor:
    host = None
    if all(isinstance(b, _NUMBER_TYPES) for b in batch):  # np.asarray alone would turn None into NaN
        try:
            host = np.asarray(batch, dtype=np.float64 if floats else None)
        except (TypeError, ValueError, OverflowError):
            pass
    if host is None or host.dtype.kind not in "biuf":
        raise TypeError(
            f"default_collate: a batch of numbers holds {sorted({type(b).__name__ for b in batch})}; "
            "every sample must be a number"
        )
    if host.dtype.kind in "iu":
        host = host.astype(np.int64)
    elif host.dtype.kind == "f" and not floats:  # ints and floats mixed: PyTorch's torch.tensor() rule
        host = host.astype(backend.get_default_dtype())
    return _from_host(host)


def _transposed(batch: Sequence[Any]) -> list[tuple]:
    sizes = {len(b) for b in batch}
    if len(sizes) > 1:
        raise RuntimeError(
            f"default_collate: each element in list of batch should be of equal size; got sizes {sorted(sizes)}"
        )
    return list(zip(*batch))


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of samples into a batch (see the module docstring for the rules)."""
    if len(batch) == 0:
        raise IndexError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if isinstance(elem, (str, bytes)):  # before the NumPy case: np.str_ is a str
        return list(batch)
    if isinstance(elem, (np.ndarray, np.generic)):
        return _stack_numpy(batch)
    if isinstance(elem, float):
        return _numbers(batch, floats=True)
    if isinstance(elem, int):  # bool is an int
        return _numbers(batch, floats=False)
    if isinstance(elem, Mapping):
        merged = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, MutableMapping):
            out = copy.copy(elem)
            out.update(merged)
            return out
        try:
            return type(elem)(merged)  # type: ignore[call-arg]
        except TypeError:  # a mapping type that cannot be built from a dict
            return merged
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(f)) for f in _transposed(batch)))
    if isinstance(elem, Sequence):
        fields = [default_collate(list(f)) for f in _transposed(batch)]
        if isinstance(elem, tuple):
            return fields  # PyTorch returns a list here, and code may rely on it being mutable
        if isinstance(elem, MutableSequence):
            seq = copy.copy(elem)
            seq[:] = fields
            return seq
        try:
            return type(elem)(fields)  # type: ignore[call-arg]
        except TypeError:
            return fields
    raise TypeError(_UNSUPPORTED.format(type(elem)))


def default_convert(data: Any) -> Any:
    """Turn NumPy arrays and scalars inside one sample into Tensors, leaving everything else as is.

    The ``DataLoader`` applies it to each sample when automatic batching is off (``batch_size=None``).
    """
    if isinstance(data, Tensor) or isinstance(data, (str, bytes)):
        return data
    if isinstance(data, (np.ndarray, np.generic)):
        if data.dtype.kind in _NOT_NUMERIC_KINDS:
            return data
        return _from_host(np.asarray(data))
    if isinstance(data, Mapping):
        merged = {key: default_convert(v) for key, v in data.items()}
        if isinstance(data, MutableMapping):
            out = copy.copy(data)
            out.update(merged)
            return out
        try:
            return type(data)(merged)  # type: ignore[call-arg]
        except TypeError:
            return merged
    if _is_namedtuple(data):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, tuple):
        return [default_convert(v) for v in data]
    if isinstance(data, Sequence):
        items = [default_convert(v) for v in data]
        if isinstance(data, MutableSequence):
            seq = copy.copy(data)
            seq[:] = items
            return seq
        try:
            return type(data)(items)  # type: ignore[call-arg]
        except TypeError:
            return items
    return data
