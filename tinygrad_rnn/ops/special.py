r"""Two ops outside the core set, each beside its derivative: the error function and a masked softmax.

``Erf`` (used by GELU):

.. math::

    \operatorname{erf}(x) = \frac{2}{\sqrt\pi}\int_0^x e^{-t^2}\,dt, \qquad
    \frac{d}{dx}\operatorname{erf}(x) = \frac{2}{\sqrt\pi}\,e^{-x^2}

NumPy has no erf, and SciPy is not a dependency, so the NumPy backend evaluates W. J. Cody's rational
Chebyshev approximations ("Rational Chebyshev approximations for the error function", *Math. Comp.*
23 (1969) 631-638; the coefficient sets of his SPECFUN routine CALERF). They are accurate to about
one unit in the last place of a double on each of the three intervals |x| <= 0.46875, <= 4 and > 4.
Float32 input is evaluated in float64 and rounded once. Under CuPy, ``cupyx.scipy.special.erf`` runs
on the device instead.

``MaskedSoftmax`` (used by attention): the softmax over the last axis of the entries that are not
``blocked``; blocked entries get weight exactly 0, and a row whose entries are all blocked (or all
``-inf``) gets all-zero weights instead of NaN (0/0). The derivative is the softmax's,
``y ⊙ (g − Σ g ⊙ y)``, which is 0 wherever ``y`` is 0: nothing flows into a blocked entry or a
fully blocked row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend
from ..backend import xp
from ..tape import Function
from ..tensor import Tensor
from . import dual

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_ONE_OVER_SQRT_PI = 5.6418958354775628695e-1

# Cody's coefficients in CALERF's order: the last entry of A, C, P is the leading coefficient, the
# others run from the next power down to the constant term (B, D, Q are monic).
# erf(x) = x A(x²)/B(x²) on |x| <= 0.46875
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
      1.85777706184603153e-1)  # fmt: skip
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
# erfc(y) = exp(-y²) C(y)/D(y) on 0.46875 < y <= 4
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
      8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
      2.15311535474403846e-8)  # fmt: skip
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
      3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)  # fmt: skip
# erfc(y) = exp(-y²)/y (1/√π + z P(z)/Q(z)), z = 1/y², on y > 4
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
      6.58749161529837803e-4, 1.63153871373020978e-2)  # fmt: skip
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
      2.33520497626869185e-3)  # fmt: skip
# erfc(26) < 1e-295: beyond it erf is ±1 exactly, and clamping keeps y = inf out of the formulas
_Y_BIG = 26.0


def _exp_neg_square(y: np.ndarray) -> np.ndarray:
    """exp(-y²) as Cody computes it: y² is split at a multiple of 1/16 so its rounding error is not
    amplified by the exponential (exp(-y²) loses about y² ulps if y² is rounded first)."""
    ysq = np.trunc(y * 16.0) / 16.0
    return np.exp(-ysq * ysq) * np.exp(-(y - ysq) * (y + ysq))


def _erf_small(x: np.ndarray) -> np.ndarray:
    z = x * x
    num, den = _A[4] * z, z
    for a, b in zip(_A[:3], _B[:3]):
        num, den = (num + a) * z, (den + b) * z
    return x * (num + _A[3]) / (den + _B[3])


def _erfc_mid(y: np.ndarray) -> np.ndarray:
    num, den = _C[8] * y, y
    for c, d in zip(_C[:7], _D[:7]):
        num, den = (num + c) * y, (den + d) * y
    return _exp_neg_square(y) * (num + _C[7]) / (den + _D[7])


def _erfc_large(y: np.ndarray) -> np.ndarray:
    y = np.minimum(y, _Y_BIG)
    z = 1.0 / (y * y)
    num, den = _P[5] * z, z
    for p, q in zip(_P[:4], _Q[:4]):
        num, den = (num + p) * z, (den + q) * z
    r = z * (num + _P[4]) / (den + _Q[4])
    return _exp_neg_square(y) * (_ONE_OVER_SQRT_PI - r) / y


def erf_host(x: Any) -> np.ndarray:
    """erf of a NumPy array (any float dtype; computed in float64, returned in the input's dtype)."""
    x = np.asarray(x)
    xd = x.astype(np.float64)
    y = np.abs(xd)
    out = xd.copy()  # NaN stays NaN: it falls in none of the intervals below
    small, mid, large = y <= 0.46875, (y > 0.46875) & (y <= 4.0), y > 4.0
    out[small] = _erf_small(xd[small])
    for region, erfc in ((mid, _erfc_mid), (large, _erfc_large)):
        r = 1.0 - erfc(y[region])
        out[region] = np.where(xd[region] < 0, -r, r)
    return out.astype(x.dtype, copy=False)


def erf_array(x: Any) -> Any:
    """erf of a backend array, in its dtype."""
    if backend.name == "cupy":
        import cupyx.scipy.special  # noqa: PLC0415  (optional dependency, only on the GPU backend)

        return cupyx.scipy.special.erf(x)
    return erf_host(x)


class Erf(Function):
    """erf(x); d/dx = 2/√π · exp(-x²)."""

    def forward(self, x: Any) -> Any:
        if x.dtype.kind != "f":
            raise TypeError(f"erf: expected a floating-point tensor, got {x.dtype}")
        return erf_array(x)

    def backward(self, g: Any, x: Any) -> Any:
        return g * (_TWO_OVER_SQRT_PI * dual.exp(-(x * x)))


class MaskedSoftmax(Function):
    """softmax over the last axis of ``x`` where ``blocked`` (a boolean input that never needs a gradient,
    broadcastable to ``x``) is False; blocked entries and fully blocked rows give exactly 0."""

    needs_output = True

    @classmethod
    def op_name(cls) -> str:
        return "masked_softmax"

    def forward(self, x: Any, blocked: Any) -> Any:
        if blocked.dtype != bool:
            raise TypeError(f"masked_softmax: blocked must be boolean, got {blocked.dtype}")
        try:
            fits = np.broadcast_shapes(tuple(x.shape), tuple(blocked.shape)) == tuple(x.shape)
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"masked_softmax: blocked of shape {tuple(blocked.shape)} does not broadcast to the scores' "
                f"shape {tuple(x.shape)}"
            )
        if x.ndim == 0 or x.shape[-1] == 0:
            return xp.zeros(x.shape, dtype=x.dtype)
        z = xp.where(blocked, xp.asarray(-xp.inf, dtype=x.dtype), x)
        m = z.max(axis=-1, keepdims=True)
        m = xp.where(xp.isneginf(m), xp.zeros((), dtype=x.dtype), m)  # nothing allowed: exp(-inf - 0) = 0, not NaN
        e = xp.exp(z - m)
        s = e.sum(axis=-1, keepdims=True)
        return e / xp.where(s > 0, s, 1)

    def backward(self, g: Any, x: Any, blocked: Any, y: Any) -> Any:
        return y * (g - (g * y).sum(axis=-1, keepdims=True)), None


def erf(x: Tensor) -> Tensor:
    """The error function, elementwise (differentiable)."""
    return Erf.apply(x if isinstance(x, Tensor) else Tensor(x))


def masked_softmax(x: Tensor, blocked: Any = None) -> Tensor:
    """Softmax over the last axis that ignores the ``blocked`` entries (True = blocked; no gradient).

    ``blocked=None`` is the plain softmax. A row with every entry blocked gives all-zero weights.
    """
    if blocked is None:
        return x.softmax(-1)
    b = blocked if isinstance(blocked, Tensor) else Tensor._make(xp.asarray(blocked), False, None, 0)
    return MaskedSoftmax.apply(x, b)
