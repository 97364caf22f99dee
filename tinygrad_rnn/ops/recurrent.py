"""Fused recurrent ops: one tape node per layer and direction, with a hand-derived BPTT.

They compute exactly what the composed cells in :mod:`tinygrad_rnn.steps` compute (tests check the
two paths agree in value and gradient); the composed definition stays the readable one and is used when
drawing graphs, for ``create_graph=True`` (see ``composed``), and wherever the fused path is switched
off (``nn.use_fused(False)``). What the fusion buys is what the best hand-written NumPy BPTT does:

* the input projection of all T steps is one (T*N, I) x (I, G) matmul, and so are its weight and input
  gradients; the recurrent weight gradient of all steps is one (G, T*N) x (T*N, H) matmul,
* each step is one (N, H) x (H, G) matmul plus a few in-place elementwise calls on preallocated buffers:
  σ(a) = (1 + tanh(a/2)) / 2 with the ½ folded into the weights, so one tanh covers every gate,
* the derivative factors that do not depend on the recursion are computed for all steps at once, so
  the backward loop keeps only what does,
* the tape holds one node for the whole sequence instead of ~10 per step.

Inputs: ``x (T, N, I)``, the initial state(s) ``(N, H)``, ``w_ih (G, I)``, ``w_hh (G, H)`` in PyTorch's
layout and, with ``bias=True``, ``b_ih``, ``b_hh`` ``(G,)``. ``mask`` (optional, constant) is
``(T, N, 1)`` booleans, False once a sequence has ended. Outputs: ``out (T, N, H)`` (zeros where masked)
and the final state(s) ``(N, H)``. Buffers are kept in time order; the reverse direction walks them
from t = T-1 down to 0, so the state entering step t is ``hs[t]`` forwards and ``hs[t+1]`` in reverse.
"""

from __future__ import annotations

from typing import Any

from .. import backend, kernels
from ..backend import xp
from ..kernels.gates import gru_scale, lstm_scale
from ..tape import Function


def _is_zero(h0: Any) -> bool:
    """Whether the initial state is all zeros (the default), so step one's recurrent product can be
    skipped. Asked on NumPy only: on a GPU the answer would cost a device-to-host sync."""
    return backend.name == "numpy" and not h0.any()


def _column_sums(a: Any) -> Any:
    """Σ over the rows of a 2-D array as a matrix-vector product with ones: BLAS does it 3-4x faster
    than the strided ``sum(axis=0)`` on the (T*N, G) gate gradients."""
    return xp.dot(xp.ones(a.shape[0], a.dtype), a)


def _contiguous(w: Any) -> Any:
    """A C-ordered copy (or ``w`` itself): ``dot`` into a preallocated output is the fastest small GEMM
    NumPy has, by 5-50% over ``matmul`` on the per-step shapes, when both operands are C-ordered."""
    return xp.ascontiguousarray(w)


def _check_inputs(x: Any, rest: tuple) -> None:
    """Refuse what the loops would otherwise mis-handle: mixed dtypes (the preallocated buffers take x's
    dtype, so a float32 x with float64 weights fails deep inside NumPy and a float64 x with float32
    weights silently returns float64 gradients for float32 parameters), non-float input and T = 0.
    The layers check the same at their boundary with the layer's name; this is the op's own guard for
    direct calls. O(number of inputs), no device sync. Function.apply prefixes the op name and shapes."""
    d = x.dtype
    if d.kind != "f" or any(a.dtype != d for a in rest):
        raise TypeError(
            "every input must have one float dtype; tinygrad_rnn never upcasts silently: cast with .astype(...)"
        )
    if x.shape[0] == 0:
        raise ValueError("the sequence is empty (T = 0)")


def _steps() -> Any:
    """The step definitions (and the tensor-level helpers they use), imported on first use: they build
    on Tensor, which builds on the ops. The one place this module imports upward."""
    from .. import steps  # noqa: PLC0415

    return steps


