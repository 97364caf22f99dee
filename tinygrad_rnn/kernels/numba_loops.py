r"""Compiled time loops (numba): each cell's whole forward and whole BPTT in one compiled function.

Same interface and same buffers as :mod:`.array_loops` (read its docstring first); what changes is
that a step is one BLAS call for the recurrent product plus **one fused pass** over the gates, instead
of ten or so NumPy calls that each stream the step's arrays through memory and back into Python. The
derivative factors (σ' = σ - σ², tanh' = 1 - tanh²) are formed inside that pass from the saved gate
values, so the backward needs no factor buffers at all.

Precision. float64 kernels call the exact ``tanh`` (libm), so they agree with the composed definition
to rounding error. float32 kernels call :func:`fast_tanh`, a rational approximation

.. math::

    \tanh x \approx x\,\frac{p_0 + p_1 s + p_2 s^2 + p_3 s^3 + p_4 s^4}
                          {1 + q_1 s + q_2 s^2 + q_3 s^3 + q_4 s^4},\quad s = x^2,
    \quad |x| \le 9,

fitted for this module by weighted least squares on [0, 9] and evaluated in float32; beyond ±9 tanh
is ±1 in float32 anyway. It vectorises (libm's scalar tanh does not) and its absolute error is at most
:data:`FAST_TANH_ERROR` over all float32 inputs (tested on a dense grid and at random). NaN stays NaN:
the clamp is written with comparisons that are false for NaN.

σ(a) = ½ + ½ tanh(a/2), with the ½ already folded into the weights by the caller, so every gate costs
one tanh. Compilation is cached on disk (numba's ``cache=True``: next to this file, or in
``NUMBA_CACHE_DIR``); the first call in a process loads or compiles it.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import llvmlite.binding
import numba
import numpy as np
from numba import types
from numba.extending import overload

from ..sigint import defer_sigint
from . import blas

_FOUND = blas.find()
if _FOUND is None:
    raise ImportError("NumPy's BLAS exports no ILP64 cblas ?gemm (see kernels/blas.py)")
BLAS = _FOUND[2]  # where each step's GEMM comes from (tg.info() reports it)
# Registered by name, so the compiled code refers to a symbol rather than an address and can be cached
for _name, _fn in (("tinygrad_rnn_sgemm", _FOUND[0]), ("tinygrad_rnn_dgemm", _FOUND[1])):
    llvmlite.binding.add_symbol(_name, ctypes.cast(_fn, ctypes.c_void_p).value)
_INT, _PTR = types.int64, types.voidptr
_SGEMM, _DGEMM = (
    types.ExternalFunction(
        name,
        types.void(
            types.intc, types.intc, types.intc, _INT, _INT, _INT, real, _PTR, _INT, _PTR, _INT, real, _PTR, _INT
        ),
    )
    for name, real in (("tinygrad_rnn_sgemm", types.float32), ("tinygrad_rnn_dgemm", types.float64))
)
_ROW_MAJOR, _NO_TRANS = np.int32(blas.ROW_MAJOR), np.int32(blas.NO_TRANS)

#: max |fast_tanh(x) - tanh(x)| over float32 x (the float32 kernels' activation error)
FAST_TANH_ERROR = 4e-7

_P = tuple(np.float32(c) for c in (9.99999906e-01, 1.33732042e-01, 3.48658928e-03, 2.04719405e-05, 1.31843558e-08))
_Q = tuple(np.float32(c) for c in (1.0, 4.67065011e-01, 2.58420081e-02, 3.27139696e-04, 7.70272177e-07))
_CLAMP, _ONE = np.float32(9.0), np.float32(1.0)
_P0, _P1, _P2, _P3, _P4 = _P
_Q0, _Q1, _Q2, _Q3, _Q4 = _Q

_jit = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp"})


def fast_tanh(x: float) -> float:
    """float32 tanh as the kernels compute it (see the module docstring); callable from Python too."""
    x = np.float32(x)
    x = _CLAMP if x > _CLAMP else (-_CLAMP if x < -_CLAMP else x)
    s = x * x
    p = (((_P4 * s + _P3) * s + _P2) * s + _P1) * s + _P0
    q = (((_Q4 * s + _Q3) * s + _Q2) * s + _Q1) * s + _Q0
    y = x * p / q
    return float(_ONE if y > _ONE else (-_ONE if y < -_ONE else y))


def gate_tanh(x: Any) -> Any:  # the activation the compiled loops use; resolved by dtype below
    raise NotImplementedError("gate_tanh runs only inside compiled kernels")


@overload(gate_tanh)
def _gate_tanh(x: Any) -> Any:
    if x == types.float32:

        def fast(x: Any) -> Any:
            x = _CLAMP if x > _CLAMP else x
            x = -_CLAMP if x < -_CLAMP else x
            s = x * x
            p = (((_P4 * s + _P3) * s + _P2) * s + _P1) * s + _P0
            q = (((_Q4 * s + _Q3) * s + _Q2) * s + _Q1) * s + _Q0
            y = x * p / q
            y = _ONE if y > _ONE else y
            return -_ONE if y < -_ONE else y

        return fast

    def exact(x: Any) -> Any:
        return math.tanh(x)

    return exact


def gemm(a: Any, b: Any, c: Any, beta: Any) -> None:  # c = a b + beta c, C-ordered; resolved below
    raise NotImplementedError("gemm runs only inside compiled kernels")


@overload(gemm)
def _gemm(a: Any, b: Any, c: Any, beta: Any) -> Any:
    call = _SGEMM if a.dtype == types.float32 else _DGEMM

    def impl(a: Any, b: Any, c: Any, beta: Any) -> None:
        M, K = a.shape
        n = b.shape[1]
        one = np.full(1, 1.0, a.dtype)[0]
        lda, ldb = max(K, 1), max(n, 1)
        call(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, M, n, K, one, a.ctypes, lda, b.ctypes, ldb, beta, c.ctypes, ldb)

    return impl


@_jit
def _const(value: float, like: Any) -> Any:
    return np.full(1, value, like.dtype)[0]  # a scalar of the arrays' dtype: float literals are float64


@_jit
def _tanh_array(a: Any) -> None:
    """In place, with the kernels' tanh (tests compare it with fast_tanh and the bound)."""
    flat = a.reshape(a.size)
    for k in range(flat.size):
        flat[k] = gate_tanh(flat[k])


