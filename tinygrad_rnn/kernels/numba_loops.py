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
def lstm_forward(acts: Any, w_s: Any, hs: Any, cs: Any, tc: Any, mask: Any, reverse: bool, skip: bool) -> None:
    T, N, G = acts.shape
    H = G // 4
    half, one = _const(0.5, acts), _const(1.0, acts)
    for s in range(T):
        t, p, n = _io(s, T, reverse)
        a = acts[t]
        if not (skip and s == 0):
            gemm(hs[p], w_s, a, one)  # += h_{t-1} W_hhᵀ
        for b in range(N):
            for j in range(H):
                i = half + half * gate_tanh(a[b, j])
                f = half + half * gate_tanh(a[b, H + j])
                g = gate_tanh(a[b, 2 * H + j])
                o = half + half * gate_tanh(a[b, 3 * H + j])
                a[b, j], a[b, H + j], a[b, 2 * H + j], a[b, 3 * H + j] = i, f, g, o
                c = f * cs[p, b, j] + i * g
                th = gate_tanh(c)
                tc[t, b, j] = th
                if mask is not None and not mask[t, b, 0]:  # a finished sequence keeps its state
                    cs[n, b, j], hs[n, b, j] = cs[p, b, j], hs[p, b, j]
                else:
                    cs[n, b, j], hs[n, b, j] = c, o * th


@_jit
def lstm_backward(
    acts: Any, hs: Any, cs: Any, tc: Any, w: Any, g_out: Any, dh: Any, dc: Any, mask: Any, reverse: bool, full: bool
) -> tuple:
    T, N, G = acts.shape
    H = G // 4
    one, zero = _const(1.0, acts), _const(0.0, acts)
    dz = np.empty_like(acts)
    d = np.empty_like(dh)
    back = np.empty_like(dh)
    for s in range(T - 1, -1, -1):
        t, p, _ = _io(s, T, reverse)
        a, dzt = acts[t], dz[t]
        for b in range(N):
            live = mask is None or mask[t, b, 0]
            for j in range(H):
                dhv = dh[b, j] if g_out is None or not live else dh[b, j] + g_out[t, b, j]
                d[b, j] = dhv
                if not live:  # a finished step passes δh, δc on and no gradient to its gates
                    dzt[b, j] = dzt[b, H + j] = dzt[b, 2 * H + j] = dzt[b, 3 * H + j] = 0
                    continue
                i, f, g, o = a[b, j], a[b, H + j], a[b, 2 * H + j], a[b, 3 * H + j]
                th = tc[t, b, j]
                dcv = dc[b, j] + dhv * o * (one - th * th)  # δc_t
                dzt[b, j] = dcv * g * (i - i * i)
                dzt[b, H + j] = dcv * cs[p, b, j] * (f - f * f)
                dzt[b, 2 * H + j] = dcv * i * (one - g * g)
                dzt[b, 3 * H + j] = dhv * th * (o - o * o)
                dc[b, j] = dcv * f  # δc_{t-1}
        if s == 0 and not full:  # δh_0, δc_0 are not needed
            break
        gemm(dzt, w, back, zero)  # δh_{t-1}
        for b in range(N):
            if mask is not None and not mask[t, b, 0]:
                for j in range(H):
                    back[b, j] += d[b, j]
        dh, back = back, dh
    return dz, dh, dc


@_jit
def rnn_forward(acts: Any, w_t: Any, hs: Any, mask: Any, reverse: bool, skip: bool, relu: bool) -> None:
    T, N, H = acts.shape
    zero, one = _const(0.0, acts), _const(1.0, acts)
    for s in range(T):
        t, p, n = _io(s, T, reverse)
        h = hs[n]
        h[:] = acts[t]
        if not (skip and s == 0):
            gemm(hs[p], w_t, h, one)
        for b in range(N):
            live = mask is None or mask[t, b, 0]
            for j in range(H):
                v = h[b, j]
                v = ((v if v > zero else zero) if relu else gate_tanh(v)) if live else hs[p, b, j]
                h[b, j] = v