class _Sequence(Function):
    multi_output = True
    n_state = 1
    cell: str  # 'lstm', 'gru' or 'rnn'

    def step(self, xw: Any, state: tuple, w_t: Any, *biases: Any) -> tuple:
        """The composed one-step definition (for drawings and create_graph=True)."""
        raise NotImplementedError

    def _setup(self, x: Any, w_hh: Any) -> tuple:
        """(T, N, H, the kernels for x's dtype)."""
        T, N, _ = x.shape
        return T, N, w_hh.shape[1], kernels.for_dtype(x.dtype)

    def _states(self, T: int, N: int, H: int, dtype: Any) -> tuple:
        """The state buffers (T+1, N, H), one per state (h; h and c)."""
        return tuple(xp.empty((T + 1, N, H), dtype) for _ in range(self.n_state))

    @staticmethod
    def _start(states: tuple, initial: tuple, T: int, reverse: bool) -> None:
        for buf, s0 in zip(states, initial):
            buf[T if reverse else 0] = s0

    @staticmethod
    def _finish(hs: Any, states: tuple, mask: Any, reverse: bool) -> tuple:
        """(out, final states): out is h_1..h_T in time order (zeros where masked)."""
        out = hs[:-1] if reverse else hs[1:]
        last = 0 if reverse else hs.shape[0] - 1
        return ((out if mask is None else out * mask),) + tuple(buf[last].copy() for buf in states)

    def _prev(self, hs: Any) -> Any:
        """The state entering each step, in time order (what W_hh multiplies)."""
        return hs[1:] if self.params.get("reverse") else hs[:-1]

    def _project(self, x: Any, w_ih: Any, biases: tuple, scale: Any, fold: Any = None) -> Any:
        """x W_ihᵀ (+ biases) for all steps in one matmul, with the gate scale folded into the weights."""
        T, N, I = x.shape
        G = w_ih.shape[0]
        acts = xp.empty((T, N, G), x.dtype)
        # explicit sizes, no -1: with N = 0 the arrays are empty and NumPy cannot infer one
        xp.matmul(x.reshape(T * N, I), w_ih.T * scale, out=acts.reshape(T * N, G))
        if biases:
            acts += (biases[0] + (biases[1] if fold is None else biases[1] * fold)) * scale
        return acts

    def _input_grads(self, dz: Any, dr: Any, x: Any, w_ih: Any, prev: Any) -> tuple:
        """Gradients of x, w_ih, w_hh and the biases from the per-step pre-activation gradients (one
        matmul each): ``dz`` feeds x W_ihᵀ + b_ih, ``dr`` feeds h W_hhᵀ + b_hh."""
        T, N, I = x.shape
        G = dz.shape[-1]
        need = self.needs_input_grad
        k = 1 + self.n_state
        dz2, dr2 = dz.reshape(T * N, G), dr.reshape(T * N, G)
        dx = (dz2 @ w_ih).reshape(T, N, I) if need[0] else None
        dw_ih = dz2.T @ x.reshape(T * N, I) if need[k] else None
        dw_hh = dr2.T @ prev.reshape(T * N, prev.shape[-1]) if need[k + 1] else None  # no -1: N may be 0
        db: tuple = ()
        if len(need) > k + 2:
            db_ih = _column_sums(dz2) if need[k + 2] or dr is dz else None
            db_hh = (db_ih.copy() if dr is dz and db_ih is not None else _column_sums(dr2)) if need[k + 3] else None
            db = (db_ih if need[k + 2] else None, db_hh)
        return dx, dw_ih, dw_hh, db

    @staticmethod
    def _grads(gs: list, N: int, H: int, dtype: Any) -> tuple:
        """Output gradients, None replaced by zeros (the final-state ones are the loop's starting values)."""
        return (gs[0],) + tuple(xp.zeros((N, H), dtype) if d is None else d.copy() for d in gs[1:])

    def composed(self, *inputs: Any) -> tuple:
        """The same outputs built from the composed cell on Tensors (for create_graph=True and drawings)."""
        steps = _steps()
        k = 1 + self.n_state
        x, state, w_ih, w_hh, biases = inputs[0], tuple(inputs[1:k]), inputs[k], inputs[k + 1], inputs[k + 2 :]
        T, N, I = x.shape
        xw = x.reshape(T * N, I) @ w_ih.T
        if biases:
            xw = xw + steps.projection_bias(self.cell, *biases)
        w_t = w_hh.T
        out, final = steps.unroll(
            lambda xw_t, s: self.step(xw_t, s, w_t, *biases),
            xw.reshape(T, N, w_ih.shape[0]).unbind(0),
            state,
            self.params.get("reverse", False),
            self.params.get("mask"),
        )
        return (out,) + tuple(final)


