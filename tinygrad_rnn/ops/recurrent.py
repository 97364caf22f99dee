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

from .. import backend
from ..backend import xp
from ..function import Function


def _gate_scale(G: int, sigmoid_cols: tuple, dtype: Any) -> tuple:
    """(scale, shift) such that tanh(scale * a) * scale + shift is σ(a) on the sigmoid gates and tanh(a)
    on the others: σ(a) = (1 + tanh(a/2)) / 2, so one tanh call covers every gate and nothing overflows."""
    scale = xp.ones(G, dtype=dtype)
    for cols in sigmoid_cols:
        scale[cols] = 0.5
    return scale, xp.where(scale == 0.5, 0.5, 0.0).astype(dtype)


def _is_zero(h0: Any) -> bool:
    """Whether the initial state is all zeros (the default), so step one's recurrent product can be
    skipped. Asked on NumPy only: on a GPU the answer would cost a device-to-host sync."""
    return backend.name == "numpy" and not h0.any()


def _column_sums(a: Any) -> Any:
    """Σ over the rows of a 2-D array as a matrix-vector product with ones: BLAS does it 3-4x faster
    than the strided ``sum(axis=0)`` on the (T*N, G) gate gradients."""
    return xp.dot(xp.ones(a.shape[0], a.dtype), a)


CHUNK_BYTES = 1 << 20  # size of a chunk of backward derivative factors (see _chunk_steps)


