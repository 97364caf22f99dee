r"""Echo state networks (reservoir computing): a fixed random recurrent net, a trained linear readout.

The notes: set the recurrent weights so that the hidden units already capture the history of the inputs
well, and learn only a linear predictor on top of them, which is *convex* in its parameters. The dynamics
should sit near the edge of stability, so the recurrent matrix is rescaled to a chosen spectral radius
(largest eigenvalue modulus), typically a little below 1:

.. math::

    \tilde x_t = \tanh\big(W^{in} u_t + W x_{t-1}\big), \qquad
    x_t = (1 - \alpha)\, x_{t-1} + \alpha\, \tilde x_t, \qquad
    y_t = W^{out} x_t + c

:math:`W^{in}` is dense U(−s, s) (s = ``input_scaling``); :math:`W` is sparse (a fraction ``density`` of
non-zero U(−1, 1) entries) scaled to ``spectral_radius``; α = ``leak_rate`` (1: no leak; small: slow units,
the notes' leaky units). Neither is a Parameter: they are buffers (saved in ``state_dict``, never trained).
Only the readout ``readout`` (:math:`W^{out}`, c) is learned, either in closed form by ridge regression
(:meth:`EchoStateNetwork.fit_ridge`) or by gradient descent on detached states (:meth:`fit_gradient`).

========================= ======================================================================
u                         ``(T, N, input_size)`` inputs
states                    ``(T, N, R)``: :math:`x_1 … x_T` (R = ``reservoir_size``)
W_in / W                  buffers ``weight_in (R, I)`` / ``weight_res (R, R)``
W_out / c                 ``readout.weight (O, R)`` / ``readout.bias (O,)``
outputs                   ``(T, N, O)``
========================= ======================================================================

:func:`mackey_glass` generates the usual chaotic benchmark series locally and :func:`nrmse` scores it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..nn import functional as F
from ..nn.layers import Linear
from ..nn.module import Module
from ..optim import Adam
from ..tensor import Tensor


def _host(a: Any, what: str) -> np.ndarray:
    """A Tensor / NumPy / CuPy array as a float64 host array (ridge regression wants the precision)."""
    if isinstance(a, Tensor):
        a = a.array
    try:
        return np.asarray(backend.to_numpy(a) if backend.is_array(a) else a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"EchoStateNetwork: {what} must be a Tensor or an array, got {type(a).__name__}") from e


class EchoStateNetwork(Module):
    r"""Leaky-tanh reservoir with a fixed random recurrent matrix of a given spectral radius; linear readout.

    ``forward(u, x0=None) -> (T, N, O)`` is one-step prediction (reservoir states through the readout);
    :meth:`run_reservoir` gives the states, :meth:`fit_ridge` / :meth:`fit_gradient` train the readout,
    :meth:`generate` runs free, feeding each prediction back as the next input. ``spectral_radius_`` is the
    radius measured from the eigenvalues of the rescaled matrix (equal to the requested one up to rounding).
    """

    def __init__(
        self,
        input_size: int,
        reservoir_size: int,
        spectral_radius: float = 0.9,
        input_scaling: float = 1.0,
        leak_rate: float = 1.0,
        density: float = 0.1,
        seed: int | None = None,
        output_size: int | None = None,
    ) -> None:
        super().__init__()
        output_size = input_size if output_size is None else output_size
        for what, v in (("input_size", input_size), ("reservoir_size", reservoir_size), ("output_size", output_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"EchoStateNetwork: {what} must be a positive int, got {v!r}")
        if not float(spectral_radius) > 0:
            raise ValueError(f"EchoStateNetwork: spectral_radius must be > 0, got {spectral_radius}")
        if not float(input_scaling) >= 0:
            raise ValueError(f"EchoStateNetwork: input_scaling must be >= 0, got {input_scaling}")
        if not 0.0 < float(leak_rate) <= 1.0:
            raise ValueError(f"EchoStateNetwork: leak_rate must be in (0, 1], got {leak_rate}")
        if not 0.0 < float(density) <= 1.0:
            raise ValueError(f"EchoStateNetwork: density must be in (0, 1], got {density}")
        self.input_size, self.reservoir_size, self.output_size = input_size, reservoir_size, output_size
        self.leak_rate, self.input_scaling, self.density = float(leak_rate), float(input_scaling), float(density)
        # a seed makes the reservoir independent of the global generator (sweeps compare like with like)
        rng = backend.host_rng() if seed is None else np.random.default_rng(seed)
        R = reservoir_size
        w_in = rng.uniform(-input_scaling, input_scaling, (R, input_size))
        w = rng.uniform(-1.0, 1.0, (R, R)) * (rng.random((R, R)) < density)
        radius0 = float(np.abs(np.linalg.eigvals(w)).max())
        if radius0 < 1e-12:
            # e.g. a strictly triangular draw: nilpotent, no rescaling can give it a radius
            raise ValueError(
                f"EchoStateNetwork: the random reservoir (size {R}, density {density}) has spectral "
                "radius 0 and cannot be rescaled; increase density or reservoir_size, or change seed"
            )
        w *= float(spectral_radius) / radius0
        d = backend.get_default_dtype()
        w, w_in = w.astype(d), w_in.astype(d)
        self.requested_radius = float(spectral_radius)
        # measured on the matrix actually stored (after the cast to the default dtype), not assumed
        self.spectral_radius_ = float(np.abs(np.linalg.eigvals(w.astype(np.float64))).max())
        # buffers, not Parameters: saved with the model, invisible to parameters() and to optimisers
        self.register_buffer("weight_in", Tensor(backend.to_backend(w_in)))
        self.register_buffer("weight_res", Tensor(backend.to_backend(w)))
        self.readout = Linear(R, output_size)

    # ---- reservoir ---------------------------------------------------------------------------------
    def _check_u(self, u: Any, what: str = "input") -> Tensor:
        if not isinstance(u, Tensor):
            raise TypeError(f"EchoStateNetwork: {what} must be a Tensor, got {type(u).__name__}")
        if u.ndim != 3 or u.shape[-1] != self.input_size or u.shape[0] == 0:
            raise ValueError(
                f"EchoStateNetwork: expected {what} (T, N, input_size={self.input_size}) with T >= 1, "
                f"got shape {u.shape}"
            )
        return u

    def _step(self, x: Any, uw: Any) -> Any:
        """One leaky update on raw arrays: no tape, since nothing upstream of the readout is trained."""
        xt = backend.xp.tanh(uw + x @ self.weight_res.array.T)
        return (1.0 - self.leak_rate) * x + self.leak_rate * xt

    def _x0(self, x0: Any, N: int, dtype: Any) -> Any:
        if x0 is None:
            return backend.xp.zeros((N, self.reservoir_size), dtype=dtype)
        x0 = x0.array if isinstance(x0, Tensor) else backend.to_backend(x0)
        if tuple(x0.shape) != (N, self.reservoir_size):
            raise ValueError(
                f"EchoStateNetwork: x0 must have shape (N, reservoir_size) = "
                f"{(N, self.reservoir_size)}, got {tuple(x0.shape)}"
            )
        return x0.astype(dtype)

    def run_reservoir(self, u: Tensor, x0: Any = None) -> Tensor:
        """Reservoir states :math:`x_1 … x_T`, ``(T, N, R)``, starting from ``x0`` (zeros), no gradient."""
        u = self._check_u(u)
        T, N, _ = u.shape
        uw = u.array.astype(self.weight_in.dtype) @ self.weight_in.array.T  # W_in u_t for all steps at once
        x = self._x0(x0, N, self.weight_in.dtype)
        out = backend.xp.empty((T, N, self.reservoir_size), dtype=x.dtype)
        for t in range(T):
            x = self._step(x, uw[t])
            out[t] = x
        return Tensor(out)

    def forward(self, u: Tensor, x0: Any = None) -> Tensor:
        """One-step predictions ``(T, N, O)``: the readout of each reservoir state."""
        return self.readout(self.run_reservoir(u, x0))

    predict = forward

    # ---- readout training --------------------------------------------------------------------------
    @staticmethod
    def _flatten(states: Any, targets: Any, R: int, O: int) -> tuple:
        X, Y = _host(states, "states"), _host(targets, "targets")
        if X.ndim < 2 or X.shape[-1] != R:
            raise ValueError(f"EchoStateNetwork: states must be (..., reservoir_size={R}), got shape {X.shape}")
        if Y.shape[:-1] != X.shape[:-1] or Y.shape[-1] != O:
            raise ValueError(
                f"EchoStateNetwork: targets must be {X.shape[:-1] + (O,)} to match states "
                f"{X.shape} and output_size={O}, got {Y.shape}"
            )
        return X.reshape(-1, R), Y.reshape(-1, O)

    def fit_ridge(self, states: Any, targets: Any, ridge: float = 1e-6) -> EchoStateNetwork:
        r"""Closed-form readout: minimise :math:`\lVert X W^{out\top} + c - Y\rVert^2 + \lambda\lVert W^{out}\rVert^2`.

        With :math:`\tilde X = [X, 1]` the solution solves the normal equations
        :math:`(\tilde X^\top \tilde X + \lambda \operatorname{diag}(1, …, 1, 0))\, \tilde W = \tilde X^\top Y`
        (the bias is not penalised). States ``(..., R)`` and targets ``(..., O)`` are flattened over the
        leading axes (drop a washout first). Convex, so no initialisation or learning rate matters.
        """
        if not float(ridge) >= 0:
            raise ValueError(f"EchoStateNetwork: ridge must be >= 0, got {ridge}")
        X, Y = self._flatten(states, targets, self.reservoir_size, self.output_size)
        Xa = np.concatenate([X, np.ones((X.shape[0], 1))], axis=1)
        reg = float(ridge) * np.eye(Xa.shape[1])
        reg[-1, -1] = 0.0
        try:
            Wa = np.linalg.solve(Xa.T @ Xa + reg, Xa.T @ Y)  # (R + 1, O)
        except np.linalg.LinAlgError as e:
            raise ValueError("EchoStateNetwork.fit_ridge: singular normal equations; use ridge > 0") from e
        d = self.readout.weight.dtype
        self.readout.weight.array = backend.to_backend(Wa[:-1].T.astype(d))
        self.readout.bias.array = backend.to_backend(Wa[-1].astype(d))
        return self

    def fit_gradient(self, states: Any, targets: Any, steps: int = 500, lr: float = 1e-2) -> list:
        """Train the readout by Adam on the MSE; the states are detached data, so this is the same convex
        problem as :meth:`fit_ridge` (with λ = 0) solved iteratively. Returns the loss per step."""
        X, Y = self._flatten(states, targets, self.reservoir_size, self.output_size)
        d = self.readout.weight.dtype
        Xt, Yt = Tensor(backend.to_backend(X.astype(d))), Tensor(backend.to_backend(Y.astype(d)))
        opt = Adam(self.readout.parameters(), lr=lr)
        losses = []
        for _ in range(int(steps)):
            loss = F.mse_loss(self.readout(Xt), Yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    # ---- free running ------------------------------------------------------------------------------
    def generate(self, warmup: Tensor, steps: int, x0: Any = None) -> Tensor:
        """Drive the reservoir with ``warmup`` ``(T0, N, I)``, then run free for ``steps`` steps, feeding each
        prediction back as the next input (needs ``output_size == input_size``). Returns ``(steps, N, O)``:
        the first generated value predicts the step right after the warm-up."""
        if self.output_size != self.input_size:
            raise ValueError(
                f"EchoStateNetwork.generate feeds outputs back as inputs, so it needs output_size "
                f"== input_size, got {self.output_size} and {self.input_size}"
            )
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"EchoStateNetwork.generate: steps must be a positive int, got {steps!r}")
        warm = self.run_reservoir(self._check_u(warmup, "warmup"), x0).array
        x = warm[-1]
        W, c = self.readout.weight.array, self.readout.bias.array
        y = x @ W.T + c
        outs = [y]
        for _ in range(steps - 1):
            x = self._step(x, y.astype(x.dtype) @ self.weight_in.array.T)
            y = x @ W.T + c
            outs.append(y)
        with no_grad():
            return Tensor(backend.xp.stack(outs, axis=0))

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, reservoir_size={self.reservoir_size}, "
            f"spectral_radius={self.spectral_radius_:.4g}, leak_rate={self.leak_rate}, density={self.density}"
        )


# ---- data and scoring ---------------------------------------------------------------------------------
def mackey_glass(
    n: int,
    tau: float = 17.0,
    beta: float = 0.2,
    gamma: float = 0.1,
    power: float = 10.0,
    dt: float = 0.1,
    sample_every: float = 1.0,
    x0: float = 1.2,
    discard: int = 500,
) -> np.ndarray:
    r"""``n`` samples of the Mackey–Glass delay differential equation, chaotic for τ = 17:

    .. math:: \frac{dx}{dt} = \beta \frac{x(t-\tau)}{1 + x(t-\tau)^{p}} - \gamma\, x(t)

    integrated with Heun's method (explicit trapezoid, second order) at step ``dt`` from the constant
    history ``x0``, sampled every ``sample_every`` time units, after dropping the first ``discard`` samples
    (the transient). Deterministic, no downloads. Returns a float64 array of shape ``(n,)``.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"mackey_glass: n must be a positive int, got {n!r}")
    if not (dt > 0 and tau > 0 and sample_every >= dt):
        raise ValueError(
            f"mackey_glass: need dt > 0, tau > 0 and sample_every >= dt, got dt={dt}, tau={tau}, "
            f"sample_every={sample_every}"
        )
    lag = round(tau / dt)  # the delay in integration steps
    every = round(sample_every / dt)
    total = (n + discard) * every
    x = np.empty(total + lag + 1)
    x[: lag + 1] = x0  # constant history on [-tau, 0]

    def f(xt: float, xd: float) -> float:
        return beta * xd / (1.0 + xd**power) - gamma * xt

    for i in range(lag, lag + total):
        k1 = f(x[i], x[i - lag])
        k2 = f(x[i] + dt * k1, x[i - lag + 1])  # the delayed value at t + dt is on the grid too
        x[i + 1] = x[i] + 0.5 * dt * (k1 + k2)
    return x[lag + every :: every][discard : discard + n].copy()


def nrmse(pred: Any, target: Any) -> float:
    """Root-mean-square error divided by the standard deviation of the target (1.0 = predicting the mean)."""
    p, t = _host(pred, "pred"), _host(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"nrmse: pred shape {p.shape} != target shape {t.shape}")
    sd = float(t.std())
    if sd == 0:
        raise ValueError("nrmse: the target is constant (std 0), so the normalised error is undefined")
    return float(np.sqrt(((p - t) ** 2).mean()) / sd)


__all__ = ["EchoStateNetwork", "mackey_glass", "nrmse"]
