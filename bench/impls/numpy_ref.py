"""Hand-written NumPy BPTT: the reference every implementation is checked against, and the baseline.

It is written to be the fastest plain NumPy we know how to write, so that "× NumPy" measures what a
framework costs over the arithmetic itself:

* everything that does not depend on the recurrence is done for all T steps at once: the input
  projection ``x W_ihᵀ`` is ONE (T*B, I) @ (I, G*H) matmul, the weight gradients ``dW_ih``, ``dW_hh``
  and the input gradient ``dx`` are one matmul each over all steps, and the activation derivatives the
  backward needs are precomputed in a few whole-sequence array ops after the forward;
* each step's recurrent product for all gates is one (B, H) @ (H, G*H) matmul (gates concatenated);
* all buffers are allocated once in ``__init__`` and every op writes into them (``out=``), so a step
  allocates almost nothing;
* σ(z) = ½ tanh(z/2) + ½ (stable, one transcendental), and the ½ inside is folded into the sigmoid
  gates' weight columns (multiplying by ½ is exact in binary floating point), so one ``tanh`` call
  covers all four LSTM gates.

Speed is bought with memory: besides the activations it keeps the derivative factors P (T, B, G*H) and
the gate gradients (T, B, G*H) for the whole sequence (about 3·T·B·G·H + 6·T·B·H floats for an LSTM).

Notation: time-major x_t (B, I), states h_t, c_t (B, H), h_0 = c_0 = 0; W_ih (G*H, I), W_hh (G*H, H),
b = b_ih + b_hh; loss L = 1/(T B H) Σ_t Σ h_t², so the direct gradient is ∂L/∂h_t = 2 h_t / (T B H).
Below, ⊙ is elementwise, δX = ∂L/∂X, and a_t denotes the pre-activations (the GEMM outputs).

LSTM (gates i, f, g, o)::

    a_t = x_t W_ihᵀ + h_{t-1} W_hhᵀ + b = [a_i a_f a_g a_o]
    i, f, o = σ(a_i), σ(a_f), σ(a_o);  g = tanh(a_g)
    c_t = f ⊙ c_{t-1} + i ⊙ g;  h_t = o ⊙ tanh(c_t)

    backward, t = T..1, with δh_t = 2h_t/(TBH) + δa_{t+1} W_hh and δc_t = δc from step t+1 (0 at T):
    δc_t += δh_t ⊙ o ⊙ (1 - tanh²c_t)
    δa_o = δh_t ⊙ tanh c_t ⊙ o(1-o)        δa_i = δc_t ⊙ g ⊙ i(1-i)
    δa_f = δc_t ⊙ c_{t-1} ⊙ f(1-f)         δa_g = δc_t ⊙ i ⊙ (1-g²)
    δc_{t-1} = δc_t ⊙ f;                   δh_{t-1} (recurrent part) = δa_t W_hh

GRU (gates r, z, n; PyTorch's reset-after form)::

    [x_r x_z x_n] = x_t W_ihᵀ + b_ih;   [h_r h_z h_n] = h_{t-1} W_hhᵀ + b_hh
    r = σ(x_r + h_r);  z = σ(x_z + h_z);  n = tanh(x_n + r ⊙ h_n)
    h_t = (1-z) ⊙ n + z ⊙ h_{t-1}

    backward with δh_t = 2h_t/(TBH) + (recurrent part from t+1):
    δa_n = δh_t ⊙ (1-z) ⊙ (1-n²)           (gradient of x_n, the n-part of the input projection)
    δa_z = δh_t ⊙ (h_{t-1} - n) ⊙ z(1-z)
    δa_r = δa_n ⊙ h_n ⊙ r(1-r);            δh_n = δa_n ⊙ r
    δ(input projection)_t = [δa_r δa_z δa_n];  δ(recurrent projection)_t = [δa_r δa_z δh_n]
    δh_{t-1} = δh_t ⊙ z + δ(recurrent projection)_t W_hh

Elman RNN (tanh)::

    h_t = tanh(x_t W_ihᵀ + h_{t-1} W_hhᵀ + b);   δa_t = δh_t ⊙ (1-h_t²);   δh_{t-1} += δa_t W_hh

Weight and input gradients, with δP (T*B, G*H) the stacked input-projection gradients, δR the stacked
recurrent-projection gradients (δR = δP for LSTM and RNN), X = x as (T*B, I), H_prev = [h_0 .. h_{T-1}]
as (T*B, H)::

    δW_ih = δPᵀ X;  δW_hh = δRᵀ H_prev;  δb_ih = Σ_rows δP;  δb_hh = Σ_rows δR;  δx = δP W_ih
"""

from __future__ import annotations

import numpy as np