@_jit
def _io(s: int, T: int, reverse: bool) -> tuple:
    """(t, state-in index, state-out index) of the s-th step taken."""
    if reverse:
        t = T - 1 - s
        return t, t + 1, t
    return s, s, s + 1


@_jit
def _lstm_forward(acts: Any, w_s: Any, hs: Any, cs: Any, tc: Any, mask: Any, reverse: bool, skip: bool) -> None:
    T, N, G = acts.shape
    H = G // 4
    half, one = _const(0.5, acts), _const(1.0, acts)
    scale = np.full(G, half)  # tanh(a) * scale + shift: σ on i, f, o (pre-scaled by ½), tanh on g
    shift = np.full(G, half)
    scale[2 * H : 3 * H] = one
    shift[2 * H : 3 * H] = 0
    for s in range(T):
        t, p, n = _io(s, T, reverse)
        a = acts[t]
        if not (skip and s == 0):
            gemm(hs[p], w_s, a, one)  # += h_{t-1} W_hhᵀ
        for b in range(N):
            # short loops over few arrays each, so that every one of them vectorises (one loop over
            # the whole row with scale and shift runs 3-4x faster than a loop per gate)
            gates = a[b]
            for j in range(G):
                gates[j] = gate_tanh(gates[j]) * scale[j] + shift[j]
            c_prev, c, tanh_c = cs[p, b], cs[n, b], tc[t, b]
            for j in range(H):
                c[j] = gates[H + j] * c_prev[j] + gates[j] * gates[2 * H + j]
                tanh_c[j] = gate_tanh(c[j])
            h = hs[n, b]
            for j in range(H):
                h[j] = gates[3 * H + j] * tanh_c[j]
            if mask is not None and not mask[t, b, 0]:  # a finished sequence keeps its state
                c[:] = c_prev
                h[:] = hs[p, b]


@_jit
def _state_grad(dh: Any, g_out: Any, t: int, out: Any, mask: Any) -> None:
    """out = δh_t: the gradient from the next step plus the output's (none on a finished step)."""
    N, H = dh.shape
    for b in range(N):
        if g_out is None or (mask is not None and not mask[t, b, 0]):
            out[b] = dh[b]
        else:
            row, g, o = dh[b], g_out[t, b], out[b]
            for j in range(H):
                o[j] = row[j] + g[j]


