r"""``x + α y`` rounded once, as a fused multiply-add computes it (NumPy has no ``fma``).

PyTorch's CPU kernels evaluate ``x.add_(y, alpha=α)`` with fused multiply-add instructions, so the
product :math:`\alpha y` is not rounded before the sum. NumPy rounds it, and the two results differ in
the last bit for about one element in ten. One bit is harmless for a single update, but L-BFGS feeds
its updates back into its history, and on ill-conditioned problems such bits grow over a few hundred
iterations; with :func:`axpy` the optimizer reproduces PyTorch's iterates bit for bit wherever the
gradients themselves agree.

float64 uses error-free transformations: Veltkamp/Dekker splitting gives the product's exact error,
``TwoSum`` the sum's, and the two error terms are added with rounding to odd before the final
round-to-nearest sum, which makes the result the correctly rounded :math:`x + \alpha y`
(Boldo & Melquiond, *Emulation of FMA and correctly rounded sums: proved algorithms using rounding to
odd*, IEEE Trans. Computers 57(4), 2008). float32 computes the product exactly in float64 and rounds
the sum to odd in float64 before rounding to float32 (53 ≥ 24 + 2 bits, so this too is correctly
rounded). Elements where an input or the result is not finite, or where the splitting could overflow,
take the plain ``x + α y``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import xp

__all__ = ["axpy"]

_SPLIT = 134217729.0  # 2**27 + 1: splits a double into two halves of 26 and 27 significant bits
_SPLIT_SAFE = 2.0**995  # beyond this the splitting product overflows


def _two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    """``s, e`` with ``s = fl(a + b)`` and ``s + e = a + b`` exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _round_to_odd(v: Any, err: Any, int_type: Any) -> Any:
    """Turn ``v = RN(v + err)`` into the round-to-odd value: where inexact and even, step toward err."""
    even = (v.view(int_type) & 1) == 0
    nudge = (err != 0) & even
    return xp.where(nudge, xp.nextafter(v, xp.where(err > 0, xp.inf, -xp.inf).astype(v.dtype)), v)


def _fma64(x: Any, alpha: float, y: Any) -> Any:
    a = xp.float64(alpha)
    p = a * y
    # exact product error e (p + e = alpha * y) by Veltkamp splitting
    ta = _SPLIT * a
    ah = ta - (ta - a)
    al = a - ah
    ty = _SPLIT * y
    yh = ty - (ty - y)
    yl = y - yh
    e = ((ah * yh - p) + ah * yl + al * yh) + al * yl
    s, t = _two_sum(p, x)
    u, err = _two_sum(t, e)
    u = _round_to_odd(u, err, xp.int64)
    r = s + u
    ok = xp.isfinite(r) & xp.isfinite(x) & (xp.abs(y) < _SPLIT_SAFE)
    if abs(alpha) >= _SPLIT_SAFE or not bool(ok.all()):
        r = xp.where(ok & (abs(alpha) < _SPLIT_SAFE), r, x + alpha * y)
    return r


def _fma32(x: Any, alpha: float, y: Any) -> Any:
    # PyTorch casts alpha to the tensor's dtype first; a float32 product is exact in float64
    p = xp.float64(np.float32(alpha)) * y.astype(xp.float64)
    s, err = _two_sum(p, x.astype(xp.float64))
    r = _round_to_odd(s, err, xp.int64).astype(xp.float32)
    ok = xp.isfinite(r)
    if not bool(ok.all()):
        r = xp.where(ok, r, x + np.float32(alpha) * y)
    return r


def axpy(x: Any, alpha: float, y: Any) -> Any:
    """``x + alpha * y`` with a single rounding (a new array; float32 and float64 arrays of one shape)."""
    with np.errstate(all="ignore"):  # inf/nan inputs pass through the transformations harmlessly
        if x.dtype == xp.float64 and y.dtype == xp.float64:
            return _fma64(x, alpha, y)
        if x.dtype == xp.float32 and y.dtype == xp.float32:
            return _fma32(x, alpha, y)
    return x + alpha * y