from .common import CELLS, Config

NAME = "numpy_ref"
LABEL = "NumPy hand-written BPTT"


def available() -> tuple[bool, str]:
    return True, f"numpy {np.__version__}"


class NumpyBPTT:
    """One-layer LSTM / GRU / tanh-RNN with a manual backward through time over preallocated buffers.

    ``weights`` are PyTorch-layout arrays (``weight_ih_l0`` ...), ``x`` is time-major ``(T, B, I)``.
    ``step()`` runs forward + loss + backward; ``result()`` returns the loss and the gradients.
    """

    def __init__(
        self, cell: str, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32
    ) -> None:
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}")
        dt = np.dtype(dtype)
        self.cell, self.dtype = cell, dt
        self.W_ih = np.ascontiguousarray(weights["weight_ih_l0"], dtype=dt)
        self.W_hh = np.ascontiguousarray(weights["weight_hh_l0"], dtype=dt)
        self.b_ih = np.ascontiguousarray(weights["bias_ih_l0"], dtype=dt)
        self.b_hh = np.ascontiguousarray(weights["bias_hh_l0"], dtype=dt)
        self.x = np.ascontiguousarray(x, dtype=dt)
        T, B, I = self.x.shape
        GH, H = self.W_hh.shape
        self.T, self.B, self.I, self.H, self.GH = T, B, I, H, GH
        e = lambda *shape: np.empty(shape, dtype=dt)  # noqa: E731
        # forward state: A holds the gate pre-activations, overwritten in place by the activations
        self.A = e(T, B, GH)
        self.Hs = np.zeros((T + 1, B, H), dtype=dt)  # Hs[0] = h_0 = 0, Hs[t] = h_t
        self.rec = e(B, GH)  # one step's recurrent product
        self.tmp, self.tmp2 = e(B, H), e(B, H)
        # backward: dP = gradient of the input projection (T, B, G*H); P = precomputed derivative factors
        self.dP = e(T, B, GH)
        self.P = e(T, B, GH)
        self.dHout = e(T, B, H)  # 2 h_t / (TBH), then accumulates δh_t in place
        self.dh_rec = e(B, H)  # recurrent part of δh_{t-1}
        self.dW_ih, self.dW_hh = e(GH, I), e(GH, H)
        self.db_ih, self.db_hh = e(GH), e(GH)
        self.dx = e(T, B, I)
        if cell == "lstm":
            self.Cs = np.zeros((T + 1, B, H), dtype=dt)  # Cs[0] = c_0 = 0
            self.tC = e(T, B, H)  # tanh(c_t)
            self.Q = e(T, B, H)  # o ⊙ (1 - tanh² c_t)
            self.dc = e(B, H)
            # column scales: ½ on the sigmoid gates (i, f, o), 1 on g; then σ = ½·tanh(·) + ½ there
            s = np.full(GH, 0.5, dtype=dt)
            s[2 * H : 3 * H] = 1.0
            self.gate_scale, self.gate_shift = s, np.where(s == 0.5, 0.5, 0.0).astype(dt)
        elif cell == "gru":
            self.Hn = e(T, B, H)  # h_n = (h_{t-1} W_hnᵀ + b_hn), needed for δa_r
            self.dR = e(T, B, GH)  # gradient of the recurrent projection
            s = np.full(GH, 0.5, dtype=dt)
            s[2 * H :] = 1.0  # r, z are sigmoids; n is not scaled (r multiplies h_n)
            self.gate_scale = s
        self.loss = 0.0

    # ---- one training step ------------------------------------------------------------------------
    def step(self) -> None:
        """Forward over all T steps, the loss, and the backward through time (fills the gradients)."""
        T, B, I, H, GH = self.T, self.B, self.I, self.H, self.GH
        x2 = self.x.reshape(T * B, I)
        A2 = self.A.reshape(T * B, GH)
        if self.cell == "lstm":
            self._lstm_forward(x2, A2)
        elif self.cell == "gru":
            self._gru_forward(x2, A2)
        else:
            self._rnn_forward(x2, A2)
        hs = self.Hs[1:].reshape(-1)
        scale = 1.0 / (T * B * H)
        self.loss = float(np.dot(hs, hs)) * scale
        np.multiply(self.Hs[1:], self.dtype.type(2.0 * scale), out=self.dHout)
        if self.cell == "lstm":
            self._lstm_backward()
        elif self.cell == "gru":
            self._gru_backward()
        else:
            self._rnn_backward()
        # weight, bias and input gradients of all steps: one matmul each
        dP2 = self.dP.reshape(T * B, GH)
        dR2 = self.dR.reshape(T * B, GH) if self.cell == "gru" else dP2
        Hprev2 = self.Hs[:T].reshape(T * B, H)
        np.matmul(dP2.T, x2, out=self.dW_ih)
        np.matmul(dR2.T, Hprev2, out=self.dW_hh)
        np.sum(dP2, axis=0, out=self.db_ih)
        np.sum(dR2, axis=0, out=self.db_hh)
        np.matmul(dP2, self.W_ih, out=self.dx.reshape(T * B, I))

    def result(self) -> tuple[float, dict[str, np.ndarray]]:
        return self.loss, {
            "weight_ih_l0": self.dW_ih,
            "weight_hh_l0": self.dW_hh,
            "bias_ih_l0": self.db_ih,
            "bias_hh_l0": self.db_hh,
            "x": self.dx,
        }

    # ---- LSTM ------------------------------------------------------------------------------------------
    def _lstm_forward(self, x2: np.ndarray, A2: np.ndarray) -> None:
        H, s, shift = self.H, self.gate_scale, self.gate_shift
        A, Hs, Cs, tC, rec, tmp = self.A, self.Hs, self.Cs, self.tC, self.rec, self.tmp
        # fold the ½ of σ(z) = ½tanh(z/2)+½ into the weights: (x W_ihᵀ) ⊙ s = x (W_ihᵀ ⊙ s), exact
        W_ihT_s = self.W_ih.T * s
        W_hhT_s = self.W_hh.T * s
        np.matmul(x2, W_ihT_s, out=A2)
        A2 += (self.b_ih + self.b_hh) * s
        for t in range(self.T):
            a = A[t]
            np.matmul(Hs[t], W_hhT_s, out=rec)
            a += rec
            np.tanh(a, out=a)  # tanh(a_g) and tanh(a_{i,f,o}/2) in one call
            a *= s  # ... then ½·(·) + ½ on the sigmoid gates
            a += shift
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            c = Cs[t + 1]
            np.multiply(f, Cs[t], out=c)
            np.multiply(i, g, out=tmp)
            c += tmp
            np.tanh(c, out=tC[t])
            np.multiply(o, tC[t], out=Hs[t + 1])

    def _lstm_backward(self) -> None:
        H = self.H
        A, P, Q, tC, Cs = self.A, self.P, self.Q, self.tC, self.Cs
        i, f, g, o = A[..., :H], A[..., H : 2 * H], A[..., 2 * H : 3 * H], A[..., 3 * H :]
        Pi, Pf, Pg, Po = P[..., :H], P[..., H : 2 * H], P[..., 2 * H : 3 * H], P[..., 3 * H :]
        # Whole-sequence derivative factors (they do not depend on the recurrence), so the loop below
        # does only the few ops that do:  P = [g·i(1-i), c_{t-1}·f(1-f), i·(1-g²), tanh c·o(1-o)],
        # Q = o·(1 - tanh² c).  dP is free until the loop, so it serves as scratch here.
        S = self.dP[..., :H]
        np.multiply(i, i, out=S)
        np.subtract(i, S, out=S)
        np.multiply(S, g, out=Pi)  # noqa: E702
        np.multiply(f, f, out=S)
        np.subtract(f, S, out=S)
        np.multiply(S, Cs[:-1], out=Pf)  # noqa: E702
        np.multiply(g, g, out=S)
        np.subtract(1.0, S, out=S)
        np.multiply(S, i, out=Pg)  # noqa: E702
        np.multiply(o, o, out=S)
        np.subtract(o, S, out=S)
        np.multiply(S, tC, out=Po)  # noqa: E702
        np.multiply(tC, tC, out=Q)
        np.subtract(1.0, Q, out=Q)
        Q *= o  # noqa: E702
        dHout, dP, dc, dh_rec, tmp = self.dHout, self.dP, self.dc, self.dh_rec, self.tmp
        B = self.B
        dc.fill(0.0)
        for t in range(self.T - 1, -1, -1):
            dh = dHout[t]  # δh_t = direct part (+ recurrent part below)
            if t < self.T - 1:
                dh += dh_rec
            np.multiply(dh, Q[t], out=tmp)
            dc += tmp  # δc_t
            d4 = dP[t].reshape(B, 4, H)
            # δa_i, δa_f, δa_g = δc_t ⊙ P[t] (one broadcast op for three gates); δa_o = δh_t ⊙ P_o
            np.multiply(dc[:, None, :], P[t].reshape(B, 4, H)[:, :3], out=d4[:, :3])
            np.multiply(dh, Po[t], out=d4[:, 3])
            dc *= f[t]  # δc_{t-1}
            np.matmul(dP[t], self.W_hh, out=dh_rec)  # recurrent part of δh_{t-1}

    # ---- GRU -------------------------------------------------------------------------------------------
    def _gru_forward(self, x2: np.ndarray, A2: np.ndarray) -> None:
        H, s = self.H, self.gate_scale
        A, Hs, Hn, rec, tmp = self.A, self.Hs, self.Hn, self.rec, self.tmp
        W_ihT_s = self.W_ih.T * s
        W_hhT_s = self.W_hh.T * s
        # b_hr, b_hz go into the input projection; b_hn stays in the step since r multiplies it
        b = self.b_ih.copy()
        b[: 2 * H] += self.b_hh[: 2 * H]
        np.matmul(x2, W_ihT_s, out=A2)
        A2 += b * s
        b_hn = self.b_hh[2 * H :]
        for t in range(self.T):
            a = A[t]
            np.matmul(Hs[t], W_hhT_s, out=rec)
            rz = a[:, : 2 * H]
            rz += rec[:, : 2 * H]
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5  # r, z = σ(·)
            r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
            np.add(rec[:, 2 * H :], b_hn, out=Hn[t])  # h_n
            np.multiply(r, Hn[t], out=tmp)
            n += tmp
            np.tanh(n, out=n)  # n = tanh(x_n + r ⊙ h_n)
            np.subtract(Hs[t], n, out=tmp)
            tmp *= z
            np.add(n, tmp, out=Hs[t + 1])  # h_t = n + z ⊙ (h_{t-1} - n)

    def _gru_backward(self) -> None:
        H = self.H
        A, P, Hn, Hs = self.A, self.P, self.Hn, self.Hs
        r, z, n = A[..., :H], A[..., H : 2 * H], A[..., 2 * H :]
        Pr, Pz, Pn = P[..., :H], P[..., H : 2 * H], P[..., 2 * H :]
        # P = [h_n·r(1-r), (h_{t-1} - n)·z(1-z), (1-z)(1-n²)] for all steps at once (dP as scratch)
        S = self.dP[..., :H]
        np.multiply(r, r, out=S)
        np.subtract(r, S, out=S)
        np.multiply(S, Hn, out=Pr)  # noqa: E702
        np.multiply(z, z, out=S)
        np.subtract(z, S, out=S)
        np.subtract(Hs[:-1], n, out=Pz)
        Pz *= S  # noqa: E702
        np.multiply(n, n, out=S)
        np.subtract(1.0, S, out=S)
        np.subtract(1.0, z, out=Pn)
        Pn *= S  # noqa: E702
        dHout, dP, dR, dh_rec, tmp = self.dHout, self.dP, self.dR, self.dh_rec, self.tmp
        for t in range(self.T - 1, -1, -1):
            dh = dHout[t]
            if t < self.T - 1:
                dh += dh_rec
            dp, dr = dP[t], dR[t]
            np.multiply(dh, Pn[t], out=dp[:, 2 * H :])  # δa_n
            np.multiply(dh, Pz[t], out=dr[:, H : 2 * H])  # δa_z
            np.multiply(dp[:, 2 * H :], Pr[t], out=dr[:, :H])  # δa_r
            np.multiply(dp[:, 2 * H :], r[t], out=dr[:, 2 * H :])  # δh_n
            np.matmul(dr, self.W_hh, out=dh_rec)
            np.multiply(dh, z[t], out=tmp)
            dh_rec += tmp  # δh_{t-1} recurrent part
        dP[..., : 2 * H] = dR[..., : 2 * H]  # r, z gradients are shared

    # ---- Elman RNN (tanh) ------------------------------------------------------------------------------
    def _rnn_forward(self, x2: np.ndarray, A2: np.ndarray) -> None:
        Hs, rec = self.Hs, self.rec
        W_hhT = self.W_hh.T
        np.matmul(x2, self.W_ih.T, out=A2)
        A2 += self.b_ih + self.b_hh
        for t in range(self.T):
            np.matmul(Hs[t], W_hhT, out=rec)
            np.add(self.A[t], rec, out=Hs[t + 1])
            np.tanh(Hs[t + 1], out=Hs[t + 1])

    def _rnn_backward(self) -> None:
        P, Hs = self.P, self.Hs
        np.multiply(Hs[1:], Hs[1:], out=P)
        np.subtract(1.0, P, out=P)  # 1 - h_t²
        dHout, dP, dh_rec = self.dHout, self.dP, self.dh_rec
        for t in range(self.T - 1, -1, -1):
            dh = dHout[t]
            if t < self.T - 1:
                dh += dh_rec
            np.multiply(dh, P[t], out=dP[t])
            np.matmul(dP[t], self.W_hh, out=dh_rec)


def build(cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32) -> NumpyBPTT:
    return NumpyBPTT(cfg.cell, weights, x, dtype)