@_jit
def _carry_finished(back: Any, dh: Any, mask: Any, t: int) -> None:
    """Past a finished step δh goes on unchanged: added to what W_hh sent back (zero gates there)."""
    if mask is not None:
        for b in range(back.shape[0]):
            if not mask[t, b, 0]:
                back[b] += dh[b]


@_jit
def _lstm_backward(
    acts: Any, hs: Any, cs: Any, tc: Any, w: Any, g_out: Any, dh: Any, dc: Any, mask: Any, reverse: bool, full: bool
) -> tuple:
    T, N, G = acts.shape
    H = G // 4
    one, zero = _const(1.0, acts), _const(0.0, acts)
    dz = np.empty_like(acts)
    d = np.empty_like(dh)  # δh_t
    back = np.empty_like(dh)
    for s in range(T - 1, -1, -1):
        t, p, _ = _io(s, T, reverse)
        _state_grad(dh, g_out, t, d, mask)
        for b in range(N):
            dzb = dz[t, b]
            if mask is not None and not mask[t, b, 0]:  # no gradient to a finished step's gates; δc on
                dzb[:] = zero
                continue
            gates, tanh_c, c_prev, dcb, dhb = acts[t, b], tc[t, b], cs[p, b], dc[b], d[b]
            for j in range(H):
                o, th = gates[3 * H + j], tanh_c[j]
                dcb[j] += dhb[j] * o * (one - th * th)  # δc_t
                dzb[3 * H + j] = dhb[j] * th * (o - o * o)
            for j in range(H):
                i, f, g = gates[j], gates[H + j], gates[2 * H + j]
                dzb[j] = dcb[j] * g * (i - i * i)
                dzb[H + j] = dcb[j] * c_prev[j] * (f - f * f)
                dzb[2 * H + j] = dcb[j] * i * (one - g * g)
                dcb[j] *= f  # δc_{t-1}
        if s == 0 and not full:  # δh_0, δc_0 are not needed
            break
        gemm(dz[t], w, back, zero)  # δh_{t-1}
        _carry_finished(back, d, mask, t)
        dh, back = back, dh
    return dz, dh, dc


@_jit
def _rnn_forward(acts: Any, w_t: Any, hs: Any, mask: Any, reverse: bool, skip: bool, relu: bool) -> None:
    T, N, H = acts.shape
    zero, one = _const(0.0, acts), _const(1.0, acts)
    for s in range(T):
        t, p, n = _io(s, T, reverse)
        h = hs[n]
        h[:] = acts[t]
        if not (skip and s == 0):
            gemm(hs[p], w_t, h, one)
        for b in range(N):
            row = h[b]
            if mask is not None and not mask[t, b, 0]:
                row[:] = hs[p, b]
            elif relu:
                for j in range(H):
                    row[j] = row[j] if row[j] > zero else zero
            else:
                for j in range(H):
                    row[j] = gate_tanh(row[j])


@_jit
def _rnn_backward(hs: Any, w: Any, g_out: Any, dh: Any, mask: Any, reverse: bool, full: bool, relu: bool) -> tuple:
    T = hs.shape[0] - 1
    N, H = dh.shape
    one, zero = _const(1.0, hs), _const(0.0, hs)
    da = np.empty((T, N, H), hs.dtype)
    d = np.empty_like(dh)
    back = np.empty_like(dh)
    for s in range(T - 1, -1, -1):
        t, _, n = _io(s, T, reverse)
        _state_grad(dh, g_out, t, d, mask)
        for b in range(N):
            dab, h, dhb = da[t, b], hs[n, b], d[b]
            if mask is not None and not mask[t, b, 0]:
                dab[:] = zero
            elif relu:
                for j in range(H):
                    dab[j] = dhb[j] if h[j] > zero else zero
            else:
                for j in range(H):
                    dab[j] = dhb[j] * (one - h[j] * h[j])
        if s == 0 and not full:
            break
        gemm(da[t], w, back, zero)
        _carry_finished(back, d, mask, t)
        dh, back = back, dh
    return da, dh