@_jit
def rnn_backward(hs: Any, w: Any, g_out: Any, dh: Any, mask: Any, reverse: bool, full: bool, relu: bool) -> tuple:
    T = hs.shape[0] - 1
    N, H = dh.shape
    one, zero = _const(1.0, hs), _const(0.0, hs)
    da = np.empty((T, N, H), hs.dtype)
    back = np.empty_like(dh)
    for s in range(T - 1, -1, -1):
        t, _, n = _io(s, T, reverse)
        for b in range(N):
            live = mask is None or mask[t, b, 0]
            for j in range(H):
                if not live:
                    da[t, b, j] = zero
                    continue
                h = hs[n, b, j]
                deriv = (one if h > zero else zero) if relu else one - h * h
                dhv = dh[b, j] if g_out is None else dh[b, j] + g_out[t, b, j]
                da[t, b, j] = dhv * deriv
        if s == 0 and not full:
            break
        gemm(da[t], w, back, zero)
        for b in range(N):
            if mask is not None and not mask[t, b, 0]:
                for j in range(H):
                    back[b, j] += dh[b, j]
        dh, back = back, dh
    return da, dh


@_jit
def gru_forward(acts: Any, w_s: Any, b_hn: Any, hs: Any, hn: Any, mask: Any, reverse: bool, skip: bool) -> None:
    T, N, G = acts.shape
    H = G // 3
    half, zero = _const(0.5, acts), _const(0.0, acts)
    rec = np.zeros((N, G), acts.dtype)
    for s in range(T):
        t, p, n_ = _io(s, T, reverse)
        a = acts[t]
        if not (skip and s == 0):
            gemm(hs[p], w_s, rec, zero)
        for b in range(N):
            live = mask is None or mask[t, b, 0]
            for j in range(H):
                r = half + half * gate_tanh(a[b, j] + rec[b, j])
                z = half + half * gate_tanh(a[b, H + j] + rec[b, H + j])
                hnv = rec[b, 2 * H + j] + (zero if b_hn is None else b_hn[j])
                n = gate_tanh(a[b, 2 * H + j] + r * hnv)
                a[b, j], a[b, H + j], a[b, 2 * H + j] = r, z, n
                hn[t, b, j] = hnv
                hp = hs[p, b, j]
                hs[n_, b, j] = n + z * (hp - n) if live else hp


@_jit
def gru_backward(
    acts: Any, hs: Any, hn: Any, w: Any, g_out: Any, dh: Any, mask: Any, reverse: bool, full: bool
) -> tuple:
    T, N, G = acts.shape
    H = G // 3
    one, zero = _const(1.0, acts), _const(0.0, acts)
    back = np.empty_like(dh)
    dz = np.empty_like(acts)  # ∂/∂(x W_ihᵀ + b_ih)
    dr = np.empty_like(acts)  # ∂/∂(h W_hhᵀ + b_hh)
    carry = np.empty_like(dh)  # z δh_t (all of δh_t on a finished step): what passes to h_{t-1} directly
    for s in range(T - 1, -1, -1):
        t, p, _ = _io(s, T, reverse)
        a = acts[t]
        for b in range(N):
            live = mask is None or mask[t, b, 0]
            for j in range(H):
                dhv = dh[b, j] if g_out is None or not live else dh[b, j] + g_out[t, b, j]
                if not live:
                    dr[t, b, j] = dr[t, b, H + j] = dr[t, b, 2 * H + j] = dz[t, b, 2 * H + j] = 0
                    carry[b, j] = dhv
                    continue
                r, z, n = a[b, j], a[b, H + j], a[b, 2 * H + j]
                dn = dhv * (one - z) * (one - n * n)  # δ(xn + r hn)
                dz[t, b, 2 * H + j] = dn
                dr[t, b, H + j] = dhv * (hs[p, b, j] - n) * (z - z * z)  # δz (pre-activation)
                dr[t, b, j] = dn * hn[t, b, j] * (r - r * r)  # δr (pre-activation)
                dr[t, b, 2 * H + j] = dn * r  # δhn
                carry[b, j] = dhv * z
        if s == 0 and not full:
            break
        gemm(dr[t], w, back, zero)
        back += carry
        dh, back = back, dh
    for t in range(T):  # r, z pre-activations get one gradient from both sides
        dz[t, :, : 2 * H] = dr[t, :, : 2 * H]
    return dz, dr, dh


def operand(a: Any) -> Any:
    """An array argument as the compiled loops take it: C-ordered and writable (or None). Read-only
    and strided arrays would each compile another specialisation; this copies only those."""
    return None if a is None else np.require(a, requirements=("C", "W"))
