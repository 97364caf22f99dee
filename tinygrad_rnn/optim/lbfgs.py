r"""L-BFGS, the limited-memory quasi-Newton method, with PyTorch's algorithm, defaults and state.

One :meth:`LBFGS.step` runs up to ``max_iter`` iterations on the closure's loss. Each iteration:

1. **Direction.** The first iteration ever goes down the gradient, :math:`d = -g`. Later ones update
   the curvature history with :math:`s = t\,d` (the last step) and :math:`y = g - g_{prev}` when
   :math:`y^\top s > 10^{-10}` (dropping the oldest pair beyond ``history_size``), scale the initial
   inverse Hessian by :math:`H_0 = y^\top s / y^\top y`, and apply the two-loop recursion to get
   :math:`d = -H g`.
2. **Step length.** :math:`t = \min(1, 1/\|g\|_1)\,\text{lr}` on the very first iteration, else
   :math:`t = \text{lr}`; stop if :math:`g^\top d > -\text{tolerance\_change}` (not a descent
   direction). Then either move :math:`x \leftarrow x + t d` and re-evaluate the closure (no line
   search; skipped on the last iteration), or run the strong-Wolfe search of
   :mod:`~tinygrad_rnn.optim.line_search` for :math:`t` and move there.
3. **Stop** after ``max_iter`` iterations or ``max_eval`` closure evaluations, when
   :math:`\|g\|_\infty \le \text{tolerance\_grad}`, or when the step :math:`\|t d\|_\infty` or the
   change in loss falls below ``tolerance_change``.

The history, the last direction and step, and the counters persist in the optimizer's state between
calls to :meth:`step` (under the first parameter, as in PyTorch), so successive steps continue one
optimisation. The iterates match ``torch.optim.LBFGS`` to rounding given the same closure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import backend, views
from ..autograd import enable_grad, no_grad
from ..backend import xp
from ..tensor import Tensor
from .fma import axpy
from .line_search import strong_wolfe
from .optimizer import Optimizer

__all__ = ["LBFGS"]

_GROUPS_MESSAGE = "LBFGS doesn't support per-parameter options (parameter groups)"
# state entries: counters and scalars, flat vectors, lists of flat vectors, lists of scalars
_COUNTERS = {"func_evals", "n_iter"}
_SCALARS = {"t", "H_diag", "prev_loss"}
_VECTORS = {"d", "prev_flat_grad"}
_VECTOR_LISTS = {"old_dirs", "old_stps"}
_SCALAR_LISTS = {"ro", "al"}
# what one step() leaves in the state for the next, in PyTorch's order
_CARRIED = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss")


def _array(t: Tensor) -> Any:
    """The backend array of a tensor (the one place that names the attribute)."""
    return t.array


def _set_array(t: Tensor, a: Any) -> None:
    views.write(t, a)


def _numel(t: Tensor) -> int:
    return math.prod(t.shape)


def _ieee_div(a: float, b: float) -> float:
    """``a / b`` as a float division of tensors would give it (inf for a zero denominator)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