class LSTMSequence(_Sequence):
    """A whole LSTM layer direction: i, f, g, o = split(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh);
    c_t = σ(f) c_{t-1} + σ(i) tanh(g); h_t = σ(o) tanh(c_t).
    Inputs (x, h0, c0, w_ih, w_hh[, b_ih, b_hh]); outputs (out, h_T, c_T)."""

    n_state = 2
    cell = "lstm"

    @classmethod
    def op_name(cls) -> str:
        return "lstm_sequence"

    def step(self, xw: Any, state: tuple, w_t: Any, *biases: Any) -> tuple:
        return _steps().lstm_step(xw, state[0], state[1], w_t)

    def forward(self, x, h0, c0, w_ih, w_hh, *biases, reverse=False, mask=None):
        _check_inputs(x, (h0, c0, w_ih, w_hh, *biases))
        T, N, H, loops = self._setup(x, w_hh)
        hs, cs = self._states(T, N, H, x.dtype)
        scale, _ = lstm_scale(H, x.dtype)
        acts = self._project(x, w_ih, biases, scale)  # pre-activations, then σ(i), σ(f), tanh(g), σ(o)
        tc = xp.empty((T, N, H), x.dtype)  # tanh(c_t)
        self._start((hs, cs), (h0, c0), T, reverse)
        w_s = _contiguous(w_hh.T * scale)
        loops.lstm_forward(acts, w_s, hs, cs, tc, loops.operand(mask), reverse, _is_zero(h0))
        self.buffers = (acts, hs, cs, tc)
        return self._finish(hs, (hs, cs), mask, reverse)

    def backward(self, gs, x, h0, c0, w_ih, w_hh, *biases):
        reverse, mask = self.params.get("reverse", False), self.params.get("mask")
        T, N, H, loops = self._setup(x, w_hh)
        g_out, dh, dc = self._grads(gs, N, H, x.dtype)
        acts, hs, cs, tc = self.buffers
        need = self.needs_input_grad
        dz, dh0, dc0 = loops.lstm_backward(
            acts, hs, cs, tc, _contiguous(w_hh), loops.operand(g_out), dh, dc, loops.operand(mask), reverse,
            need[1] or need[2],
        )  # fmt: skip
        dx, dw_ih, dw_hh, db = self._input_grads(dz, dz, x, w_ih, self._prev(hs))
        return (dx, dh0 if need[1] else None, dc0 if need[2] else None, dw_ih, dw_hh) + db


