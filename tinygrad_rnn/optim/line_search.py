r"""The strong-Wolfe line search that :class:`~tinygrad_rnn.optim.LBFGS` uses, with cubic interpolation.

This is the bracketing-and-zoom search of Nocedal & Wright (Algorithms 3.5 and 3.6) in the variant of
Mark Schmidt's minFunc that Torch7's ``lswolfe.lua`` and PyTorch's ``torch.optim.lbfgs`` use, with the
same decisions in the same order so that a search visits exactly PyTorch's trial steps. Along the
direction :math:`d` from :math:`x`, with :math:`\phi(t) = f(x + t d)`, a step :math:`t` is accepted
when it satisfies the strong Wolfe conditions

.. math::
    \phi(t) \le \phi(0) + c_1 t \phi'(0) \qquad |\phi'(t)| \le -c_2 \phi'(0).

Every scalar here is a Python float (IEEE double, whatever the parameters' dtype); the vectors are
flat backend arrays, never modified in place.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["cubic_interpolate", "strong_wolfe"]


def _div(a: float, b: float) -> float:
    """``a / b`` with IEEE semantics (±inf or nan for ``b == 0``), as a 0-d tensor division gives."""
    if b != 0.0:
        return a / b
    if a != a or a == 0.0:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def cubic_interpolate(
    x1: float, f1: float, g1: float, x2: float, f2: float, g2: float, bounds: tuple | None = None
) -> float:
    r"""The minimiser of the cubic through two points with values ``f`` and slopes ``g``, clipped to ``bounds``.

    With :math:`d_1 = g_1 + g_2 - 3 \frac{f_1 - f_2}{x_1 - x_2}` and :math:`d_2 = \sqrt{d_1^2 - g_1 g_2}`,
    the minimiser (taking :math:`x_2` as the farther point, and symmetrically otherwise) is

    .. math::
        x_2 - (x_2 - x_1) \frac{g_2 + d_2 - d_1}{g_2 - g_1 + 2 d_2}.

    When the cubic has no minimum (:math:`d_1^2 < g_1 g_2`) the middle of the bounds is returned.
    ``bounds`` defaults to the interval between the two points.
    """
    if bounds is not None:
        lo, hi = bounds
    else:
        lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - _div(3 * (f1 - f2), x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * _div(g2 + d2 - d1, g2 - g1 + 2 * d2)
        else:
            min_pos = x1 - (x1 - x2) * _div(g1 + d2 - d1, g1 - g2 + 2 * d2)
        # builtin min/max on purpose: their tie and NaN behaviour is PyTorch's (which uses them too)
        return min(max(min_pos, lo), hi)
    return (lo + hi) / 2.0


def _dot(a: Any, b: Any) -> float:
    return float(a.dot(b))


def strong_wolfe(
    obj_func: Callable[[Any, float, Any], tuple[float, Any]],
    x: Any,
    t: float,
    d: Any,
    f: float,
    g: Any,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, Any, float, int]:
    r"""Search along ``d`` from ``x`` for a step satisfying the strong Wolfe conditions.

    ``obj_func(x, t, d)`` returns the loss and the flat gradient at :math:`x + t d`; ``f``, ``g`` and
    ``gtd`` (:math:`= g^\top d < 0`) describe the starting point and ``t`` is the first trial step.
    At most ``max_ls`` evaluations are made. Returns ``(f_new, g_new, t, evaluations)``.

    Phase 1 (bracketing) extrapolates by cubic interpolation within :math:`[t + 0.01 (t - t_{prev}),
    10 t]` until the step satisfies the conditions or an interval containing such a step is found.
    Phase 2 (zoom) shrinks that interval by cubic interpolation, moving a trial point that lands within
    10% of an end (twice in a row, or outside) to 10% inside, until the conditions hold, the interval
    is shorter than ``tolerance_change`` (scaled by :math:`\|d\|_\infty`) or the evaluations run out.
    """
    d_norm = float(abs(d).max())
    f_new, g_new = obj_func(x, t, d)
    evals = 1
    gtd_new = _dot(g_new, d)

    # -- phase 1: bracket ------------------------------------------------------------------------
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list = []
    bracket_f: list = []
    bracket_g: list = []
    bracket_gtd: list = []
    while ls_iter < max_ls:
        too_little_decrease = f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev)
        if not too_little_decrease and abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if too_little_decrease or gtd_new >= 0:
            # too little decrease (or worse than the last trial), or the slope turned positive:
            # a minimiser lies between the two
            bracket, bracket_f, bracket_g, bracket_gtd = (
                [t_prev, t],
                [f_prev, f_new],
                [g_prev, g_new],
                [gtd_prev, gtd_new],
            )
            break
        # still descending steeply: extrapolate to a longer step
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        t_prev, t = t, cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1

    if ls_iter >= max_ls:
        # out of evaluations while extrapolating: choose between the start and the last trial
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # -- phase 2: zoom ---------------------------------------------------------------------------
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])

        # A trial point hugging an end of the interval shrinks it slowly. The first time, accept it;
        # if it happens again (or the point is outside), move it 10% of the width inside instead.
        top, bottom = max(bracket), min(bracket)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:
            if insufficient_progress or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False

        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:
            # no sufficient decrease, or not below the best end: t becomes the high end
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                # the minimiser is on the other side of t: the old low end becomes the high end
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new

    return bracket_f[low], bracket_g[low], bracket[low], evals