class LBFGS(Optimizer):
    r"""L-BFGS (Liu & Nocedal 1989), PyTorch's variant after minFunc, optionally with a strong-Wolfe line search.

    Args:
        params: the parameters (one group only; every option applies to all of them).
        lr: the step length multiplier (default 1).
        max_iter: iterations per :meth:`step` (default 20).
        max_eval: closure evaluations per :meth:`step` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when :math:`\|g\|_\infty` is at most this (default 1e-7).
        tolerance_change: stop when the step or the loss change is below this (default 1e-9).
        history_size: the number of curvature pairs kept (default 100).
        line_search_fn: ``None`` (fixed steps of ``lr``) or ``"strong_wolfe"``.

    :meth:`step` needs a closure that zeroes the gradients, computes the loss, calls ``backward()``
    and returns the loss; it is called several times per step (with grad mode on). :meth:`step`
    returns the loss of the first call, at the parameters as they were.

    Parameters without a gradient count as having a zero gradient. The flat working vectors take the
    parameters' common dtype, so float32 parameters keep float32 vectors and updates; the scalars of
    the iteration (step lengths, dot products, the line search) are Python floats (float64). The
    updates ``x + α y`` are rounded once, as PyTorch's fused multiply-add kernels round them (see
    :mod:`~tinygrad_rnn.optim.fma`), so float64 iterates follow PyTorch's bit for bit wherever the
    gradients, dot products and sums agree.

    .. note::
       Memory: besides the parameters it keeps ``2 * history_size + 2`` flat vectors of their size.

    Attributes:
        fma_updates: round the vector updates once, as PyTorch's fused multiply-add does (default
            ``True``). The emulation costs about 25 array passes per update instead of 2, which matters
            only for large models with long histories; set ``opt.fma_updates = False`` (or on the class)
            to use NumPy's rounding, and the iterates then agree with PyTorch's to rounding only.
    """

    fma_updates: bool = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if isinstance(lr, Tensor):
            if _numel(lr) != 1:
                raise ValueError("Tensor lr must be 1-element")
            lr = lr.item()
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(_GROUPS_MESSAGE)

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        for k in ("max_iter", "history_size"):
            v = group[k]
            self._check(isinstance(v, int) and not isinstance(v, bool) and v > 0, k, v, "a positive int")
        v = group["max_eval"]  # a float is fine here (PyTorch's docs say "max_iter * 1.25")
        self._check(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0, "max_eval", v, "a number > 0")
        self._check(
            group["line_search_fn"] in (None, "strong_wolfe"),
            "line_search_fn",
            group["line_search_fn"],
            "None or 'strong_wolfe' (the only line search supported)",
        )

    # ---- flat views of the parameters ---------------------------------------------------------------
    @property
    def _params(self) -> list:
        return self.param_groups[0]["params"]

    def _numel(self) -> int:
        return sum(_numel(p) for p in self._params)

    def _gather_flat_grad(self) -> Any:
        """All gradients as one flat vector (zeros for a parameter without one)."""
        parts = []
        for p in self._params:
            g = p.grad
            if g is None:
                parts.append(xp.zeros(_numel(p), dtype=p.dtype))
                continue
            if g.shape != p.shape:
                raise RuntimeError(f"LBFGS.step: a parameter of shape {p.shape} has a gradient of shape {g.shape}")
            parts.append(_array(g).reshape(-1))
        return xp.concatenate(parts)

    def _add_grad(self, step: float, update: Any) -> None:
        """``θ ← θ + step · update`` for the flat ``update`` (written into each parameter, as PyTorch does)."""
        offset = 0
        for p in self._params:
            n = _numel(p)
            new = self._axpy(_array(p), step, update[offset : offset + n].reshape(p.shape))
            _set_array(p, new if new.dtype == p.dtype else new.astype(p.dtype))
            offset += n

    def _axpy(self, x: Any, alpha: float, y: Any) -> Any:
        """``x + alpha * y``, rounded once (PyTorch's ``x.add(y, alpha=alpha)``) or as NumPy rounds it."""
        return axpy(x, alpha, y) if self.fma_updates else x + alpha * y

    def _clone_param(self) -> list:
        return [_array(p).copy() for p in self._params]

    def _set_param(self, arrays: list) -> None:
        for p, a in zip(self._params, arrays):
            _set_array(p, a)

    def _directional_evaluate(self, closure: Callable[[], Any], x: list, t: float, d: Any) -> tuple[float, Any]:
        """Loss and flat gradient at ``x + t d``; the parameters are put back to ``x`` afterwards."""
        self._add_grad(t, d)
        with enable_grad():
            loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ---- the step -----------------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Run up to ``max_iter`` L-BFGS iterations; returns the closure's first loss."""
        if closure is None or not callable(closure):
            raise TypeError(
                "LBFGS.step: needs a closure that clears the gradients, computes the loss, calls "
                "backward() and returns the loss, e.g. opt.step(closure)"
            )
        if len(self.param_groups) != 1:
            raise ValueError(_GROUPS_MESSAGE)
        with no_grad():
            return self._step(closure)

    def _step(self, closure: Callable[[], Any]) -> Any:
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = float(group["tolerance_grad"]), float(group["tolerance_change"])
        history_size = group["history_size"]
        line_search_fn = group["line_search_fn"]

        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1

        flat_grad = self._gather_flat_grad()
        opt_cond = float(abs(flat_grad).max()) <= tolerance_grad if flat_grad.size else True
        if opt_cond:  # already optimal: nothing to do
            return orig_loss

        d, t, old_dirs, old_stps, ro, H_diag, prev_flat_grad, prev_loss = (state.get(k) for k in _CARRIED)

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # -- direction --------------------------------------------------------------------------
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y.dot(s))
                if ys > 1e-10:  # keep the pair only when it carries positive curvature
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y.dot(y))
                d = self._two_loop(state, flat_grad, old_dirs, old_stps, ro, H_diag)

            prev_flat_grad = flat_grad
            prev_loss = loss

            # -- step length ------------------------------------------------------------------------
            if state["n_iter"] == 1:
                t = min(1.0, _ieee_div(1.0, float(abs(flat_grad).sum()))) * lr
            else:
                t = lr
            gtd = float(flat_grad.dot(d))
            if gtd > -tolerance_change:  # not (enough of) a descent direction
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x: list, step: float, direction: Any) -> tuple[float, Any]:
                    return self._directional_evaluate(closure, x, step, direction)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_grad(t, d)
                opt_cond = float(abs(flat_grad).max()) <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:
                    # the last iteration's point is evaluated by the next step() (in a stochastic
                    # setting on a new batch), so it is not evaluated here
                    with enable_grad():
                        loss = float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = float(abs(flat_grad).max()) <= tolerance_grad
                    ls_func_evals = 1

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # -- stopping tests ---------------------------------------------------------------------
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if float(abs(d * t).max()) <= tolerance_change:  # the step no longer moves the parameters
                break
            if abs(loss - prev_loss) < tolerance_change:  # the loss no longer changes
                break

        state.update(zip(_CARRIED, (d, t, old_dirs, old_stps, ro, H_diag, prev_flat_grad, prev_loss)))
        return orig_loss

    def _two_loop(self, state: dict, flat_grad: Any, old_dirs: list, old_stps: list, ro: list, H_diag: float) -> Any:
        r"""The two-loop recursion: :math:`-H g` for the L-BFGS inverse Hessian :math:`H` of the history."""
        num_old = len(old_dirs)
        al = state.setdefault("al", [None] * self.param_groups[0]["history_size"])
        if len(al) < num_old:  # history_size was raised between steps
            al.extend([None] * (num_old - len(al)))
        q = -flat_grad
        for i in range(num_old - 1, -1, -1):
            al[i] = float(old_stps[i].dot(q)) * ro[i]
            q = self._axpy(q, -al[i], old_dirs[i])
        r = q * H_diag
        for i in range(num_old):
            be_i = float(old_dirs[i].dot(r)) * ro[i]
            r = self._axpy(r, al[i] - be_i, old_stps[i])
        return r

    # ---- state dicts ----------------------------------------------------------------------------------
    def _load_param_state(self, name: str, i: int, st: dict, p: Tensor, group: dict) -> dict:
        """LBFGS keeps one global state, under the first parameter: counters, scalars and flat vectors."""
        if i != 0:
            raise ValueError(f"{name}: LBFGS keeps its state under parameter 0, got state for parameter {i}")
        known = _COUNTERS | _SCALARS | _VECTORS | _VECTOR_LISTS | _SCALAR_LISTS
        if not _COUNTERS <= set(st) <= known:
            raise ValueError(
                f"{name}: state has keys {sorted(st)}; LBFGS expects {sorted(_COUNTERS)} and some of {sorted(known)}"
            )
        n = self._numel()
        dtype = np.result_type(*[q.dtype for q in self._params])

        def vector(key: str, v: Any) -> Any:
            if isinstance(v, Tensor):
                v = _array(v)
            a = backend.to_backend(v)
            if a.shape != (n,):
                raise ValueError(f"{name}: state '{key}' has shape {tuple(a.shape)}, expected ({n},)")
            return a.astype(dtype) if a.dtype != dtype else a

        def scalar(v: Any) -> Any:
            if isinstance(v, Tensor):
                v = _array(v)
            if isinstance(v, (np.ndarray, np.generic, backend.ndarray)):
                v = v.item()
            return v

        out: dict = {}
        for k, v in st.items():
            if k in _VECTORS:
                out[k] = None if v is None else vector(k, v)
            elif k in _VECTOR_LISTS:
                out[k] = [vector(k, a) for a in v]
            elif k in _SCALAR_LISTS:
                out[k] = [None if a is None else float(scalar(a)) for a in v]
            else:
                out[k] = scalar(v)
        return out