class RNNSequence(_Sequence):
    """A whole Elman layer direction: h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), act = tanh or relu.
    Inputs (x, h0, w_ih, w_hh[, b_ih, b_hh]); outputs (out, h_T)."""

    cell = "rnn"

    @classmethod
    def op_name(cls) -> str:
        return "rnn_sequence"

    def step(self, xw: Any, state: tuple, w_t: Any, *biases: Any) -> tuple:
        steps = _steps()
        return (steps.rnn_step(xw, state[0], w_t, steps.activation(self.params["nonlinearity"], "RNN")),)

    def forward(self, x, h0, w_ih, w_hh, *biases, nonlinearity="tanh", reverse=False, mask=None):
        _check_inputs(x, (h0, w_ih, w_hh, *biases))
        T, N, H, loops = self._setup(x, w_hh)
        (hs,) = self._states(T, N, H, x.dtype)
        acts = self._project(x, w_ih, biases, 1)
        self._start((hs,), (h0,), T, reverse)
        relu = nonlinearity == "relu"
        loops.rnn_forward(acts, _contiguous(w_hh.T), hs, loops.operand(mask), reverse, _is_zero(h0), relu)
        self.buffers = (hs,)
        return self._finish(hs, (hs,), mask, reverse)

    def backward(self, gs, x, h0, w_ih, w_hh, *biases):
        reverse, mask = self.params.get("reverse", False), self.params.get("mask")
        T, N, H, loops = self._setup(x, w_hh)
        g_out, dh = self._grads(gs, N, H, x.dtype)
        (hs,) = self.buffers
        need = self.needs_input_grad
        relu = self.params["nonlinearity"] == "relu"
        da, dh0 = loops.rnn_backward(
            hs, _contiguous(w_hh), loops.operand(g_out), dh, loops.operand(mask), reverse, need[1], relu
        )
        dx, dw_ih, dw_hh, db = self._input_grads(da, da, x, w_ih, self._prev(hs))
        return (dx, dh0 if need[1] else None, dw_ih, dw_hh) + db


class GRUSequence(_Sequence):
    """A whole GRU layer direction (reset_after=True, PyTorch's form): with xw_t = x_t W_ihᵀ + b_ih and
    hh_t = h_{t-1} W_hhᵀ + b_hh split into r, z, n parts: r = σ(xr + hr), z = σ(xz + hz),
    n = tanh(xn + r hn), h_t = (1 - z) n + z h_{t-1}. Inputs (x, h0, w_ih, w_hh[, b_ih, b_hh]);
    outputs (out, h_T)."""

    cell = "gru"

    @classmethod
    def op_name(cls) -> str:
        return "gru_sequence"

    def step(self, xw: Any, state: tuple, w_t: Any, *biases: Any) -> tuple:
        return (_steps().gru_step(xw, state[0], w_t, biases[1] if biases else None, True, None),)

    def forward(self, x, h0, w_ih, w_hh, *biases, reverse=False, mask=None):
        _check_inputs(x, (h0, w_ih, w_hh, *biases))
        T, N, H, loops = self._setup(x, w_hh)
        (hs,) = self._states(T, N, H, x.dtype)
        scale, _ = gru_scale(H, x.dtype)
        fold = xp.ones(3 * H, dtype=x.dtype)
        fold[2 * H :] = 0  # steps.projection_bias: b_hn stays inside the step (r scales it)
        acts = self._project(x, w_ih, biases, scale, fold)  # pre-activations, then σ(r), σ(z), n
        b_hn = loops.operand(biases[1][2 * H :]) if biases else None
        hn = xp.empty((T, N, H), x.dtype)  # W_hn h_{t-1} + b_hn
        self._start((hs,), (h0,), T, reverse)
        w_s = _contiguous(w_hh.T * scale)
        loops.gru_forward(acts, w_s, b_hn, hs, hn, loops.operand(mask), reverse, _is_zero(h0))
        self.buffers = (acts, hs, hn)
        return self._finish(hs, (hs,), mask, reverse)

    def backward(self, gs, x, h0, w_ih, w_hh, *biases):
        reverse, mask = self.params.get("reverse", False), self.params.get("mask")
        T, N, H, loops = self._setup(x, w_hh)
        g_out, dh = self._grads(gs, N, H, x.dtype)
        acts, hs, hn = self.buffers
        need = self.needs_input_grad
        dz, dr, dh0 = loops.gru_backward(
            acts, hs, hn, _contiguous(w_hh), loops.operand(g_out), dh, loops.operand(mask), reverse, need[1]
        )
        dx, dw_ih, dw_hh, db = self._input_grads(dz, dr, x, w_ih, self._prev(hs))
        return (dx, dh0 if need[1] else None, dw_ih, dw_hh) + db