def _chunk_steps(T: int, step_bytes: int) -> int:
    """How many time steps of derivative factors the backward computes at once: about CHUNK_BYTES, so
    they are still in cache when the loop reads them. All T on a GPU (fewer kernel launches)."""
    if backend.name != "numpy":
        return T
    return max(1, min(T, CHUNK_BYTES // max(step_bytes, 1)))


def _lstm_factors(P4: Any, Q: Any, i: Any, f: Any, g: Any, o: Any, c_prev: Any, tc: Any) -> None:
    """The LSTM backward's derivative factors of some steps, written into ``P4`` (k, N, 4, H), ``Q``:
    P = [g σ'(i), c_{t-1} σ'(f), i tanh'(g), tanh(c_t) σ'(o)], Q = σ(o) tanh'(c_t), σ' = σ - σ²."""
    for gate, (act, other, is_tanh) in enumerate(((i, g, False), (f, c_prev, False), (g, i, True), (o, tc, False))):
        pg = P4[:, :, gate]
        xp.multiply(act, act, out=pg)
        xp.subtract(1 if is_tanh else act, pg, out=pg)
        pg *= other
    xp.multiply(tc, tc, out=Q)
    xp.subtract(1, Q, out=Q)
    Q *= o


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


class _Sequence(Function):
    multi_output = True
    n_state = 1
    step: Any  # the composed one-step definition (a staticmethod on each subclass), for drawing

    def _setup(self, x: Any, w_hh: Any, biases: tuple, reverse: bool) -> tuple:
        T, N, _ = x.shape
        H = w_hh.shape[1]
        steps = range(T - 1, -1, -1) if reverse else range(T)
        # (state-in index, state-out index) of step t in the (T+1, N, H) state buffers
        io = (lambda t: (t + 1, t)) if reverse else (lambda t: (t, t + 1))
        return T, N, H, steps, io

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
        return (gs[0],) + tuple(g.copy() if g is not None else xp.zeros((N, H), dtype=dtype) for g in gs[1:])

    def composed(self, *inputs: Any) -> tuple:
        """The same outputs built from the composed cell on Tensors (for create_graph=True and drawings)."""
        from ..function import scope  # noqa: PLC0415
        from ..functions import stack, where  # noqa: PLC0415  (ops are imported before tensor-level helpers)

        k = 1 + self.n_state
        x, state, w_ih, w_hh, biases = inputs[0], list(inputs[1:k]), inputs[k], inputs[k + 1], inputs[k + 2 :]
        T, N, I = x.shape
        xw = x.reshape(T * N, I) @ w_ih.T
        if biases:
            xw = xw + self._composed_bias(*biases)
        steps = xw.reshape(T, N, w_ih.shape[0]).unbind(0)
        w_t = w_hh.T
        outs: list = [None] * T
        mask = self.params.get("mask")
        for t in range(T - 1, -1, -1) if self.params.get("reverse") else range(T):
            with scope(f"t={t + 1}"):
                new = self.step(steps[t], state, w_t, *biases)
                if mask is None:
                    state, outs[t] = new, new[0]
                else:
                    state = [where(mask[t], a, b) for a, b in zip(new, state)]
                    outs[t] = where(mask[t], new[0], 0.0)
        return (stack(outs, axis=0),) + tuple(state)

    @staticmethod
    def _composed_bias(b_ih: Any, b_hh: Any) -> Any:
        return b_ih + b_hh


class LSTMSequence(_Sequence):
    """A whole LSTM layer direction: i, f, g, o = split(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh);
    c_t = σ(f) c_{t-1} + σ(i) tanh(g); h_t = σ(o) tanh(c_t).
    Inputs (x, h0, c0, w_ih, w_hh[, b_ih, b_hh]); outputs (out, h_T, c_T)."""

    n_state = 2

    @classmethod
    def op_name(cls) -> str:
        return "lstm_sequence"

    @staticmethod
    def step(xw: Any, state: list, w_t: Any, *biases: Any) -> list:
        from ..steps import lstm_step  # noqa: PLC0415  (steps build on Tensor, which builds on ops)

        return list(lstm_step(xw, state[0], state[1], w_t))

    def forward(self, x, h0, c0, w_ih, w_hh, *biases, reverse=False, mask=None):
        _check_inputs(x, (h0, c0, w_ih, w_hh, *biases))
        T, N, H, steps, io = self._setup(x, w_hh, biases, reverse)
        G = 4 * H
        scale, shift = _gate_scale(G, (slice(0, 2 * H), slice(3 * H, G)), x.dtype)  # i, f, o are σ; g tanh
        acts = self._project(x, w_ih, biases, scale)  # pre-activations, then σ(i), σ(f), tanh(g), σ(o)
        w_s = _contiguous(w_hh.T * scale)
        hs = xp.empty((T + 1, N, H), x.dtype)
        cs = xp.empty((T + 1, N, H), x.dtype)
        tc = xp.empty((T, N, H), x.dtype)  # tanh(c_t)
        tmp = xp.empty((N, H), x.dtype)
        rec = xp.empty((N, G), x.dtype)
        first = T if reverse else 0
        hs[first], cs[first] = h0, c0
        skip = _is_zero(h0)  # h_0 = 0: no recurrent product on the first step
        for t in steps:
            p, n = io(t)
            a = acts[t]
            if skip:
                skip = False
            else:
                xp.dot(hs[p], w_s, out=rec)
                a += rec
            xp.tanh(a, out=a)
            a *= scale
            a += shift
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            c = cs[n]
            xp.multiply(f, cs[p], out=c)
            xp.multiply(i, g, out=tmp)
            c += tmp
            xp.tanh(c, out=tc[t])
            xp.multiply(o, tc[t], out=hs[n])
            if mask is not None:  # finished sequences keep their state
                keep = ~mask[t]
                xp.copyto(hs[n], hs[p], where=keep)
                xp.copyto(cs[n], cs[p], where=keep)
        self.buffers = (acts, hs, cs, tc)
        out = hs[:-1] if reverse else hs[1:]
        last = 0 if reverse else T
        return (out if mask is None else out * mask), hs[last].copy(), cs[last].copy()

    def backward(self, gs, x, h0, c0, w_ih, w_hh, *biases):
        reverse, mask = self.params.get("reverse", False), self.params.get("mask")
        T, N, H, steps, io = self._setup(x, w_hh, biases, reverse)
        g_out, dh_next, dc = self._grads(gs, N, H, x.dtype)
        acts, hs, cs, tc = self.buffers
        c_prev = cs[1:] if reverse else cs[:-1]
        i, f, g, o = acts[..., :H], acts[..., H : 2 * H], acts[..., 2 * H : 3 * H], acts[..., 3 * H :]
        # The derivative factors do not depend on the recursion, so they are computed for K steps at
        # once, just before the loop reaches them (K*N*4H floats of about 1 MB stay in cache; for long
        # sequences one whole-sequence pass per factor streamed from memory cost 8% of a step)
        K = _chunk_steps(T, N * 4 * H * x.dtype.itemsize)
        P = xp.empty((K, N, 4 * H), x.dtype)
        P4 = P.reshape(K, N, 4, H)
        Q = xp.empty((K, N, H), x.dtype)
        F = f
        if mask is not None:
            F = xp.where(mask, f, 1)  # a finished step hands δc on unchanged
            if g_out is not None:
                g_out = g_out * mask
        dz = xp.empty_like(acts)
        dz4 = dz.reshape(T, N, 4, H)
        dh = xp.empty((N, H), x.dtype)
        tmp = xp.empty((N, H), x.dtype)
        w = _contiguous(w_hh)
        spare = xp.empty((N, H), x.dtype)
        need = self.needs_input_grad
        stop = None if need[1] or need[2] else steps[0]
        lo = hi = -1  # the chunk of time indices [lo, hi) whose factors P, Q hold
        for t in reversed(steps):
            if not lo <= t < hi:
                lo = (t // K) * K
                hi = min(lo + K, T)
                c = slice(lo, hi)
                _lstm_factors(P4[: hi - lo], Q[: hi - lo], i[c], f[c], g[c], o[c], c_prev[c], tc[c])
                if mask is not None:  # finished steps pass no gradient to their gates
                    P4[: hi - lo] *= mask[c, :, :, None]
                    Q[: hi - lo] *= mask[c]
            j = t - lo
            if g_out is None:
                dh[...] = dh_next
            else:
                xp.add(g_out[t], dh_next, out=dh)
            xp.multiply(dh, Q[j], out=tmp)
            dc += tmp  # δc_t
            xp.multiply(dc[:, None, :], P4[j, :, :3], out=dz4[t, :, :3])
            xp.multiply(dh, P4[j, :, 3], out=dz4[t, :, 3])
            if t == stop:  # h_0 and c_0 need no gradient: δh_0, δc_0 are not computed
                break
            dc *= F[t]  # δc_{t-1}
            new = xp.dot(dz[t], w, out=spare)  # δh_{t-1}
            if mask is not None:
                new += dh_next * ~mask[t]  # past a finished step unchanged
            dh_next, spare = new, dh_next
        prev = hs[1:] if reverse else hs[:-1]
        dx, dw_ih, dw_hh, db = self._input_grads(dz, dz, x, w_ih, prev)
        return (dx, dh_next if need[1] else None, dc if need[2] else None, dw_ih, dw_hh) + db


class RNNSequence(_Sequence):
    """A whole Elman layer direction: h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), act = tanh or relu.
    Inputs (x, h0, w_ih, w_hh[, b_ih, b_hh]); outputs (out, h_T)."""

    @classmethod
    def op_name(cls) -> str:
        return "rnn_sequence"

    def step(self, xw: Any, state: list, w_t: Any, *biases: Any) -> list:
        from ..steps import activation, rnn_step  # noqa: PLC0415

        return [rnn_step(xw, state[0], w_t, activation(self.params["nonlinearity"], "RNN"))]

    def forward(self, x, h0, w_ih, w_hh, *biases, nonlinearity="tanh", reverse=False, mask=None):
        _check_inputs(x, (h0, w_ih, w_hh, *biases))
        T, N, H, steps, io = self._setup(x, w_hh, biases, reverse)
        acts = self._project(x, w_ih, biases, 1)
        w_t = _contiguous(w_hh.T)
        hs = xp.empty((T + 1, N, H), x.dtype)
        hs[T if reverse else 0] = h0
        skip = _is_zero(h0)  # h_0 = 0: no recurrent product on the first step
        for t in steps:
            p, n = io(t)
            if skip:
                a = hs[n]
                a[...] = acts[t]
                skip = False
            else:
                a = xp.dot(hs[p], w_t, out=hs[n])
                a += acts[t]
            if nonlinearity == "tanh":
                xp.tanh(a, out=a)
            else:
                xp.maximum(a, 0, out=a)
            if mask is not None:
                xp.copyto(a, hs[p], where=~mask[t])
        self.buffers = (hs,)
        out = hs[:-1] if reverse else hs[1:]
        return (out if mask is None else out * mask), hs[0 if reverse else T].copy()

    def backward(self, gs, x, h0, w_ih, w_hh, *biases):
        reverse, mask = self.params.get("reverse", False), self.params.get("mask")
        T, N, H, steps, io = self._setup(x, w_hh, biases, reverse)
        g_out, dh_next = self._grads(gs, N, H, x.dtype)
        (hs,) = self.buffers
        h = hs[:-1] if reverse else hs[1:]
        # act'(a_t) for all steps at once: 1 - h² for tanh, [h > 0] for relu (0 on finished steps)
        if self.params["nonlinearity"] == "tanh":
            D = xp.multiply(h, h)
            xp.subtract(1, D, out=D)
        else:
            D = (h > 0).astype(x.dtype)
        if mask is not None:
            D *= mask
            if g_out is not None:
                g_out = g_out * mask
        da = xp.empty((T, N, H), x.dtype)
        w = _contiguous(w_hh)
        dh = xp.empty((N, H), x.dtype)
        spare = xp.empty((N, H), x.dtype)
        stop = None if self.needs_input_grad[1] else steps[0]  # h_0 needs no gradient: skip δh_0
        for t in reversed(steps):
            if g_out is None:
                xp.multiply(dh_next, D[t], out=da[t])
            else:
                xp.add(dh_next, g_out[t], out=dh)
                xp.multiply(dh, D[t], out=da[t])
            if t == stop:
                break
            new = xp.dot(da[t], w, out=spare)
            if mask is not None:
                new += dh_next * ~mask[t]
            dh_next, spare = new, dh_next
        prev = hs[1:] if reverse else hs[:-1]
        dx, dw_ih, dw_hh, db = self._input_grads(da, da, x, w_ih, prev)
        return (dx, dh_next if self.needs_input_grad[1] else None, dw_ih, dw_hh) + db


class GRUSequence(_Sequence):
    """A whole GRU layer direction (reset_after=True, PyTorch's form): with xw_t = x_t W_ihᵀ + b_ih and
    hh_t = h_{t-1} W_hhᵀ + b_hh split into r, z, n parts: r = σ(xr + hr), z = σ(xz + hz),
    n = tanh(xn + r hn), h_t = (1 - z) n + z h_{t-1}. Inputs (x, h0, w_ih, w_hh[, b_ih, b_hh]);
    outputs (out, h_T)."""

    @classmethod
    def op_name(cls) -> str:
        return "gru_sequence"

    @staticmethod
    def step(xw: Any, state: list, w_t: Any, *biases: Any) -> list:
        from ..steps import gru_step  # noqa: PLC0415

        return [gru_step(xw, state[0], w_t, biases[1] if biases else None, True, None)]

    @staticmethod
    def _composed_bias(b_ih: Any, b_hh: Any) -> Any:
        return b_ih  # b_hh stays inside the step: the reset gate scales b_hn

    def forward(self, x, h0, w_ih, w_hh, *biases, reverse=False, mask=None):
        _check_inputs(x, (h0, w_ih, w_hh, *biases))
        T, N, H, steps, io = self._setup(x, w_hh, biases, reverse)
        G = 3 * H
        scale, _ = _gate_scale(G, (slice(0, 2 * H),), x.dtype)  # r, z are σ; n keeps its scale
        fold = xp.ones(G, dtype=x.dtype)
        fold[2 * H :] = 0  # b_hr, b_hz are plain biases; b_hn
        acts = self._project(x, w_ih, biases, scale, fold)  # is scaled by r inside the step
        b_hn = biases[1][2 * H :] if biases else None
        w_s = _contiguous(w_hh.T * scale)
        hs = xp.empty((T + 1, N, H), x.dtype)
        hn = xp.empty((T, N, H), x.dtype)  # W_hn h_{t-1} + b_hn
        rec = xp.empty((N, G), x.dtype)
        tmp = xp.empty((N, H), x.dtype)
        hs[T if reverse else 0] = h0
        skip = _is_zero(h0)  # h_0 = 0: the first recurrent product is 0
        for t in steps:
            p, n_ = io(t)
            a = acts[t]
            if skip:
                rec[...] = 0
                skip = False
            else:
                xp.dot(hs[p], w_s, out=rec)
            rz = a[:, : 2 * H]
            rz += rec[:, : 2 * H]
            xp.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
            if b_hn is None:
                hn[t] = rec[:, 2 * H :]
            else:
                xp.add(rec[:, 2 * H :], b_hn, out=hn[t])
            xp.multiply(r, hn[t], out=tmp)
            n += tmp
            xp.tanh(n, out=n)
            h = hs[n_]
            xp.subtract(hs[p], n, out=h)
            h *= z
            h += n  # n + z (h_{t-1} - n)
            if mask is not None:
                xp.copyto(h, hs[p], where=~mask[t])
        self.buffers = (acts, hs, hn)
        out = hs[:-1] if reverse else hs[1:]
        return (out if mask is None else out * mask), hs[0 if reverse else T].copy()

    def backward(self, gs, x, h0, w_ih, w_hh, *biases):
        reverse, mask = self.params.get("reverse", False), self.params.get("mask")
        T, N, H, steps, io = self._setup(x, w_hh, biases, reverse)
        G = 3 * H
        g_out, dh_next = self._grads(gs, N, H, x.dtype)
        acts, hs, hn = self.buffers
        prev = hs[1:] if reverse else hs[:-1]
        r, z, n = acts[..., :H], acts[..., H : 2 * H], acts[..., 2 * H :]
        # factors of all steps at once: Pr = hn σ'(r), Pz = (h_{t-1} - n) σ'(z), Pn = (1 - z) tanh'(n)
        Pr = r - r * r
        Pr *= hn
        Pz = prev - n
        Pz *= z - z * z
        Pn = 1 - z
        Pn *= 1 - n * n
        Z = z
        if mask is not None:
            Pz *= mask
            Pn *= mask
            Z = xp.where(mask, z, 1)  # a finished step hands δh on unchanged
            if g_out is not None:
                g_out = g_out * mask
        dz = xp.empty((T, N, G), x.dtype)  # ∂/∂(x W_ihᵀ + b_ih)
        dr = xp.empty((T, N, G), x.dtype)  # ∂/∂(h W_hhᵀ + b_hh)
        dh = xp.empty((N, H), x.dtype)
        w = _contiguous(w_hh)
        spare = xp.empty((N, H), x.dtype)
        stop = None if self.needs_input_grad[1] else steps[0]  # h_0 needs no gradient: skip δh_0
        for t in reversed(steps):
            if g_out is None:
                dh[...] = dh_next
            else:
                xp.add(dh_next, g_out[t], out=dh)
            dzt, drt = dz[t], dr[t]
            xp.multiply(dh, Pn[t], out=dzt[:, 2 * H :])  # δ(xn + r hn)
            xp.multiply(dh, Pz[t], out=drt[:, H : 2 * H])  # δz (pre-activation)
            xp.multiply(dzt[:, 2 * H :], Pr[t], out=drt[:, :H])  # δr (pre-activation)
            xp.multiply(dzt[:, 2 * H :], r[t], out=drt[:, 2 * H :])  # δhn
            if t == stop:
                break
            dh_next, spare = xp.dot(drt, w, out=spare), dh_next
            dh *= Z[t]
            dh_next += dh  # + z δh_t (all of it if finished)
        dz[..., : 2 * H] = dr[..., : 2 * H]  # r, z pre-activations get one gradient from both sides
        dx, dw_ih, dw_hh, db = self._input_grads(dz, dr, x, w_ih, prev)
        return (dx, dh_next if self.needs_input_grad[1] else None, dw_ih, dw_hh) + db
