"""Fused recurrent ops: one tape node per layer and direction, with hand-derived BPTT.

They compute exactly what the composed cells in :mod:`tinygrad_rnn.nn.cells` compute (tests check the
two paths agree in value and gradient); the composed definition stays the readable one and is used when
drawing graphs, for ``create_graph=True`` (see ``composed``), and wherever the fused path is switched
off (``nn.use_fused(False)``). What the fusion buys is what a hand-written NumPy BPTT does:

* the input projection of all steps arrives precomputed (one matmul outside the loop),
* each step is one (N, H) x (H, G) matmul plus in-place elementwise work on preallocated buffers,
* the recurrent weight gradient of all T steps is one (G, T*N) x (T*N, H) matmul after the loop,
* the tape holds one node for the whole sequence instead of ~10 per step.

Shapes: ``xw (T, N, G)`` is x W_ihᵀ + biases, ``h0``/``c0`` ``(N, H)``, ``w_hh`` ``(G, H)`` in PyTorch's
layout; ``mask`` (optional, constant) is ``(T, N, 1)`` booleans, False where a sequence has ended.
Outputs: ``out (T, N, H)`` (zeros where masked) and the final state(s) ``(N, H)``.
"""
from __future__ import annotations

from typing import Any

from ..backend import xp
from ..function import Function


def _sigmoid_(a: Any) -> Any:
    """σ(a) in place as (1 + tanh(a/2)) / 2: no exp, so no overflow for large |a|."""
    a *= 0.5
    xp.tanh(a, out=a)
    a += 1
    a *= 0.5
    return a


