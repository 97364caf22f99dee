r"""Recurrent nets as discretised dynamical systems: the notes' driven spring and leaky (multi-timescale) units.

Both follow the notes' form :math:`s^{(t+1)} = f(s^{(t)}, x^{(t+1)}; \theta)`, one parameter set shared by all
steps, so back-propagation through time differentiates through the whole unrolled recurrence.

**EulerSpringCell.** The driven spring :math:`m\,s'' = -k s + A\cos t`, written as the first-order system
:math:`s' = v`, :math:`v' = -\tfrac{k}{m} s + \tfrac{A}{m}\cos t` and integrated with Euler's method of step h:

.. math::

    s^{(t+1)} = s^{(t)} + h\,v^{(t)}, \qquad
    v^{(t+1)} = v^{(t)} + h\Big(\tfrac{A}{m}\cos(t_0 + t h) - \tfrac{k}{m}\,s^{(t)}\Big)

(:math:`t_0 + t h` is the continuous time of step t; the drive :math:`\cos(t_0 + t h)` plays the external
signal :math:`x^{(t+1)}`). :math:`\theta = (k/m, A/m)` are Parameters; h is fixed.

**LeakyRNN.** A unit with time constant :math:`\tau \ge 1` keeps a fraction :math:`1 - 1/\tau` of its state:

.. math::

    s^{(t)} = \Big(1 - \tfrac{1}{\tau}\Big) \odot s^{(t-1)} + \tfrac{1}{\tau} \odot
              \tanh\big(W s^{(t-1)} + U x^{(t)} + b\big)

With :math:`\tau = 1` this is the plain tanh RNN; a large :math:`\tau` integrates its input over about
:math:`\tau` steps, and :math:`\partial s^{(t)}/\partial s^{(t-1)}` keeps a diagonal part
:math:`1 - 1/\tau` near 1, so gradients survive over long spans. A spread of time constants gives a
hierarchy of timescales in one layer.

================== ===========================================================================
EulerSpringCell
================== ===========================================================================
k_over_m, A_over_m ``()`` Parameters
s0, v0             floats or Tensors of one shape ``S`` (``()`` for one spring, ``(N,)`` for N)
simulate           ``(T, *S, 2)``: row t holds :math:`(s^{(t+1)}, v^{(t+1)})`, t = 0 … T-1
================== ===========================================================================

================= ============================================================================
LeakyRNN
================= ============================================================================
x                 ``(T, N, I)`` inputs
s0                ``(N, H)`` initial state (zeros when omitted)
U / W / b         ``weight_ih (H, I)`` / ``weight_hh (H, H)`` / ``bias (H,)``, U(-1/√H, 1/√H)
τ                 ``time_constants() -> (H,)``: buffer ``tau`` ('fixed', 'sampled') or
                  :math:`1 + \mathrm{softplus}(\rho)` from Parameter ``tau_raw`` ρ ('learned')
outputs, s_T      ``(T, N, H)`` stacking :math:`s^{(1)} … s^{(T)}`, and ``(N, H)`` the last state
================= ============================================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend
from ..nn import init
from ..nn.module import Module, Parameter
from ..op_functions import softplus, stack
from ..tape import scope
from ..tensor import Tensor


def _scalar_param(name: str, value: Any) -> Parameter:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"EulerSpringCell: {name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"EulerSpringCell: {name} must be finite, got {v}")
    return Parameter(backend.to_backend(np.asarray(v, dtype=backend.get_default_dtype())))


class EulerSpringCell(Module):
    r"""The driven spring :math:`m s'' = -k s + A \cos t` as a recurrent cell (Euler's method, step h).

    ``forward(s, v, t) -> (s', v')`` takes one step from time :math:`t_0 + t h`; ``simulate(s0, v0, T)``
    unrolls T steps and returns the ``(T, *S, 2)`` trajectory. See the module docstring for the equations.
    """

    def __init__(self, k_over_m: float = 1.0, A_over_m: float = 0.5, h: float = 0.1, t0: float = 0.0) -> None:
        super().__init__()
        if isinstance(h, bool) or not isinstance(h, (int, float)) or not h > 0 or not math.isfinite(h):
            raise ValueError(f"EulerSpringCell: step size h must be a positive finite number, got {h!r}")
        if isinstance(t0, bool) or not isinstance(t0, (int, float)) or not math.isfinite(t0):
            raise ValueError(f"EulerSpringCell: t0 must be a finite number, got {t0!r}")
        self.h, self.t0 = float(h), float(t0)
        self.k_over_m = _scalar_param("k_over_m", k_over_m)  # θ: learnable, shared by every step
        self.A_over_m = _scalar_param("A_over_m", A_over_m)

    def _as_state(self, name: str, x: Any) -> Tensor:
        dt = self.k_over_m.dtype
        if isinstance(x, Tensor):
            if x.dtype != dt:
                # mixing dtypes would silently promote (or fail deep in an op); say which to cast
                raise TypeError(f"EulerSpringCell: {name} dtype {x.dtype} != parameter dtype {dt}; cast one of them")
            return x
        if isinstance(x, (int, float, np.ndarray, list, tuple)) and not isinstance(x, bool):
            return Tensor(backend.to_backend(np.asarray(x, dtype=dt)))
        raise TypeError(f"EulerSpringCell: {name} must be a number, array or Tensor, got {type(x).__name__}")

    def forward(self, s: Tensor, v: Tensor, t: int = 0) -> tuple[Tensor, Tensor]:
        """One Euler step from step index t (continuous time ``t0 + t*h``): returns :math:`(s^{(t+1)}, v^{(t+1)})`."""
        h = self.h
        drive = math.cos(self.t0 + t * h)  # the external signal x^(t): data, not a parameter
        # both updates read the *old* s and v (explicit Euler), so compute them before rebinding
        s_next = s + h * v
        v_next = v + h * (self.A_over_m * drive - self.k_over_m * s)
        return s_next, v_next

    def simulate(self, s0: Any, v0: Any, T: int) -> Tensor:
        """Unroll T steps from :math:`(s^{(0)}, v^{(0)}) = (s0, v0)`; returns ``(T, *S, 2)`` = rows
        :math:`(s^{(t)}, v^{(t)})` for t = 1 … T (the initial state is not repeated)."""
        if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
            raise ValueError(f"EulerSpringCell.simulate: T must be an int >= 1, got {T!r}")
        s, v = self._as_state("s0", s0), self._as_state("v0", v0)
        if s.shape != v.shape:
            raise ValueError(f"EulerSpringCell.simulate: s0 and v0 must have one shape, got {s.shape} and {v.shape}")
        rows: list = []
        with scope("EulerSpringCell"):
            for t in range(int(T)):
                with scope(f"t={t + 1}"):
                    s, v = self.forward(s, v, t)
                    rows.append(stack([s, v], axis=-1))
            return stack(rows, axis=0)

    def extra_repr(self) -> str:
        return (
            f"k_over_m={float(self.k_over_m.item()):.4g}, A_over_m={float(self.A_over_m.item()):.4g}, "
            f"h={self.h}, t0={self.t0}"
        )


_TAU_MODES = ("fixed", "sampled", "learned")


def _inverse_softplus(y: np.ndarray) -> np.ndarray:
    # softplus^{-1}(y) = log(e^y - 1) = y + log(1 - e^{-y}); the second form is exact for large y
    return y + np.log(-np.expm1(-y))


class LeakyRNN(Module):
    r"""Leaky tanh units, one time constant :math:`\tau_j \ge 1` per unit:
    :math:`s^{(t)} = (1 - 1/\tau) \odot s^{(t-1)} + (1/\tau) \odot \tanh(W s^{(t-1)} + U x^{(t)} + b)`.

    ``tau`` chooses where :math:`\tau` comes from:

    * ``'fixed'``: ``tau_init`` (a number or H numbers; default 1.0, the plain RNN), stored as a buffer;
    * ``'sampled'``: drawn once, log-uniformly in ``tau_range`` (seeded host generator), stored as a buffer;
    * ``'learned'``: :math:`\tau = 1 + \mathrm{softplus}(\rho)` with Parameter ρ, so τ stays above 1 whatever
      the optimiser does; starts at ``tau_init`` (each > 1) or, when omitted, at log-uniform samples.

    ``forward(x, s0=None) -> (outputs (T, N, H), s_T (N, H))``; shapes in the module docstring.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        tau: str = "fixed",
        tau_init: float | Sequence[float] | None = None,
        tau_range: tuple[float, float] = (1.0, 50.0),
    ) -> None:
        super().__init__()
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"LeakyRNN: {what} must be a positive int, got {v!r}")
        if tau not in _TAU_MODES:
            raise ValueError(f"LeakyRNN: tau must be one of {_TAU_MODES}, got {tau!r}")
        lo, hi = self._check_range(tau_range)
        self.input_size, self.hidden_size, self.tau_mode, self.tau_range = input_size, hidden_size, tau, (lo, hi)
        k = init.fan_in_bound(hidden_size)
        self.weight_ih = init.uniform((hidden_size, input_size), k)  # U
        self.weight_hh = init.uniform((hidden_size, hidden_size), k)  # W
        self.bias = init.uniform((hidden_size,), k)  # b
        d = backend.get_default_dtype()
        if tau == "sampled":
            if tau_init is not None:
                raise ValueError(
                    "LeakyRNN: tau='sampled' draws τ from tau_range; tau_init is only for 'fixed' and 'learned'"
                )
            taus = self._sample(lo, hi)
        elif tau_init is None:
            taus = np.ones(hidden_size) if tau == "fixed" else self._sample(max(lo, 1.0 + 1e-3), hi)
        else:
            taus = self._check_init(tau_init, strict=tau == "learned")
        if tau == "learned":
            self.tau_raw = Parameter(backend.to_backend(_inverse_softplus(taus - 1.0).astype(d)))
        else:
            self.register_buffer("tau", Tensor(backend.to_backend(taus.astype(d))))

    def _check_range(self, tau_range: Any) -> tuple[float, float]:
        try:
            lo, hi = (float(v) for v in tau_range)
        except (TypeError, ValueError):
            raise ValueError(f"LeakyRNN: tau_range must be two numbers (low, high), got {tau_range!r}") from None
        if not (1.0 <= lo <= hi and math.isfinite(hi)):
            raise ValueError(f"LeakyRNN: tau_range must satisfy 1 <= low <= high < inf, got {tau_range!r}")
        return lo, hi

    def _sample(self, lo: float, hi: float) -> np.ndarray:
        # log-uniform: as many units per octave of timescale, so both short and long spans are covered
        return np.exp(backend.host_rng().uniform(math.log(lo), math.log(hi), size=self.hidden_size))

    def _check_init(self, tau_init: Any, strict: bool) -> np.ndarray:
        taus = np.asarray(tau_init, dtype=np.float64)
        if taus.ndim == 0:
            taus = np.full(self.hidden_size, float(taus))
        if taus.shape != (self.hidden_size,):
            raise ValueError(
                f"LeakyRNN: tau_init must be a number or hidden_size={self.hidden_size} numbers, got shape {taus.shape}"
            )
        bad = ~np.isfinite(taus) | (taus <= 1.0 if strict else taus < 1.0)
        if bad.any():
            need = "> 1 (τ = 1 + softplus(ρ) never reaches 1)" if strict else ">= 1 (τ < 1 overshoots)"
            raise ValueError(f"LeakyRNN: every tau_init must be finite and {need}, got {taus[bad][0]}")
        return taus

    def time_constants(self) -> Tensor:
        """τ as an ``(H,)`` Tensor (differentiable in ρ when ``tau='learned'``)."""
        return 1.0 + softplus(self.tau_raw) if self.tau_mode == "learned" else self.tau

    def forward(self, x: Tensor, s0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run T steps over ``x (T, N, I)``; returns ``(outputs (T, N, H), s_T (N, H))``."""
        name, H = "LeakyRNN", self.hidden_size
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
        if x.ndim != 3 or x.shape[-1] != self.input_size or x.shape[0] == 0:
            raise ValueError(
                f"{name}: expected input (T, N, input_size={self.input_size}) with T >= 1, got shape {x.shape}"
            )
        if x.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: input dtype {x.dtype} != parameter dtype {self.weight_ih.dtype}")
        T, N, I = x.shape
        if s0 is None:
            s = Tensor(backend.xp.zeros((N, H), dtype=x.dtype))
        else:
            if not isinstance(s0, Tensor) or s0.shape != (N, H):
                got = s0.shape if isinstance(s0, Tensor) else type(s0).__name__
                raise ValueError(f"{name}: s0 must be a Tensor of shape (N, hidden_size) = {(N, H)}, got {got}")
            s = s0
        with scope(name):
            alpha = 1.0 / self.time_constants()  # (H,), broadcasts over the batch
            keep = 1.0 - alpha
            # U x^(t) + b for all T steps in one matmul: the input part never depends on the recurrence
            xu = (x.reshape(T * N, I) @ self.weight_ih.T + self.bias).reshape(T, N, H).unbind(0)
            outs: list = []
            for t in range(T):
                with scope(f"t={t + 1}"):
                    s = keep * s + alpha * (xu[t] + s @ self.weight_hh.T).tanh()
                    outs.append(s)
            return stack(outs, axis=0), s

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}, tau={self.tau_mode!r}"
