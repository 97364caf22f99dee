"""Finite-difference checks of the analytic derivatives (float64 central differences)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import backend
from .autograd import enable_grad, grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Analytic and numeric derivatives disagree; the message names the worst entry."""


def _tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _promote(inputs: Sequence[Any]) -> tuple:
    out = []
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.dtype.kind == "f" and t.dtype != np.float64:
            warnings.warn(f"gradcheck: input {i} is {t.dtype}; promoting it to float64 for the check", stacklevel=3)
            t = Tensor(t.array.astype(np.float64), requires_grad=t.requires_grad)
        out.append(t)
    return tuple(out)


def _outputs(fn: Callable, inputs: tuple) -> list:
    return [o for o in _tuple(fn(*inputs)) if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _jacobians(fn: Callable, inputs: tuple, check: list, eps: float) -> tuple:
    outs = _outputs(fn, inputs)
    sizes = [o.numel() for o in outs]
    analytic = [np.zeros((sum(sizes), inputs[i].numel())) for i in check]
    row = 0
    for o in outs:
        for j in range(o.numel()):
            if o.requires_grad:
                seed = np.zeros(o.numel())
                seed[j] = 1.0
                try:
                    gs = grad(
                        o,
                        [inputs[i] for i in check],
                        backend.to_backend(seed.reshape(o.shape)).astype(o.dtype),
                        retain_graph=True,
                        allow_unused=True,
                    )
                except RuntimeError as err:  # tg.grad refuses a gradient whose shape differs from its input's
                    if "gradient of shape" not in str(err):
                        raise
                    raise GradcheckError(f"gradcheck: the analytic gradient has the wrong shape ({err})") from None
                for k, g in enumerate(gs):
                    if g is not None:
                        analytic[k][row] = g.numpy().ravel()
            row += 1
    numeric = [np.zeros_like(a) for a in analytic]
    with no_grad():
        for k, i in enumerate(check):
            t = inputs[i]
            base = t.array
            flat = backend.to_numpy(base).astype(np.float64).ravel()
            for e in range(flat.size):
                vals = []
                for step in (eps, -eps):
                    pert = flat.copy()
                    pert[e] += step
                    t.array = backend.to_backend(pert.reshape(base.shape))
                    vals.append(
                        np.concatenate(
                            [o.numpy().astype(np.float64).ravel() for o in _outputs(fn, inputs)] or [np.zeros(0)]
                        )
                    )
                t.array = base
                numeric[k][:, e] = (vals[0] - vals[1]) / (2 * eps)
    return analytic, numeric


def gradcheck(
    fn: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True
) -> bool:
    """Compare the Jacobian from backward with central differences, for every input that requires grad.

    ``fn(*inputs)`` returns a tensor or a tuple of tensors. Float32 inputs are promoted to float64 (with a
    warning). Raises :class:`GradcheckError` naming the worst entry (input, index, output element,
    analytic, numeric), or returns False when ``raise_exception=False``.
    """
    inputs = _promote(_tuple(inputs))
    check = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not check:
        raise ValueError("gradcheck: no input requires grad; nothing to check")
    try:
        analytic, numeric = _jacobians(fn, inputs, check, eps)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    worst = None
    for k, i in enumerate(check):
        a, n = analytic[k], numeric[k]
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        if excess.size and (excess.max() > 0 or not np.isfinite(excess).all()):
            bad = np.nan_to_num(excess, nan=np.inf)
            r, c = np.unravel_index(int(np.argmax(bad)), bad.shape)
            if worst is None or bad[r, c] > worst[0]:
                worst = (bad[r, c], i, r, c, a[r, c], n[r, c])
    if worst is None:
        return True
    _, i, r, c, a_val, n_val = worst
    index = np.unravel_index(c, inputs[i].shape) if inputs[i].ndim else ()
    msg = (
        f"gradcheck: d(output element {r})/d(input {i}{list(map(int, index))}): analytic={a_val:.8g} "
        f"numeric={n_val:.8g} |diff|={abs(a_val - n_val):.3g} exceeds atol={atol} + rtol={rtol}*|numeric|"
    )
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradgradcheck(
    fn: Callable,
    inputs: Any,
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check second derivatives: gradcheck of x -> d<fn(x), v>/dx built with ``create_graph=True``.

    ``v`` (``grad_outputs``) defaults to fixed random tensors shaped like the outputs.
    """
    inputs = _promote(_tuple(inputs))
    check = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [Tensor(rng.standard_normal(o.shape)) for o in outs]
    grad_outputs = list(_tuple(grad_outputs))

    @enable_grad()
    def first_derivative(*xs: Any) -> tuple:
        os_ = _outputs(fn, xs)
        live = [(o, v) for o, v in zip(os_, grad_outputs) if o.requires_grad]
        if not live:
            return tuple(Tensor(np.zeros(xs[i].shape)) for i in check)
        gs = grad(
            [o for o, _ in live], [xs[i] for i in check], [v for _, v in live], create_graph=True, allow_unused=True
        )
        return tuple(g if g is not None else Tensor(np.zeros(xs[i].shape)) for g, i in zip(gs, check))

    return gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