def _order(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


class _Sequence(Function):
    multi_output = True

    @staticmethod
    def _grads(gs: list, T: int, N: int, H: int, dtype: Any) -> tuple:
        """Output gradients, None replaced by zeros (the final-state ones are the loop's starting values)."""
        out = [g if g is not None else xp.zeros((N, H), dtype=dtype) for g in gs[1:]]
        return (gs[0],) + tuple(out)

    def composed(self, *inputs: Any) -> tuple:
        """The same outputs built from the composed cell on Tensors (for create_graph=True)."""
        from ..function import scope  # noqa: PLC0415
        from ..functions import stack, where  # noqa: PLC0415  (ops are imported before tensor-level helpers)
        xw, state, w_t = inputs[0], list(inputs[1:self.n_state + 1]), inputs[self.n_state + 1].T
        extra = inputs[self.n_state + 2:]
        T = xw.shape[0]
        outs: list = [None] * T
        steps = xw.unbind(0)
        mask = self.params.get("mask")
        for t in _order(T, self.params.get("reverse", False)):
            with scope(f"t={t + 1}"):
                new = self.step(steps[t], state, w_t, *extra)
                if mask is None:
                    state, outs[t] = new, new[0]
                else:
                    state = [where(mask[t], a, b) for a, b in zip(new, state)]
                    outs[t] = where(mask[t], new[0], 0.0)
        return (stack(outs, axis=0),) + tuple(state)


class LSTMSequence(_Sequence):
    """A whole LSTM layer direction: i, f, g, o = split(xw_t + h_{t-1} W_hhᵀ); c_t = σ(f) c_{t-1} + σ(i) tanh(g);
    h_t = σ(o) tanh(c_t). Inputs (xw, h0, c0, w_hh); outputs (out, h_T, c_T)."""
    n_state = 2

    @classmethod
    def op_name(cls) -> str:
        return "lstm_sequence"

    @staticmethod
    def step(xw: Any, state: list, w_t: Any) -> list:
        from ..nn.cells import lstm_step  # noqa: PLC0415  (nn builds on ops)
        return list(lstm_step(xw, state[0], state[1], w_t))

    def forward(self, xw, h0, c0, w_hh, reverse=False, mask=None):
        T, N, G = xw.shape
        H = G // 4
        w_t = w_hh.T
        acts = xp.empty_like(xw)                        # σ(i), σ(f), tanh(g), σ(o) per step
        hp = xp.empty((T, N, H), xw.dtype)              # state entering each step
        cp = xp.empty((T, N, H), xw.dtype)
        tc = xp.empty((T, N, H), xw.dtype)              # tanh(c_t)
        self.buffers = (acts, hp, cp, tc)
        out = xp.empty((T, N, H), xw.dtype)
        h, c = h0, c0
        for t in _order(T, reverse):
            hp[t], cp[t] = h, c
            z = acts[t]
            xp.matmul(h, w_t, out=z)
            z += xw[t]
            _sigmoid_(z[:, :2 * H])
            _sigmoid_(z[:, 3 * H:])
            xp.tanh(z[:, 2 * H:3 * H], out=z[:, 2 * H:3 * H])
            i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
            c_new = f * c
            c_new += i * g
            xp.tanh(c_new, out=tc[t])
            h_new = xp.multiply(o, tc[t], out=out[t])
            if mask is None:
                h, c = h_new, c_new
            else:
                m = mask[t]
                h, c = xp.where(m, h_new, h), xp.where(m, c_new, c)
                out[t] *= m
        return out, h, c

    def backward(self, gs, xw, h0, c0, w_hh):
        T, N, G = xw.shape
        H = G // 4
        g_out, dh, dc = self._grads(gs, T, N, H, xw.dtype)
        mask = self.params.get("mask")
        acts, hp, cp, tc = self.buffers
        dz_all = xp.empty_like(xw)
        for t in reversed(_order(T, self.params.get("reverse", False))):
            z = acts[t]
            i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
            dhn = dh if g_out is None else dh + g_out[t]
            dcn = dc
            if mask is not None:
                m = mask[t]
                dh_pass, dc_pass = xp.where(m, 0, dh), xp.where(m, 0, dc)
                dhn, dcn = dhn * m, dcn * m
            dz = dz_all[t]
            xp.multiply(dhn, tc[t], out=dz[:, 3 * H:])                 # ∂/∂σ(o)
            dct = dhn * o
            dct *= 1 - tc[t] * tc[t]
            dct += dcn                                                 # ∂/∂c_t
            xp.multiply(dct, g, out=dz[:, :H])                         # ∂/∂σ(i)
            xp.multiply(dct, cp[t], out=dz[:, H:2 * H])           # ∂/∂σ(f)
            xp.multiply(dct, i, out=dz[:, 2 * H:3 * H])                # ∂/∂tanh(g)
            dz[:, :2 * H] *= z[:, :2 * H] * (1 - z[:, :2 * H])         # through σ
            dz[:, 3 * H:] *= o * (1 - o)
            dz[:, 2 * H:3 * H] *= 1 - g * g                            # through tanh
            dc = dct * f
            dh = dz @ w_hh
            if mask is not None:
                dh += dh_pass
                dc += dc_pass
        need_x, need_h, need_c, need_w = self.needs_input_grad
        dw = dz_all.reshape(T * N, G).T @ hp.reshape(T * N, H) if need_w else None
        return dz_all if need_x else None, dh if need_h else None, dc if need_c else None, dw


class RNNSequence(_Sequence):
    """A whole Elman layer direction: h_t = act(xw_t + h_{t-1} W_hhᵀ), act = tanh or relu.
    Inputs (xw, h0, w_hh); outputs (out, h_T)."""
    n_state = 1

    @classmethod
    def op_name(cls) -> str:
        return "rnn_sequence"

    def step(self, xw: Any, state: list, w_t: Any) -> list:
        from ..nn.cells import activation, rnn_step  # noqa: PLC0415
        return [rnn_step(xw, state[0], w_t, activation(self.params["nonlinearity"], "RNN"))]

    def forward(self, xw, h0, w_hh, nonlinearity="tanh", reverse=False, mask=None):
        T, N, H = xw.shape
        w_t = w_hh.T
        hp = xp.empty((T, N, H), xw.dtype)
        hs = xp.empty((T, N, H), xw.dtype)              # activations (before masking)
        self.buffers = (hp, hs)
        h = h0
        for t in _order(T, reverse):
            hp[t] = h
            a = xp.matmul(h, w_t, out=hs[t])
            a += xw[t]
            if nonlinearity == "tanh":
                xp.tanh(a, out=a)
            else:
                xp.maximum(a, 0, out=a)
            h = a if mask is None else xp.where(mask[t], a, h)
        out = hs if mask is None else hs * mask
        return out, h

    def backward(self, gs, xw, h0, w_hh):
        T, N, H = xw.shape
        g_out, dh = self._grads(gs, T, N, H, xw.dtype)
        mask = self.params.get("mask")
        hp, hs = self.buffers
        da_all = xp.empty_like(xw)
        for t in reversed(_order(T, self.params.get("reverse", False))):
            dhn = dh if g_out is None else dh + g_out[t]
            if mask is not None:
                m = mask[t]
                dh_pass = xp.where(m, 0, dh)
                dhn = dhn * m
            da = da_all[t]
            if self.params["nonlinearity"] == "tanh":
                xp.multiply(dhn, 1 - hs[t] * hs[t], out=da)
            else:
                xp.multiply(dhn, hs[t] > 0, out=da)
            dh = da @ w_hh
            if mask is not None:
                dh += dh_pass
        need_x, need_h, need_w = self.needs_input_grad
        dw = da_all.reshape(T * N, H).T @ hp.reshape(T * N, H) if need_w else None
        return da_all if need_x else None, dh if need_h else None, dw


class GRUSequence(_Sequence):
    """A whole GRU layer direction (reset_after=True, PyTorch's form): with xw_t = x_t W_ihᵀ + b_ih and
    hh_t = h_{t-1} W_hhᵀ + b_hh split into r, z, n parts: r = σ(xr + hr), z = σ(xz + hz),
    n = tanh(xn + r hn), h_t = (1 - z) n + z h_{t-1}. Inputs (xw, h0, w_hh, b_hh); outputs (out, h_T)."""
    n_state = 1

    @classmethod
    def op_name(cls) -> str:
        return "gru_sequence"

    @staticmethod
    def step(xw: Any, state: list, w_t: Any, b_hh: Any) -> list:
        from ..nn.cells import gru_step  # noqa: PLC0415
        return [gru_step(xw, state[0], w_t, b_hh, True, None)]

    def forward(self, xw, h0, w_hh, b_hh, reverse=False, mask=None):
        T, N, G = xw.shape
        H = G // 3
        w_t = w_hh.T
        hp = xp.empty((T, N, H), xw.dtype)
        rz = xp.empty((T, N, 2 * H), xw.dtype)          # σ(r), σ(z)
        hn = xp.empty((T, N, H), xw.dtype)              # W_hn h + b_hn
        nn_ = xp.empty((T, N, H), xw.dtype)
        self.buffers = (hp, rz, hn, nn_)
        out = xp.empty((T, N, H), xw.dtype)
        hh = xp.empty((N, G), xw.dtype)
        h = h0
        for t in _order(T, reverse):
            hp[t] = h
            xp.matmul(h, w_t, out=hh)
            hh += b_hh
            a = xp.add(xw[t, :, :2 * H], hh[:, :2 * H], out=rz[t])
            _sigmoid_(a)
            r, z = a[:, :H], a[:, H:]
            hn[t] = hh[:, 2 * H:]
            n = xp.multiply(r, hn[t], out=nn_[t])
            n += xw[t, :, 2 * H:]
            xp.tanh(n, out=n)
            h_new = xp.subtract(h, n, out=out[t])
            h_new *= z
            h_new += n                                     # n + z (h - n)
            h = h_new if mask is None else xp.where(mask[t], h_new, h)
            if mask is not None:
                out[t] *= mask[t]
        return out, h

    def backward(self, gs, xw, h0, w_hh, b_hh):
        T, N, G = xw.shape
        H = G // 3
        g_out, dh = self._grads(gs, T, N, H, xw.dtype)
        mask = self.params.get("mask")
        hp_all, rz, hn, n_all = self.buffers
        dx_all = xp.empty_like(xw)    # ∂/∂(x W_ihᵀ + b_ih) per gate
        dhh_all = xp.empty_like(xw)   # ∂/∂(h W_hhᵀ + b_hh) per gate
        for t in reversed(_order(T, self.params.get("reverse", False))):
            r, z, n, hp = rz[t, :, :H], rz[t, :, H:], n_all[t], hp_all[t]
            dhn = dh if g_out is None else dh + g_out[t]
            if mask is not None:
                m = mask[t]
                dh_pass = xp.where(m, 0, dh)
                dhn = dhn * m
            dx, dhh = dx_all[t], dhh_all[t]
            dn = dhn * (1 - z)
            dn *= 1 - n * n                                            # ∂/∂(xn + r hn)
            dx[:, 2 * H:] = dn
            xp.multiply(dn, r, out=dhh[:, 2 * H:])                     # ∂/∂hn
            xp.multiply(dn, hn[t], out=dx[:, :H])                 # ∂/∂r
            dx[:, :H] *= r * (1 - r)
            xp.subtract(hp, n, out=dx[:, H:2 * H])                     # ∂/∂z = dh (h - n)
            dx[:, H:2 * H] *= dhn
            dx[:, H:2 * H] *= z * (1 - z)
            dhh[:, :2 * H] = dx[:, :2 * H]
            dh = dhh @ w_hh
            dh += dhn * z
            if mask is not None:
                dh += dh_pass
        need_x, need_h, need_w, need_b = self.needs_input_grad
        flat = dhh_all.reshape(T * N, G)
        dw = flat.T @ hp_all.reshape(T * N, H) if need_w else None
        db = flat.sum(axis=0) if need_b else None
        return dx_all if need_x else None, dh if need_h else None, dw, db
