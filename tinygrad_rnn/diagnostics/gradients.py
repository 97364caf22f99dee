r"""Vanishing and exploding gradients through time, measured.

Backpropagation through time multiplies one Jacobian per step. For the vanilla tanh cell
h_t = tanh(W_hh h_{t-1} + W_ih x_t + b) (row vectors in the code: h_t = tanh(x_t W_ihᵀ + h_{t-1} W_hhᵀ + b))

    ∂h_{s}/∂h_{s-1} = diag(1 − h_s²) W_hh                                       (one step)
    ∂h_T/∂h_t      = Π_{s=t+1}^{T} diag(1 − h_s²) W_hh                           (T − t steps)
    ∂L/∂h_t        = ∂L/∂h_T · ∂h_T/∂h_t   (row vector; in column form Π W_hhᵀ diag(1 − h_s²) ∂L/∂h_T)

so ‖∂L/∂h_t‖ ≤ ‖∂L/∂h_T‖ · (‖W_hh‖₂ · max|tanh'|)^{T−t}, and max|tanh'| = 1. Near h = 0 the product
behaves like W_hh^{T−t}, whose growth per step tends to the spectral radius ρ(W_hh): ρ·max|tanh'| < 1
predicts vanishing; ρ > 1 lets the gradient grow (explode) unless the units saturate (1 − h² → 0).
An LSTM's cell path has ∂c_s/∂c_{s-1} = diag(f_s) (plus terms through h), so a forget gate near 1
(bias +1) keeps the product from shrinking geometrically.

Functions here:

* :func:`hidden_state_grad_norms`: ‖∂L/∂h_t‖ for every t from ONE forward and ONE backward pass
  (every h_t is kept on the tape with ``retain_grad()``).
* :func:`jacobian_products`: the exact per-step Jacobians ∂s_t/∂s_{t-1} of a (small) batch and their
  products ∂s_T/∂s_t, with norms and leading singular values.
* :func:`spectral_radius`, :func:`decay_rate` (fitted per-step factor), and the plotting helpers
  :func:`plot_gradient_norms`, :func:`plot_gradient_heatmap` (matplotlib, imported only when called).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..autograd import grad as _grad
from ..autograd import no_grad
from ..backend import to_numpy
from ..tensor import Tensor

Step = Callable[[Tensor, Any], Any]  # step(x_t, state) -> state; state: Tensor or tuple (h first)


# ---- helpers -----------------------------------------------------------------------------------------
def _check_step(cell: Any, where: str) -> Step:
    if not callable(cell):
        raise TypeError(
            f"{where}: cell must be a cell module or a callable step(x_t, state) -> state, got {type(cell).__name__}"
        )
    return cell


def _as_input(x: Any, where: str) -> Tensor:
    if isinstance(x, Tensor):
        t = x
    elif isinstance(x, np.ndarray) or hasattr(x, "__array__"):
        t = Tensor(x)  # keeps the array's dtype (float64 stays float64)
    else:
        raise TypeError(f"{where}: x must be an array or Tensor of shape (T, N, I), got {type(x).__name__}")
    if t.ndim != 3:
        raise ValueError(f"{where}: x must have shape (T, N, I) (time first), got shape {t.shape}")
    if t.shape[0] < 1 or t.shape[1] < 1:
        raise ValueError(f"{where}: x needs at least one time step and one sequence, got shape {t.shape}")
    return t


def _data(g: Any) -> Any:
    return g.array if isinstance(g, Tensor) else g


def _hidden(state: Any, where: str) -> Tensor:
    """The hidden state h of a state: the tensor itself, or the first element of an (h, c) tuple."""
    h = state[0] if isinstance(state, (tuple, list)) else state
    if not isinstance(h, Tensor):
        raise TypeError(
            f"{where}: the step must return a Tensor or a tuple whose first element is the hidden "
            f"state Tensor, got {type(h).__name__}"
        )
    return h


def _parts(state: Any) -> list:
    return list(state) if isinstance(state, (tuple, list)) else [state]


def _rebuild(state: Any, parts: list) -> Any:
    return type(state)(parts) if isinstance(state, (tuple, list)) else parts[0]


def _unroll(step: Step, x: Tensor, h0: Any, where: str) -> list:
    """Run the step over all T inputs and return the hidden states h_1..h_T (all on one tape)."""
    state, hs = h0, []
    for t in range(x.shape[0]):
        state = step(x[t], state)
        hs.append(_hidden(state, where))
    return hs


# ---- (a) ‖∂L/∂h_t‖ for every t -----------------------------------------------------------------------
def hidden_state_grad_norms(cell: Any, x: Any, loss_fn: Callable[[list], Tensor], h0: Any = None) -> np.ndarray:
    r"""‖∂L/∂h_t‖ (Frobenius over the batch and hidden units) for t = 1..T, as a ``(T,)`` array.

    ``cell`` is an ``nn.RNNCell``/``GRUCell``/``LSTMCell`` or any ``step(x_t, state) -> state`` (for an
    LSTM the state is ``(h, c)`` and h is its first element); ``x`` is ``(T, N, I)``; ``loss_fn`` gets
    the list ``[h_1, …, h_T]`` and returns a scalar loss. Index ``i`` of the result is h_{i+1}, so the
    last entry is lag 0 when the loss reads h_T.

    One forward and one backward pass: each h_t is marked with ``retain_grad()``, so the backward pass
    that fills the parameters' gradients leaves ∂L/∂h_t (the *total* derivative, through all later
    steps) in ``h_t.grad``; nothing is rerun per step. An h_t the loss does not depend on gets norm 0.
    Parameter ``.grad`` fields are accumulated as by any ``backward()``; zero them if that matters.
    """
    where = "hidden_state_grad_norms"
    step = _check_step(cell, where)
    x = _as_input(x, where)
    if not callable(loss_fn):
        raise TypeError(f"{where}: loss_fn must be callable (list of h_t -> scalar Tensor)")
    hs = _unroll(step, x, h0, where)
    for t, h in enumerate(hs, 1):
        if not h.requires_grad:  # off the tape: its gradient cannot be read, and 0 would be a lie
            raise RuntimeError(
                f"{where}: h_{t} does not require grad: the step put no trainable parameter "
                "(or h0 with requires_grad) on the tape (inside no_grad?)"
            )
        h.retain_grad()
    loss = loss_fn(hs)
    if not isinstance(loss, Tensor) or loss.array.size != 1:
        shape = loss.shape if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"{where}: loss_fn must return a scalar (one-element) Tensor, got {shape}")
    loss.backward()
    return np.array([0.0 if h.grad is None else float(np.linalg.norm(to_numpy(_data(h.grad)))) for h in hs])


# ---- (b) exact Jacobians ∂s_T/∂s_t ----------------------------------------------------------------------
def jacobian_products(cell: Any, x: Any, h0: Any = None, k: int = 3) -> dict:
    r"""Exact per-step state Jacobians and their products ∂s_T/∂s_t, per sequence of a small batch.

    The state s is h (RNN, GRU) or the concatenation [h, c] (LSTM; any tuple state is concatenated in
    order), of size D. For each step s_t = step(x_t, s_{t-1}) we take J_t = ∂s_t/∂s_{t-1} (D × D) with
    D vector–Jacobian products ``tg.grad(s_t, s_{t-1}, grad_outputs=e_j)``: the one-hot e_j is set in
    *every* row of the batch at once, which yields row j of every sequence's Jacobian in one call because
    a recurrent cell treats the rows of a batch independently (a step that mixes rows, e.g. batch
    normalisation, would need N = 1). Then, backwards from P_T = I,

        P_t = ∂s_T/∂s_t = J_T J_{T-1} ⋯ J_{t+1}          (tanh RNN: J_s = diag(1 − h_s²) W_hh)

    Returns a dict of NumPy arrays (t = 1..T along the first axis, matching
    :func:`hidden_state_grad_norms`; the last entry is P_T = I):

    ``step_jacobians`` (T, N, D, D): J_t = ∂s_t/∂s_{t-1} (so entry 0 is ∂s_1/∂s_0);
    ``products`` (T, N, D, D): P_t = ∂s_T/∂s_t;  ``norms`` (T, N): ‖P_t‖₂ (largest singular value);
    ``singular_values`` (T, N, min(k, D)): the leading singular values of P_t;  ``lags`` (T,): T − t.

    Cost: T forward steps plus T·D single-step backward passes (each O(N·D·G) for G gate units), then
    T products and SVDs of D × D matrices per sequence, O(T·N·D³), and O(T·N·D²) memory. Fine for the
    small D and N of a diagnosis (D = 64, T = 200: 12,800 one-step VJPs); use
    :func:`hidden_state_grad_norms` (one backward pass) for big models.
    """
    where = "jacobian_products"
    step = _check_step(cell, where)
    x = _as_input(x, where)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"{where}: k (number of singular values) must be a positive int, got {k!r}")
    T = x.shape[0]
    if h0 is None:
        # the cell makes its own zero state; we need it as tensors to differentiate with respect to
        with no_grad():
            probe = step(x[0], None)
        h0 = _rebuild(probe, [Tensor(np.zeros(p.shape, dtype=p.array.dtype)) for p in _parts(probe)])
    state = h0
    jac: list = []
    for t in range(T):
        # fresh leaves for s_{t-1}: the graph of one step only, so each VJP costs one step
        prev = [Tensor(to_numpy(p.array).copy(), requires_grad=True) for p in _parts(state)]
        new = step(x[t], _rebuild(state, prev))
        outs = _parts(new)
        _hidden(new, where)  # the same type check as the one-pass path
        sizes = [o.shape[-1] for o in outs]
        if [p.shape for p in prev] != [o.shape for o in outs]:
            raise ValueError(
                f"{where}: the step must return a state of the same shapes as it takes, got "
                f"{[o.shape for o in outs]} from {[p.shape for p in prev]}"
            )
        N, D = outs[0].shape[0], sum(sizes)
        J = np.zeros((N, D, D))
        for j in range(D):
            seeds, off = [], 0
            for o, n in zip(outs, sizes):
                g = np.zeros(o.shape, dtype=o.array.dtype)
                if off <= j < off + n:
                    g[:, j - off] = 1.0
                seeds.append(g)
                off += n
            grads = _grad(outs, prev, grad_outputs=seeds, retain_graph=True, allow_unused=True)
            # row j of J: ∂s_t[j]/∂s_{t-1}, across all N sequences at once
            J[:, j, :] = np.concatenate(
                [np.zeros(p.shape) if g is None else to_numpy(g.array) for g, p in zip(grads, prev)], axis=-1
            )
        jac.append(J)
        state = _rebuild(new, [Tensor(to_numpy(o.array)) for o in outs])
    J_all = np.stack(jac)  # (T, N, D, D)
    N, D = J_all.shape[1], J_all.shape[2]
    P = np.empty_like(J_all)
    P[T - 1] = np.eye(D)
    for t in range(T - 2, -1, -1):  # P_t = P_{t+1} J_{t+1} (0-based: J_all[t+1])
        P[t] = P[t + 1] @ J_all[t + 1]
    sv = np.linalg.svd(P, compute_uv=False)  # (T, N, D), descending
    return {
        "step_jacobians": J_all,
        "products": P,
        "norms": sv[..., 0],
        "singular_values": sv[..., : min(k, D)],
        "lags": np.arange(T - 1, -1, -1),
    }


# ---- (c), (d) ---------------------------------------------------------------------------------------------
def spectral_radius(W: Any) -> float:
    """ρ(W) = max |λ_i(W)| of a square matrix (Tensor or array); the per-step growth of W^n."""
    a = to_numpy(W.array) if isinstance(W, Tensor) else np.asarray(W)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"spectral_radius: W must be a square matrix, got shape {a.shape}")
    if a.size == 0:
        raise ValueError("spectral_radius: W is empty")
    if not np.all(np.isfinite(a)):
        raise ValueError("spectral_radius: W has NaN or Inf entries")
    return float(np.max(np.abs(np.linalg.eigvals(a.astype(np.float64)))))


def decay_rate(norms: Any, min_lag: int = 0, max_lag: int | None = None) -> float:
    r"""Per-step factor r of ‖∂L/∂h_t‖ ≈ C · r^{lag}, fitted by least squares on log norms.

    ``norms`` is indexed by t = 1..T as :func:`hidden_state_grad_norms` returns it, with lag T − t (the
    last entry is lag 0). Fit log‖g_t‖ = a + b·lag over ``min_lag ≤ lag ≤ max_lag`` and return e^b:
    r < 1 vanishing, r > 1 exploding. Zero / non-finite norms (no gradient, or overflow) are left out.
    """
    n = np.asarray(norms, dtype=np.float64)
    if n.ndim != 1:
        raise ValueError(f"decay_rate: norms must be a 1-D array (one norm per step), got shape {n.shape}")
    if min_lag < 0 or (max_lag is not None and max_lag < min_lag):
        raise ValueError(f"decay_rate: need 0 <= min_lag <= max_lag, got {min_lag}, {max_lag}")
    lags = np.arange(n.size - 1, -1, -1, dtype=np.float64)
    keep = np.isfinite(n) & (n > 0) & (lags >= min_lag)
    if max_lag is not None:
        keep &= lags <= max_lag
    if keep.sum() < 2:
        raise ValueError(f"decay_rate: need at least 2 positive finite norms in the lag range, got {int(keep.sum())}")
    b, _ = np.polyfit(lags[keep], np.log(n[keep]), 1)
    return float(np.exp(b))


# ---- (e) pictures -------------------------------------------------------------------------------------------
def _pyplot(where: str) -> Any:
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(f"{where}: needs matplotlib (pip install matplotlib, or the examples extra)") from e
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def plot_gradient_norms(curves: dict, path: str, title: str = "‖∂L/∂h_t‖ vs lag") -> str:
    """Write a PNG of ‖∂L/∂h_t‖ against lag T − t (log y axis), one line per ``{label: norms}``."""
    if not curves:
        raise ValueError("plot_gradient_norms: curves is empty; pass {label: norms}")
    plt = _pyplot("plot_gradient_norms")
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, norms in curves.items():
        n = np.asarray(norms, dtype=np.float64)
        lags = np.arange(n.size - 1, -1, -1)
        ok = n > 0  # log scale: zero norms cannot be drawn
        ax.semilogy(lags[ok], n[ok], label=str(label))
    ax.set_xlabel("lag T − t")
    ax.set_ylabel("‖∂L/∂h_t‖")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path


def plot_gradient_heatmap(
    norms_over_training: Sequence[Sequence[float]], path: str, title: str = "log10 ‖∂L/∂h_t‖ over training"
) -> str:
    """Write a PNG heat map of log10 ‖∂L/∂h_t‖: rows are training steps, columns t = 1..T."""
    m = np.asarray(norms_over_training, dtype=np.float64)
    if m.ndim != 2 or m.size == 0:
        raise ValueError(f"plot_gradient_heatmap: expected a (steps, T) array, got shape {m.shape}")
    plt = _pyplot("plot_gradient_heatmap")
    with np.errstate(divide="ignore"):
        z = np.log10(np.where(m > 0, m, np.nan))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    im = ax.imshow(
        z, aspect="auto", origin="lower", cmap="viridis", extent=(0.5, m.shape[1] + 0.5, -0.5, m.shape[0] - 0.5)
    )
    fig.colorbar(im, ax=ax, label="log10 ‖∂L/∂h_t‖")
    ax.set_xlabel("time step t")
    ax.set_ylabel("training step")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path
