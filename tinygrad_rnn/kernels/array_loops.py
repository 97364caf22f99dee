"""Time loops written with array calls: NumPy on the CPU, CuPy on a GPU (the same code, through ``xp``).

The reference kernels, and the fallback wherever compiled kernels are not installed. The interface,
shared with :mod:`.numba_loops`:

* ``*_forward`` runs the recursion in place over buffers the caller allocated: ``acts (T, N, G)`` holds
  the input projection x W_ihᵀ + biases (sigmoid columns pre-scaled by ½, see :mod:`.gates`) and leaves
  holding the activated gates; ``hs`` (and ``cs``) ``(T+1, N, H)`` hold the initial state at index 0
  (T in reverse) and leave holding every state. ``skip``: the initial state is zero, so step one's
  recurrent product is skipped.
* ``*_backward`` walks the steps in reverse from the output gradient ``g_out (T, N, H)`` (or None)
  and the final-state gradients, and returns the pre-activation gradients of every step plus the
  initial-state gradients (only meaningful with ``full``; without it the last product is skipped).
* ``mask (T, N, 1)`` (or None) is False once a sequence has ended: such a step keeps the state,
  passes the state gradient on unchanged and gives its gates no gradient.

The state entering step t is ``hs[t]`` forwards and ``hs[t+1]`` in reverse (buffers in time order).
Each step here is one matmul into a preallocated output plus a few in-place elementwise calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import backend
from ..backend import xp
from .gates import lstm_scale

CHUNK_BYTES = 1 << 20  # size of a chunk of LSTM backward derivative factors (see _chunk_steps)


def _order(T: int, reverse: bool) -> tuple:
    """The steps in the order the forward takes them, and (state-in, state-out) of step t."""
    steps = range(T - 1, -1, -1) if reverse else range(T)
    io = (lambda t: (t + 1, t)) if reverse else (lambda t: (t, t + 1))
    return steps, io


def _chunk_steps(T: int, step_bytes: int) -> int:
    """How many time steps of LSTM derivative factors to compute at once: about CHUNK_BYTES, so they
    are still in cache when the loop reads them. All T on a GPU (fewer kernel launches)."""
    if backend.name != "numpy":
        return T
    return max(1, min(T, CHUNK_BYTES // max(step_bytes, 1)))


def _bptt(steps: range, full: bool, g_out: Any, dh_next: Any, w: Any, step: Callable) -> Any:
    """The loop every cell's backward shares. At step t (last first): δh_t = δh_next + g_out[t];
    ``step(t, δh_t, δh_next)`` writes the step's pre-activation gradients and returns ``(fed, carry)``;
    then δh_{t-1} = fed W + carry (carry: what reaches h_{t-1} directly, or None). Returns δh_0."""
    N, H = dh_next.shape
    dh = xp.empty((N, H), dh_next.dtype)
    free = xp.empty((N, H), dh_next.dtype)  # where δh_{t-1} is written: never δh_t, which the step may read
    stop = None if full else steps[0]  # the initial state needs no gradient: skip the last product
    for t in reversed(steps):
        # a step may scale δh_t in place: it is dh, or δh_next itself, which is not read after the step
        dh_t = dh_next if g_out is None else xp.add(g_out[t], dh_next, out=dh)
        fed, carry = step(t, dh_t, dh_next)
        if t == stop:
            break
        new = xp.dot(fed, w, out=free)
        if carry is not None:
            new += carry
        dh_next, free = new, dh_next
    return dh_next


def _masked(g_out: Any, mask: Any) -> Any:
    return g_out if g_out is None or mask is None else g_out * mask  # finished steps have no output


def _passed_on(dh_next: Any, mask: Any, t: int) -> Any:
    return None if mask is None else dh_next * ~mask[t]  # past a finished step unchanged


def lstm_forward(acts: Any, w_s: Any, hs: Any, cs: Any, tc: Any, mask: Any, reverse: bool, skip: bool) -> None:
    T, N, G = acts.shape
    H = G // 4
    scale, shift = lstm_scale(H, acts.dtype)
    steps, io = _order(T, reverse)
    tmp = xp.empty((N, H), acts.dtype)
    rec = xp.empty((N, G), acts.dtype)
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


def _lstm_factors(dgate: Any, dcell: Any, i: Any, f: Any, g: Any, o: Any, c_prev: Any, tc: Any) -> None:
    """Derivative factors of some steps, written into ``dgate`` (k, N, 4, H) and ``dcell`` (k, N, H):
    dgate = [g σ'(i), c_{t-1} σ'(f), i tanh'(g), tanh(c_t) σ'(o)], dcell = σ(o) tanh'(c_t), σ' = σ - σ²."""
    for gate, (act, other, is_tanh) in enumerate(((i, g, False), (f, c_prev, False), (g, i, True), (o, tc, False))):
        d = dgate[:, :, gate]
        xp.multiply(act, act, out=d)
        xp.subtract(1 if is_tanh else act, d, out=d)
        d *= other
    xp.multiply(tc, tc, out=dcell)
    xp.subtract(1, dcell, out=dcell)
    dcell *= o


def lstm_backward(
    acts: Any, hs: Any, cs: Any, tc: Any, w: Any, g_out: Any, dh: Any, dc: Any, mask: Any, reverse: bool, full: bool
) -> tuple:
    T, N, G = acts.shape
    H = G // 4
    steps, _ = _order(T, reverse)
    c_prev = cs[1:] if reverse else cs[:-1]
    i, f, g, o = acts[..., :H], acts[..., H : 2 * H], acts[..., 2 * H : 3 * H], acts[..., 3 * H :]
    # The factors do not depend on the recursion, so they are computed for K steps at once, just
    # before the loop reaches them (K*N*4H floats of about 1 MB stay in cache)
    K = _chunk_steps(T, N * G * acts.dtype.itemsize)
    dgate = xp.empty((K, N, 4, H), acts.dtype)
    dcell = xp.empty((K, N, H), acts.dtype)
    forget = f if mask is None else xp.where(mask, f, 1)  # a finished step hands δc on unchanged
    dz = xp.empty_like(acts)
    dz4 = dz.reshape(T, N, 4, H)
    tmp = xp.empty((N, H), acts.dtype)
    chunk = [-1, -1]  # the time indices [lo, hi) whose factors dgate, dcell hold

    def step(t: int, dh_t: Any, dh_next: Any) -> tuple:
        lo, hi = chunk
        if not lo <= t < hi:
            lo = (t // K) * K
            hi = chunk[1] = min(lo + K, T)
            chunk[0] = lo
            c = slice(lo, hi)
            _lstm_factors(dgate[: hi - lo], dcell[: hi - lo], i[c], f[c], g[c], o[c], c_prev[c], tc[c])
            if mask is not None:  # finished steps pass no gradient to their gates
                dgate[: hi - lo] *= mask[c, :, :, None]
                dcell[: hi - lo] *= mask[c]
        j = t - lo
        xp.multiply(dh_t, dcell[j], out=tmp)
        dc_t = dc
        dc_t += tmp  # δc_t
        xp.multiply(dc_t[:, None, :], dgate[j, :, :3], out=dz4[t, :, :3])
        xp.multiply(dh_t, dgate[j, :, 3], out=dz4[t, :, 3])
        if full or t != steps[0]:
            dc_t *= forget[t]  # δc_{t-1}
        return dz[t], _passed_on(dh_next, mask, t)

    dh0 = _bptt(steps, full, _masked(g_out, mask), dh, w, step)
    return dz, dh0, dc


def rnn_forward(acts: Any, w_t: Any, hs: Any, mask: Any, reverse: bool, skip: bool, relu: bool) -> None:
    T = acts.shape[0]
    steps, io = _order(T, reverse)
    for t in steps:
        p, n = io(t)
        if skip:
            a = hs[n]
            a[...] = acts[t]
            skip = False
        else:
            a = xp.dot(hs[p], w_t, out=hs[n])
            a += acts[t]
        if relu:
            xp.maximum(a, 0, out=a)
        else:
            xp.tanh(a, out=a)
        if mask is not None:
            xp.copyto(a, hs[p], where=~mask[t])


def rnn_backward(hs: Any, w: Any, g_out: Any, dh: Any, mask: Any, reverse: bool, full: bool, relu: bool) -> tuple:
    T = hs.shape[0] - 1
    steps, _ = _order(T, reverse)
    h = hs[:-1] if reverse else hs[1:]
    # act'(a_t) for all steps at once: 1 - h² for tanh, [h > 0] for relu (0 on finished steps)
    if relu:
        deriv = (h > 0).astype(hs.dtype)
    else:
        deriv = xp.multiply(h, h)
        xp.subtract(1, deriv, out=deriv)
    if mask is not None:
        deriv *= mask
    da = xp.empty(h.shape, hs.dtype)

    def step(t: int, dh_t: Any, dh_next: Any) -> tuple:
        xp.multiply(dh_t, deriv[t], out=da[t])
        return da[t], _passed_on(dh_next, mask, t)

    dh0 = _bptt(steps, full, _masked(g_out, mask), dh, w, step)
    return da, dh0


def gru_forward(acts: Any, w_s: Any, b_hn: Any, hs: Any, hn: Any, mask: Any, reverse: bool, skip: bool) -> None:
    T, N, G = acts.shape
    H = G // 3
    steps, io = _order(T, reverse)
    rec = xp.empty((N, G), acts.dtype)
    tmp = xp.empty((N, H), acts.dtype)
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


def gru_backward(
    acts: Any, hs: Any, hn: Any, w: Any, g_out: Any, dh: Any, mask: Any, reverse: bool, full: bool
) -> tuple:
    T, N, G = acts.shape
    H = G // 3
    steps, _ = _order(T, reverse)
    prev = hs[1:] if reverse else hs[:-1]
    r, z, n = acts[..., :H], acts[..., H : 2 * H], acts[..., 2 * H :]
    # factors of all steps at once: σ'(r) hn, σ'(z) (h_{t-1} - n), (1 - z) tanh'(n)
    d_r = r - r * r
    d_r *= hn
    d_z = prev - n
    d_z *= z - z * z
    d_n = 1 - z
    d_n *= 1 - n * n
    keep = z
    if mask is not None:
        d_z *= mask
        d_n *= mask
        keep = xp.where(mask, z, 1)  # a finished step hands δh on unchanged
    dz = xp.empty((T, N, G), acts.dtype)  # ∂/∂(x W_ihᵀ + b_ih)
    dr = xp.empty((T, N, G), acts.dtype)  # ∂/∂(h W_hhᵀ + b_hh)

    def step(t: int, dh_t: Any, dh_next: Any) -> tuple:
        dzt, drt = dz[t], dr[t]
        xp.multiply(dh_t, d_n[t], out=dzt[:, 2 * H :])  # δ(xn + r hn)
        xp.multiply(dh_t, d_z[t], out=drt[:, H : 2 * H])  # δz (pre-activation)
        xp.multiply(dzt[:, 2 * H :], d_r[t], out=drt[:, :H])  # δr (pre-activation)
        xp.multiply(dzt[:, 2 * H :], r[t], out=drt[:, 2 * H :])  # δhn
        dh_t *= keep[t]
        return drt, dh_t  # + z δh_t (all of it if finished)

    dh0 = _bptt(steps, full, _masked(g_out, mask), dh, w, step)
    dz[..., : 2 * H] = dr[..., : 2 * H]  # r, z pre-activations get one gradient from both sides
    return dz, dr, dh0


def operand(a: Any) -> Any:
    """What a loop takes for an array argument: these loops take any array as it is."""
    return a
