"""Sequence layers ``RNN``, ``LSTM``, ``GRU``: stacked, optionally bidirectional, with padded batches.

Parameter names, shapes, gate order and initialisation are PyTorch's, so a PyTorch ``state_dict``
(converted to NumPy) loads unchanged and reproduces its outputs.

====================== ======================================================================
input                  ``(T, N, I)``; ``(N, T, I)`` with ``batch_first``; unbatched ``(T, I)``
h0 / h_n               ``(num_layers * D, N, H_out)`` (``(num_layers * D, H_out)`` unbatched)
c0 / c_n (LSTM)        ``(num_layers * D, N, H)``
output                 ``(T, N, D * H_out)`` (``(N, T, ...)`` with ``batch_first``)
lengths                N ints in [1, T]: padded steps output 0, h_n is taken at each sequence's
                       own last step, and the reverse direction starts at each sequence's end
PackedSequence input   instead of a padded input (then no ``lengths=``; ``batch_first`` does not
                       apply): the output is a PackedSequence in the same layout, h_n / c_n are
                       in the original batch order
====================== ======================================================================

D = 2 if bidirectional else 1; H_out = proj_size if proj_size > 0 else hidden_size.

The input, h0 and c0 must have the parameters' dtype: anything else (float64 into a float32 layer,
integers) is a ``TypeError`` naming the layer, raised before the fused and composed paths part, so both
give the same message. As in PyTorch, N = 0 gives empty outputs and states, and T = 0 is an error.

A :class:`~.utils.rnn.PackedSequence` maps onto ``lengths``: its rows are scattered into a zero-padded
``(T, N, I)`` batch in the *original* batch order (``packed.sorted_indices`` applied), with
``lengths[i]`` = sequence i's length, the layer runs exactly as for ``x, lengths=...`` (fused or
composed), and the output's valid steps are gathered back into ``packed``'s layout. Since the layers
take lengths in any order, nothing is sorted; ``hx`` is read, and ``h_n`` returned, in the original
order, which is what PyTorch does (it permutes them by ``sorted_indices`` / ``unsorted_indices``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..backend import xp
from ..modes import MODES, Switch
from ..op_functions import concat, stack
from ..ops.recurrent import GRUSequence, LSTMSequence, RNNSequence
from ..steps import projection_bias, unroll
from ..tape import scope
from ..tensor import Tensor
from . import functional as F
from . import init
from .cells import activation, check_dtype, gru_step, gru_weights, lstm_step, rnn_step
from .module import Module
from .utils.rnn import PackedSequence, _layout, _repack, _unpack


class use_fused(Switch):  # noqa: N801  (a context manager, used like a function)
    """Choose how the sequence layers run by default in this thread: fused (one tape node per layer and
    direction with a hand-derived BPTT, see ops/recurrent.py) or composed (the cell's ops at every step,
    as drawn by ``tg.graph``): ``with use_fused(False): ...``. A layer's own ``fused=True/False``
    argument wins. Each thread starts from ``TINYGRAD_RNN_FUSED`` (on unless 0)."""

    mode = "fused"

    def __init__(self, flag: bool = True) -> None:
        self.flag = bool(flag)

    def value(self, old: bool) -> bool:
        return self.flag


class RNNBase(Module):
    """The sequence layers' shared constructor (PyTorch's arguments and order; ``RNN`` puts
    ``nonlinearity`` fourth, ``GRU`` adds the keyword ``reset_after``) and time loop."""

    mode = "RNN"
    gates = 1
    cell = "rnn"  # the step definitions' name for this family (steps.projection_bias)
    projects = False  # whether proj_size is supported (the LSTM's h_t = W_hr h_t)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        fused: bool | None = None,
    ) -> None:
        super().__init__()
        self.fused = fused
        name = type(self).__name__
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        if proj_size and not self.projects:
            raise ValueError(f"{name}: proj_size is supported by LSTM only, got proj_size={proj_size}")
        if proj_size < 0 or proj_size and proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size must be 0 or in (0, hidden_size={hidden_size}), got {proj_size}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        self.num_directions = 2 if bidirectional else 1
        h_out = proj_size or hidden_size
        k = init.fan_in_bound(hidden_size)
        G = self.gates * hidden_size
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else h_out * self.num_directions
            for sfx in self._suffixes(layer):
                setattr(self, f"weight_ih{sfx}", init.uniform((G, in_size), k))
                setattr(self, f"weight_hh{sfx}", init.uniform((G, h_out), k))
                if bias:
                    setattr(self, f"bias_ih{sfx}", init.uniform((G,), k))
                    setattr(self, f"bias_hh{sfx}", init.uniform((G,), k))
                if proj_size:
                    setattr(self, f"weight_hr{sfx}", init.uniform((proj_size, hidden_size), k))

    def _suffixes(self, layer: int) -> list:
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.bidirectional else [])

    # ---- input checking ----------------------------------------------------------------------------
    def _check_input(self, x: Tensor) -> tuple:
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
        if x.ndim not in (2, 3):
            raise ValueError(
                f"{name}: expected a 3-d input {'(N, T, I)' if self.batch_first else '(T, N, I)'} "
                f"or an unbatched 2-d (T, I), got shape {x.shape}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input feature size {x.shape[-1]} != input_size {self.input_size} (input shape {x.shape})"
            )
        # The dtype rule is checked here, once, before the fused and composed paths part: the fused ops
        # compute in whatever dtype they are given, so a float64 input would otherwise run in float64
        # and write float64 gradients into float32 parameters. Layer 0's weight stands for all of them
        # (Module.to casts every one); the fused ops check their own inputs as well.
        check_dtype(name, "input", x, self.weight_ih_l0.dtype)
        shape = x.shape
        batched = x.ndim == 3
        if not batched:
            x = x.reshape(x.shape[0], 1, x.shape[1])
        elif self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[0] == 0:  # as PyTorch: there is no last step to take h_n from (N = 0 is fine)
            raise ValueError(f"{name}: the sequence is empty, T = 0 (input shape {shape})")
        return x, batched

    def _check_state(self, s: Tensor | None, what: str, size: int, N: int, batched: bool, x: Tensor) -> Tensor:
        L = self.num_layers * self.num_directions
        if s is None:
            return Tensor(xp.zeros((L, N, size), dtype=x.dtype))
        want = (L, N, size) if batched else (L, size)
        if not isinstance(s, Tensor) or s.shape != want:
            got = s.shape if isinstance(s, Tensor) else type(s).__name__
            raise ValueError(
                f"{type(self).__name__}: {what} must have shape {want} "
                f"(num_layers * num_directions, {'N, ' if batched else ''}{size}), got {got}"
            )
        check_dtype(type(self).__name__, what, s, x.dtype)  # x already has the parameters' dtype
        return s if batched else s.reshape(L, 1, size)

    def _check_lengths(self, lengths: Any, T: int, N: int) -> np.ndarray | None:
        if lengths is None:
            return None
        name = type(self).__name__
        lens = backend.to_numpy(lengths.array if isinstance(lengths, Tensor) else np.asarray(lengths))
        if lens.ndim != 1 or lens.shape[0] != N:
            raise ValueError(
                f"{name}: lengths must hold one length per batch element ({N}), got shape {tuple(lens.shape)}"
            )
        if lens.size == 0:  # N = 0: an empty list or array has no integer dtype to show (np.asarray([]))
            lens = lens.astype(np.int64)
        if lens.dtype.kind not in "iu":
            raise TypeError(f"{name}: lengths must be integers, got dtype {lens.dtype}")
        if N and (lens.min() < 1 or lens.max() > T):  # min/max of nothing would raise
            raise ValueError(f"{name}: every length must be in [1, T={T}], got min {lens.min()} max {lens.max()}")
        return lens

    # ---- the time loop -----------------------------------------------------------------------------
    def _stepper(self, sfx: str):  # returns step(xw_t, state_tuple) -> state_tuple
        raise NotImplementedError

    def _projection(self, x: Tensor, sfx: str) -> Tensor:
        """All T input projections in one matmul: ``(T, N, G)``."""
        T, N, I = x.shape
        w = getattr(self, f"weight_ih{sfx}")
        xw = x.reshape(T * N, I) @ w.T
        if self.bias:
            xw = xw + self._input_bias(sfx)
        return xw.reshape(T, N, w.shape[0])

    def _use_fused(self) -> bool:
        return (MODES.fused if self.fused is None else self.fused) and self._fused_op() is not None

    def _fused_op(self) -> Any:  # the sequence op of ops/recurrent.py for this layer, or None
        return None

    def _fused_direction(self, x: Tensor, state: tuple, sfx: str, reverse: bool, mask: Any) -> tuple:
        weights = [
            getattr(self, f"{k}{sfx}")
            for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            if self.bias or k.startswith("weight")
        ]
        outs = self._fused_op().apply(x, *state, *weights, reverse=reverse, mask=mask, **self._fused_params())
        return outs[0], tuple(outs[1:])

    def _fused_params(self) -> dict:
        return {}

    def _input_bias(self, sfx: str) -> Tensor:
        return projection_bias(self.cell, getattr(self, f"bias_ih{sfx}"), getattr(self, f"bias_hh{sfx}"))

    def forward(self, x: Tensor | PackedSequence, hx: Any = None, lengths: Any = None) -> tuple:
        with scope(type(self).__name__):
            if isinstance(x, PackedSequence):
                return self._forward_packed(x, hx, lengths)
            return self._forward(x, hx, lengths)

    def flatten_parameters(self) -> None:
        """PyTorch's cuDNN weight-compaction call: nothing to compact here, so a no-op."""

    def _forward(self, x: Tensor, hx: Any, lengths: Any) -> tuple:
        x, batched = self._check_input(x)
        T, N, _ = x.shape
        lens = self._check_lengths(lengths, T, N)
        out, states = self._run(x, hx, lens, batched)
        if not batched:
            out = out.reshape(T, out.shape[-1])
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, states

    def _forward_packed(self, packed: PackedSequence, hx: Any, lengths: Any) -> tuple:
        name = type(self).__name__
        if lengths is not None:
            raise ValueError(
                f"{name}: lengths= cannot be combined with a PackedSequence input, which carries its own lengths"
            )
        data = packed.data
        if data.ndim != 2 or data.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: a PackedSequence input needs data of shape (sum of lengths, input_size="
                f"{self.input_size}), got {data.shape}"
            )
        check_dtype(name, "input", data, self.weight_ih_l0.dtype)  # before unpacking, as for padded input
        layout = _layout(packed, name)
        # zeros at the padded steps, which the lengths mask out of every state and output
        x = _unpack(data, layout, batch_first=False, fill=0)
        out, states = self._run(x, hx, layout.lengths, True)
        return _repack(out, packed, layout), states

    def _run(self, x: Tensor, hx: Any, lens: np.ndarray | None, batched: bool) -> tuple:
        """All layers on a time-major (T, N, I) input: ((T, N, D * H_out) output, final states)."""
        T, N, _ = x.shape
        masks = None
        if lens is not None:  # (T, N, 1): True while step t is inside sequence n
            masks = backend.to_backend(lens)[None, :, None] > xp.arange(T)[:, None, None]
        fused = self._use_fused()
        states = self._initial_states(hx, N, batched, x)  # list over layers*dirs of state tuples
        finals = []
        layer_in = x
        for layer in range(self.num_layers):
            outs_dirs = []
            for d, sfx in enumerate(self._suffixes(layer)):
                i = layer * self.num_directions + d
                with scope(f"layer {layer}" + (" reverse" if d else "")):
                    if fused:
                        out, final = self._fused_direction(layer_in, states[i], sfx, d == 1, masks)
                    else:
                        xw = self._projection(layer_in, sfx).unbind(0)
                        out, final = unroll(self._stepper(sfx), xw, states[i], d == 1, masks)
                    outs_dirs.append(out)
                finals.append(final)
            layer_in = outs_dirs[0] if len(outs_dirs) == 1 else concat(outs_dirs, axis=-1)
            if self.dropout and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, self.training)
        return layer_in, self._final_states(finals, batched)

    def _initial_states(self, hx: Any, N: int, batched: bool, x: Tensor) -> list:
        if hx is None:
            return [(s,) for s in self._zero_states(N, self.proj_size or self.hidden_size, x)]
        h = self._check_state(hx, "h0", self.proj_size or self.hidden_size, N, batched, x)
        return [(s,) for s in h.unbind(0)]

    def _zero_states(self, N: int, size: int, x: Tensor) -> list:
        """The default initial state, one (N, size) zeros per layer and direction: constants, no node."""
        L = self.num_layers * self.num_directions
        return [Tensor._make(xp.zeros((N, size), dtype=x.dtype), False, None, 0) for _ in range(L)]

    @staticmethod
    def _stack_states(parts: list) -> Tensor:
        """(L, N, H) from L final states; one layer and direction is a reshape (a view), not a copy."""
        return parts[0].reshape((1,) + parts[0].shape) if len(parts) == 1 else stack(parts, axis=0)

    def _final_states(self, finals: list, batched: bool) -> Any:
        h = self._stack_states([f[0] for f in finals])
        return h if batched else h.reshape(h.shape[0], h.shape[2])

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        for k, default in (
            ("num_layers", 1),
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
            ("proj_size", 0),
        ):
            if getattr(self, k) != default:
                s += f", {k}={getattr(self, k)}"
        return s


