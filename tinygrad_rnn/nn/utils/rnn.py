r"""Variable-length batches, PyTorch's ``torch.nn.utils.rnn``: padding and ``PackedSequence``.

A batch of N sequences :math:`x_0, \dots, x_{N-1}` of lengths :math:`L_i \ge 1` and shape ``(L_i, *)``
has two layouts.

*Padded*, ``(T, N, *)`` (``(N, T, *)`` with ``batch_first``), :math:`T = \max_i L_i`: sequence i fills
``padded[:L_i, i]`` (``padded[T - L_i:, i]`` with ``padding_side='left'``) and every other entry is the
padding value. :func:`pad_sequence` builds it; :func:`unpad_sequence` takes it apart.

*Packed*, a :class:`PackedSequence`: the sequences are ordered by decreasing length (``sorted_indices[k]``
is the batch index of the k-th longest; ties keep batch order), and ``data`` holds time step 0 of every
sequence, then step 1 of those still running, and so on, with no padding at all. For lengths
``[2, 1, 3]`` (sequences a, b, c)::

    batch order         sorted by length: sorted_indices = [2, 0, 1], unsorted_indices = [1, 2, 0]
      a: a0 a1            c: c0 c1 c2
      b: b0               a: a0 a1
      c: c0 c1 c2         b: b0

    time step t            0            1         2
    data             [ c0  a0  b0 | c1  a1  |  c2 ]     shape (sum L_i, *) = (6, *)
    batch_sizes            3            2         1     shape (T,), int64

In formulas, with :math:`\sigma` = ``sorted_indices`` and :math:`o_t` the first row of step t:

.. math::

    \text{batch\_sizes}[t] = \#\{\, i : L_i > t \,\}, \qquad
    o_t = \sum_{s < t} \text{batch\_sizes}[s], \qquad
    \text{data}[o_t + k] = x_{\sigma(k)}[t] \quad (0 \le k < \text{batch\_sizes}[t]).

``pack_padded_sequence(..., enforce_sorted=True)`` takes the batch to be sorted already and stores
``sorted_indices = unsorted_indices = None`` (σ is the identity). ``data`` is exactly PyTorch's, row for
row, so code that feeds ``packed.data`` to a ``Linear`` or an ``Embedding`` and rebuilds a
``PackedSequence(new_data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)`` works
unchanged.

Packing and unpacking are one gather and one scatter over the rows above (the ops ``Pack`` and
``Unpack`` below, each the other's derivative), so gradients flow from ``data`` to the padded input and
back. :class:`~tinygrad_rnn.nn.RNN`, ``LSTM`` and ``GRU`` accept a ``PackedSequence``: they scatter it
into a zero-padded ``(T, N, *)`` batch *in the original batch order* with the lengths
:math:`L_i` (what their ``lengths=`` argument takes, so nothing is sorted), run, and gather the output
back into the same packed layout; ``h_n``/``c_n`` come out in the original batch order, as in PyTorch.

Errors that PyTorch raises as ``RuntimeError`` are :class:`SequenceError`, a ``RuntimeError`` that is
also a ``ValueError`` (this library's type for bad argument values), so either ``except`` catches them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ... import backend
from ...backend import xp
from ...operands import check_tensors
from ...tape import Function
from ...tensor import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


class SequenceError(RuntimeError, ValueError):
    """A bad sequence batch: PyTorch raises ``RuntimeError`` here, this library ``ValueError``; this is both."""


# ---- the differentiable ops --------------------------------------------------------------------------
# A packed batch and a padded one are related by an injective map of rows: ``packed = padded[index]``
# for a tuple of integer arrays that selects each (step, sequence) position at most once. So the gather's
# derivative is a scatter into zeros (plain assignment: no index repeats, nothing to accumulate) and the
# scatter's derivative is the gather. Each backward calls the other op on Tensors, so create_graph works.


class Pack(Function):
    """``x[index]`` for a tuple of integer index arrays that never repeats a position."""

    def forward(self, x, index):
        self.index, self.in_shape = index, x.shape
        return x[index]

    def backward(self, g, x):
        if isinstance(g, Tensor):
            return Unpack.apply(g, index=self.index, shape=self.in_shape, fill=0)
        out = xp.zeros(self.in_shape, dtype=g.dtype)
        out[self.index] = g
        return out


class Unpack(Function):
    """An array of ``shape`` filled with ``fill``, with the rows of ``data`` written at ``index``."""

    def forward(self, data, index, shape, fill):
        self.index = index
        out = xp.full(shape, fill, dtype=data.dtype)
        out[index] = data
        return out

    def backward(self, g, data):
        return Pack.apply(g, index=self.index) if isinstance(g, Tensor) else g[self.index]


def _slot(i: int, n: int, T: int, batch_first: bool, left: bool) -> tuple:
    """Where sequence ``i`` of length ``n`` sits in a padded batch of length ``T``."""
    steps = slice(T - n, T) if left else slice(0, n)
    return (i, steps) if batch_first else (steps, i)


def _pad_arrays(arrays: Sequence[Any], batch_first: bool, padding_value: Any, left: bool, module: Any) -> Any:
    """The padding kernel, shared by :func:`pad_sequence` and ``utils.data.pad_collate``: arrays of shape
    ``(L_i, *)`` and one dtype into a ``(T, N, *)`` (``(N, T, *)``) array of ``module`` (NumPy or CuPy).
    ``padding_value`` is a Python scalar, which CuPy's ``full`` needs."""
    T = max(a.shape[0] for a in arrays)
    tail = tuple(arrays[0].shape[1:])
    shape = (len(arrays), T, *tail) if batch_first else (T, len(arrays), *tail)
    out = module.full(shape, padding_value, dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[_slot(i, a.shape[0], T, batch_first, left)] = a
    return out


class PadSequence(Function):
    """:func:`pad_sequence` as one node; the gradient of each sequence is its slot of the output's."""

    def forward(self, *xs, batch_first, padding_value, left):
        self.T = max(x.shape[0] for x in xs)
        self.lengths = [x.shape[0] for x in xs]
        return _pad_arrays(xs, batch_first, padding_value, left, xp)

    def backward(self, g, *xs):
        bf, left = self.params["batch_first"], self.params["left"]
        return tuple(
            g[_slot(i, n, self.T, bf, left)] if need else None
            for i, (n, need) in enumerate(zip(self.lengths, self.needs_input_grad))
        )


# ---- PackedSequence ----------------------------------------------------------------------------------
def _host(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return backend.to_numpy(x.array)
    return backend.to_numpy(x) if backend.is_array(x) else np.asarray(x)


def _index_tensor(x: Any, what: str) -> Tensor:
    """An int64 Tensor of a Tensor, array or list of integers (PackedSequence's index fields)."""
    a = _host(x)
    if a.size == 0:
        a = a.astype(np.int64)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise TypeError(f"PackedSequence: {what} must be a 1-D tensor of integers, got {a.dtype} of shape {a.shape}")
    if isinstance(x, Tensor) and x.dtype == np.int64:
        return x
    return Tensor(a.astype(np.int64))


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse permutation (``out[permutation[k]] = k``); None stays None."""
    if permutation is None:
        return None
    p = _host(permutation)
    out = np.empty_like(p, dtype=np.int64)
    out[p] = np.arange(p.shape[0])
    return Tensor(out)


class _PackedFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedFields):
    """A packed batch: ``data`` ``(sum L_i, *)``, ``batch_sizes`` (T,) int64, ``sorted_indices`` and
    ``unsorted_indices`` (N,) int64 or None; the layout is in the module docstring.

    A tuple of its four fields, as PyTorch's. Built by :func:`pack_padded_sequence` and
    :func:`pack_sequence`, or directly as ``PackedSequence(data, batch_sizes, sorted_indices=None,
    unsorted_indices=None)`` (``unsorted_indices`` defaults to the inverse of ``sorted_indices``), for
    instance to wrap a transformed ``packed.data`` in the original layout. The indices and batch sizes
    live on the one backend of the process, like every Tensor (PyTorch keeps ``batch_sizes`` on the CPU).
    """

    __slots__ = ()

    def __new__(
        cls,
        data: Tensor,
        batch_sizes: Any = None,
        sorted_indices: Any = None,
        unsorted_indices: Any = None,
    ) -> PackedSequence:
        if batch_sizes is None:  # PyTorch's legacy form: PackedSequence((data, batch_sizes))
            if not isinstance(data, (tuple, list)) or len(data) != 2:
                raise TypeError("PackedSequence: expected (data, batch_sizes, ...), got no batch_sizes")
            data, batch_sizes = data
        if not isinstance(data, Tensor):
            raise TypeError(f"PackedSequence: data must be a Tensor, got {type(data).__name__}")
        bs = _index_tensor(batch_sizes, "batch_sizes")
        si = None if sorted_indices is None else _index_tensor(sorted_indices, "sorted_indices")
        if unsorted_indices is None:
            ui = invert_permutation(si)
        else:
            ui = _index_tensor(unsorted_indices, "unsorted_indices")
        return super().__new__(cls, data, bs, si, ui)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data.to(...)`` (a dtype, or this process's device); the indices stay as they are."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else type(self)(data, *self[1:])

    def double(self) -> PackedSequence:
        return self.to("float64")

    def float(self) -> PackedSequence:
        return self.to("float32")

    def half(self) -> PackedSequence:
        return self.to("float16")

    def long(self) -> PackedSequence:
        return self.to("int64")

    def int(self) -> PackedSequence:
        return self.to("int32")

    def cpu(self) -> PackedSequence:
        """As ``Tensor.cpu()``: this batch under NumPy, and under CuPy too (its data stays on the GPU)."""
        data = self.data.cpu()
        return self if data is self.data else type(self)(data, *self[1:])

    def cuda(self) -> PackedSequence:
        data = self.data.cuda()
        return self if data is self.data else type(self)(data, *self[1:])

    @property
    def is_cuda(self) -> bool:
        return backend.name == "cupy"

    def is_pinned(self) -> bool:
        return False


class _Layout(NamedTuple):
    """Where the rows of a packed batch sit in the padded one (time-major), and the lengths."""

    T: int
    N: int
    steps: np.ndarray  # (S,) the time step t of each packed row
    batch: np.ndarray  # (S,) its sequence, as a batch index in the original order
    lengths: np.ndarray  # (N,) int64, in the original order

    def positions(self, batch_first: bool) -> tuple:
        t, b = backend.to_backend(self.steps), backend.to_backend(self.batch)
        return (b, t) if batch_first else (t, b)


def _rows(batch_sizes: np.ndarray, order: np.ndarray | None, N: int) -> _Layout:
    """The formula of the module docstring: row o_t + k is step t of sequence order[k]."""
    T, S = len(batch_sizes), int(batch_sizes.sum())
    steps = np.repeat(np.arange(T), batch_sizes)
    k = np.arange(S) - np.repeat(np.cumsum(batch_sizes) - batch_sizes, batch_sizes)
    batch = k if order is None else order[k]
    return _Layout(T, N, steps, batch, np.bincount(batch, minlength=N).astype(np.int64))


def _layout(packed: Any, op: str) -> _Layout:
    """Check a PackedSequence (it may have been built by hand) and locate its rows."""
    if not isinstance(packed, PackedSequence):
        raise TypeError(f"{op}: expected a PackedSequence, got {type(packed).__name__}")
    bs = _host(packed.batch_sizes).astype(np.int64)
    if bs.size == 0 or bs[-1] < 1 or np.any(np.diff(bs) > 0):
        raise SequenceError(
            f"{op}: batch_sizes must be a non-empty, non-increasing list of positive counts (the number of "
            f"sequences still running at each step), got {bs.tolist()}"
        )
    data = packed.data
    if data.ndim == 0 or data.shape[0] != bs.sum():
        raise SequenceError(
            f"{op}: data has shape {data.shape} but batch_sizes {bs.tolist()} add up to {bs.sum()} rows"
        )
    N = int(bs[0])
    order = None
    if packed.sorted_indices is not None:
        order = _host(packed.sorted_indices).astype(np.int64)
        if order.shape != (N,) or not np.array_equal(np.sort(order), np.arange(N)):
            raise SequenceError(f"{op}: sorted_indices must be a permutation of the {N} batch indices")
        if packed.unsorted_indices is not None:
            inv = _host(packed.unsorted_indices)
            if inv.shape != (N,) or not np.array_equal(inv[order], np.arange(N)):
                raise SequenceError(f"{op}: unsorted_indices must be the inverse permutation of sorted_indices")
    return _rows(bs, order, N)


def _unpack(data: Tensor, layout: _Layout, batch_first: bool, fill: Any, T: int | None = None) -> Tensor:
    """The padded batch of a packed one's ``data`` (``T`` steps, at least ``layout.T``)."""
    T = layout.T if T is None else T
    lead = (layout.N, T) if batch_first else (T, layout.N)
    return Unpack.apply(data, index=layout.positions(batch_first), shape=lead + tuple(data.shape[1:]), fill=fill)


def _repack(padded: Tensor, like: PackedSequence, layout: _Layout) -> PackedSequence:
    """The packed form of a time-major padded batch, in ``like``'s layout (its batch sizes and indices)."""
    return PackedSequence(Pack.apply(padded, index=layout.positions(False)), *like[1:])


# ---- packing -----------------------------------------------------------------------------------------
def _lengths(lengths: Any, op: str) -> np.ndarray:
    """Host int64 lengths of a list, an array or a Tensor."""
    a = _host(lengths)
    if a.ndim != 1:
        raise SequenceError(f"{op}: 'lengths' must be 1-D, one length per sequence, but got shape {a.shape}")
    if a.size == 0:
        return a.astype(np.int64)
    if a.dtype.kind == "f" and np.all(a == np.floor(a)):  # whole floats, as PyTorch's int64 conversion
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: lengths must be integers, got {a.dtype} {a.tolist()}")
    return a.astype(np.int64)


def _batch_sizes(sorted_lengths: np.ndarray) -> np.ndarray:
    """batch_sizes[t] = #{i : L_i > t} for t < max L_i, in O(N + T) (no T x N comparison)."""
    T, N = int(sorted_lengths[0]), len(sorted_lengths)
    ended = np.cumsum(np.bincount(sorted_lengths, minlength=T + 1))[:T]  # sequences with L_i <= t
    return (N - ended).astype(np.int64)


def pack_padded_sequence(
    input: Tensor,  # noqa: A002  (PyTorch's name)
    lengths: Any,
    batch_first: bool = False,
    enforce_sorted: bool = True,
) -> PackedSequence:
    """Pack a padded batch ``(T, N, *)`` (``(N, T, *)`` with ``batch_first``) of the given lengths.

    ``lengths``: N ints in [1, T] (a list, an array or a Tensor). With ``enforce_sorted=True`` they must
    not increase (the batch is taken as sorted, and both index fields are None); otherwise the batch is
    ordered by decreasing length (ties in batch order, as PyTorch's sort) and ``sorted_indices`` records
    it. Padded steps are never read, and the gradient reaches only the steps inside each sequence.
    """
    op = "pack_padded_sequence"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (T, N, *) or (N, T, *) with batch_first, got shape {input.shape}")
    N, T = (input.shape[0], input.shape[1]) if batch_first else (input.shape[1], input.shape[0])
    lens = _lengths(lengths, op)
    if lens.shape[0] != N:
        raise SequenceError(
            f"{op}: Expected `len(lengths)` to be equal to batch_size, but got {len(lens)} (batch_size={N})"
        )
    if N == 0:
        raise SequenceError(f"{op}: Cannot pack empty tensors (the batch has no sequences)")
    if lens.min() <= 0:
        raise SequenceError(
            f"{op}: Length of all samples has to be greater than 0, but found an element in 'lengths' that "
            f"is <= 0: {lens.tolist()}"
        )
    if lens.max() > T:
        raise SequenceError(f"{op}: lengths {lens.tolist()} exceed the input's {T} time steps (shape {input.shape})")
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise SequenceError(
                f"{op}: `lengths` array must be sorted in decreasing order when `enforce_sorted` is True, got "
                f"{lens.tolist()}. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement"
            )
        order = None
    else:
        order = np.argsort(-lens, kind="stable")
    batch_sizes = _batch_sizes(lens if order is None else lens[order])
    data = Pack.apply(input, index=_rows(batch_sizes, order, N).positions(batch_first))
    return PackedSequence(data, batch_sizes, order)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The inverse of :func:`pack_padded_sequence`: ``(padded, lengths)``, in the original batch order.

    ``padded`` is ``(T, N, *)`` (``(N, T, *)`` with ``batch_first``) with ``T`` the longest length, or
    ``total_length`` (which must be at least that); steps past each sequence's end hold
    ``padding_value``. ``lengths`` is an int64 Tensor.
    """
    op = "pad_packed_sequence"
    layout = _layout(sequence, op)
    T = layout.T
    if total_length is not None:
        if total_length < T:
            raise ValueError(
                f"{op}: Expected total_length to be at least the length of the longest sequence in input, but "
                f"got total_length={total_length} and max sequence length being {T}"
            )
        T = int(total_length)
    padded = _unpack(sequence.data, layout, batch_first, _scalar(padding_value), T)
    return padded, Tensor(layout.lengths)


def _scalar(v: Any) -> Any:
    """A Python number for a fill value (CuPy's ``full`` takes no arrays)."""
    return v.item() if hasattr(v, "item") else v


def _sequence_list(sequences: Any, op: str) -> list[Tensor]:
    """A list of (L_i, *) Tensors; a Tensor is the sequence of its rows, as iterating it in PyTorch."""
    if isinstance(sequences, Tensor):
        if sequences.ndim == 0:
            raise SequenceError(f"{op}: expected a list of Tensors of shape (L_i, *), got a 0-d Tensor")
        return list(sequences.unbind(0))
    if not isinstance(sequences, Iterable):
        raise SequenceError(
            f"{op}: Expected iterable for input sequences, but got arg of type: {type(sequences).__name__}"
        )
    seqs = list(sequences)
    if not seqs:
        raise SequenceError(f"{op}: got an empty list of sequences; need at least one")
    check_tensors(op, seqs, "sequence")
    trailing, dtype = seqs[0].shape[1:], seqs[0].dtype
    for i, s in enumerate(seqs):
        if s.ndim == 0:
            raise SequenceError(f"{op}: sequence {i} is a scalar; each sequence needs shape (L_i, *)")
        if s.shape[1:] != trailing:
            raise SequenceError(
                f"{op}: sequence {i} has shape {s.shape} but sequence 0 has shape {seqs[0].shape}; "
                f"all sequences must share the trailing dims {trailing} (only the length may differ)"
            )
        if s.dtype != dtype:  # PyTorch casts to sequence 0's dtype; this library never casts silently
            raise TypeError(
                f"{op}: sequence {i} is {s.dtype} but sequence 0 is {dtype}; all sequences must share one dtype"
            )
    return seqs


def pad_sequence(
    sequences: Tensor | Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Pad sequences of shape ``(L_i, *)`` into ``(T, N, *)`` (``(N, T, *)`` with ``batch_first``), T = max L_i.

    Sequence i fills steps ``[0, L_i)`` (``[T - L_i, T)`` with ``padding_side='left'``); the rest holds
    ``padding_value``. The sequences must share their trailing dims and dtype; a Tensor stands for the
    list of its rows. Differentiable with respect to every sequence. (:func:`tinygrad_rnn.nn.utils.pad_sequence`
    returns the lengths too.)
    """
    op = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise SequenceError(f"{op}: Expected padding_side to be one of left or right, but got {padding_side!r}.")
    seqs = _sequence_list(sequences, op)
    return PadSequence.apply(
        *seqs, batch_first=bool(batch_first), padding_value=_scalar(padding_value), left=padding_side == "left"
    )


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """The inverse of :func:`pad_sequence` (right padding): the list of ``padded[:L_i, i]`` (``padded[i, :L_i]``)."""
    op = "unpad_sequence"
    if not isinstance(padded_sequences, Tensor) or padded_sequences.ndim < 2:
        raise TypeError(f"{op}: expected a padded Tensor (T, N, *) or (N, T, *), got {type(padded_sequences).__name__}")
    lens = _lengths(lengths, op)
    N, T = padded_sequences.shape[:2]
    if not batch_first:
        N, T = T, N
    if lens.shape[0] != N or (N and (lens.min() < 0 or lens.max() > T)):
        raise SequenceError(f"{op}: lengths {lens.tolist()} do not fit a padded batch of {N} sequences of {T} steps")
    return [padded_sequences[_slot(i, int(n), T, batch_first, False)] for i, n in enumerate(lens)]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences of shape ``(L_i, *)``: ``pack_padded_sequence(pad_sequence(seqs), lengths)``."""
    seqs = _sequence_list(sequences, "pack_sequence")
    return pack_padded_sequence(pad_sequence(seqs), [s.shape[0] for s in seqs], enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The inverse of :func:`pack_sequence`: the list of sequences, in the original batch order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