@_jit
def _gru_forward(acts: Any, w_s: Any, b_hn: Any, hs: Any, hn: Any, mask: Any, reverse: bool, skip: bool) -> None:
    T, N, G = acts.shape
    H = G // 3
    half, zero = _const(0.5, acts), _const(0.0, acts)
    rec = np.zeros((N, G), acts.dtype)
    for s in range(T):
        t, p, n_ = _io(s, T, reverse)
        if not (skip and s == 0):
            gemm(hs[p], w_s, rec, zero)
        for b in range(N):
            gates, r_b, hn_b = acts[t, b], rec[b], hn[t, b]
            for j in range(2 * H):  # σ(r), σ(z)
                gates[j] = half + half * gate_tanh(gates[j] + r_b[j])
            for j in range(H):  # W_hn h_{t-1} + b_hn, and n = tanh(xn + r ⊙ that)
                hn_b[j] = r_b[2 * H + j] if b_hn is None else r_b[2 * H + j] + b_hn[j]
                gates[2 * H + j] = gate_tanh(gates[2 * H + j] + gates[j] * hn_b[j])
            h, h_prev = hs[n_, b], hs[p, b]
            if mask is not None and not mask[t, b, 0]:
                h[:] = h_prev
                continue
            for j in range(H):
                n = gates[2 * H + j]
                h[j] = n + gates[H + j] * (h_prev[j] - n)


@_jit
def _gru_backward(
    acts: Any, hs: Any, hn: Any, w: Any, g_out: Any, dh: Any, mask: Any, reverse: bool, full: bool
) -> tuple:
    T, N, G = acts.shape
    H = G // 3
    one, zero = _const(1.0, acts), _const(0.0, acts)
    back = np.empty_like(dh)
    d = np.empty_like(dh)  # δh_t, then z δh_t: what passes to h_{t-1} directly
    dz = np.empty_like(acts)  # ∂/∂(x W_ihᵀ + b_ih)
    dr = np.empty_like(acts)  # ∂/∂(h W_hhᵀ + b_hh)
    for s in range(T - 1, -1, -1):
        t, p, _ = _io(s, T, reverse)
        _state_grad(dh, g_out, t, d, mask)
        for b in range(N):
            dz_b, dr_b = dz[t, b], dr[t, b]
            if mask is not None and not mask[t, b, 0]:  # all of δh_t passes on
                dz_b[2 * H :] = zero
                dr_b[:] = zero
                continue
            gates, h_prev, hn_b, dh_b = acts[t, b], hs[p, b], hn[t, b], d[b]
            for j in range(H):
                r, z, n = gates[j], gates[H + j], gates[2 * H + j]
                dn = dh_b[j] * (one - z) * (one - n * n)  # δ(xn + r hn)
                dz_b[2 * H + j] = dn
                dr_b[H + j] = dh_b[j] * (h_prev[j] - n) * (z - z * z)  # δz (pre-activation)
                dr_b[j] = dn * hn_b[j] * (r - r * r)  # δr (pre-activation)
                dr_b[2 * H + j] = dn * r  # δhn
                dh_b[j] *= z
        if s == 0 and not full:
            break
        gemm(dr[t], w, back, zero)
        back += d
        dh, back = back, dh
    for t in range(T):  # r, z pre-activations get one gradient from both sides
        dz[t, :, : 2 * H] = dr[t, :, : 2 * H]
    return dz, dr, dh


def _sigint_held(kernel: Any) -> Any:
    """The interface function: ``kernel`` with a Ctrl-C held until it returns. Compiled code cannot stop
    midway anyway, and a SIGINT that arrives while numba loads or compiles the kernel would be raised
    inside llvmlite's callbacks from native code, printed and lost (tests/cli/test_interrupt_resume.py)."""

    def call(*args: Any) -> Any:
        with defer_sigint():
            return kernel(*args)

    call.__name__ = call.__qualname__ = kernel.__name__.lstrip("_")
    call.__doc__ = kernel.__doc__
    # the numba dispatcher itself (its cache stats and signatures), for the tests and the benchmark
    call.kernel = kernel  # type: ignore[attr-defined]
    return call


lstm_forward, lstm_backward = _sigint_held(_lstm_forward), _sigint_held(_lstm_backward)
rnn_forward, rnn_backward = _sigint_held(_rnn_forward), _sigint_held(_rnn_backward)
gru_forward, gru_backward = _sigint_held(_gru_forward), _sigint_held(_gru_backward)


def operand(a: Any) -> Any:
    """An array argument as the compiled loops take it: C-ordered and writable (or None). Read-only
    and strided arrays would each compile another specialisation; this copies only those."""
    return None if a is None else np.require(a, requirements=("C", "W"))