class RNN(RNNBase):
    """Elman RNN, a_t = g(w^(x) x_t + b_ih + w^(a) a_{t-1} + b_hh) per layer; g = tanh or ReLU.

    ``forward(x, h0=None, lengths=None) -> (output, h_n)``; shapes in the module docstring.
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh", *args: Any, **kw: Any
    ) -> None:
        act = activation(nonlinearity, "RNN")  # PyTorch's order: nonlinearity comes before bias
        super().__init__(input_size, hidden_size, num_layers, *args, **kw)
        self._act = act
        self.nonlinearity = nonlinearity

    def _stepper(self, sfx: str):
        w_t, act = getattr(self, f"weight_hh{sfx}").T, self._act
        return lambda xw, s: (rnn_step(xw, s[0], w_t, act),)

    def _fused_op(self) -> Any:
        return RNNSequence

    def _fused_params(self) -> dict:
        return {"nonlinearity": self.nonlinearity}

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}")


class LSTM(RNNBase):
    """Stacked LSTM (gates i, f, g, o); ``proj_size > 0`` adds h_t = W_hr (o ⊙ tanh c_t).

    ``forward(x, (h0, c0)=None, lengths=None) -> (output, (h_n, c_n))``; see :class:`~.cells.LSTMCell`
    for the equations and the module docstring for shapes.
    """

    gates = 4
    cell = "lstm"
    projects = True

    def _stepper(self, sfx: str):
        w_t = getattr(self, f"weight_hh{sfx}").T
        w_hr_t = getattr(self, f"weight_hr{sfx}").T if self.proj_size else None
        return lambda xw, s: lstm_step(xw, s[0], s[1], w_t, w_hr_t)

    def _fused_op(self) -> Any:
        return None if self.proj_size else LSTMSequence  # the projection runs on the composed path

    def _initial_states(self, hx: Any, N: int, batched: bool, x: Tensor) -> list:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTM: the initial state must be a tuple (h0, c0)")
        if hx is None:
            hs = self._zero_states(N, self.proj_size or self.hidden_size, x)
            return list(zip(hs, self._zero_states(N, self.hidden_size, x)))
        h0, c0 = hx
        h = self._check_state(h0, "h0", self.proj_size or self.hidden_size, N, batched, x)
        c = self._check_state(c0, "c0", self.hidden_size, N, batched, x)
        return list(zip(h.unbind(0), c.unbind(0)))

    def _final_states(self, finals: list, batched: bool) -> tuple:
        h, c = self._stack_states([f[0] for f in finals]), self._stack_states([f[1] for f in finals])
        if not batched:
            h, c = h.reshape(h.shape[0], h.shape[2]), c.reshape(c.shape[0], c.shape[2])
        return h, c


class GRU(RNNBase):
    """Stacked GRU (gates r, z, n); see :class:`~.cells.GRUCell` for the equations and ``reset_after``.

    ``forward(x, h0=None, lengths=None) -> (output, h_n)``.
    """

    gates = 3
    cell = "gru"

    def __init__(self, *args: Any, reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reset_after = reset_after

    def _stepper(self, sfx: str):
        H = self.hidden_size
        w_t, w_hn_t = gru_weights(getattr(self, f"weight_hh{sfx}"), H, self.reset_after)
        b_hh = getattr(self, f"bias_hh{sfx}") if self.bias else None
        ra = self.reset_after
        return lambda xw, s: (gru_step(xw, s[0], w_t, b_hh, ra, w_hn_t),)

    def _fused_op(self) -> Any:
        return GRUSequence if self.reset_after else None  # reset_after=False runs on the composed path

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")
