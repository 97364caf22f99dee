r"""Second-order tools built on double backward: Hessian-vector products, conjugate gradient, a
Hessian-free (truncated Newton) step, Gauss–Newton products and the top Hessian eigenvalues.

Everything here works for any model whose loss is built from the framework's ops, because every op
supports ``create_graph=True``: the gradient g(θ) = ∇L(θ) is itself a graph, and differentiating the
scalar ⟨g(θ), v⟩ (v held fixed) gives

    ∇_θ ⟨∇L(θ), v⟩ = H(θ) v                                  (Pearlmutter's trick)

at the cost of about two extra backward passes, never forming the n × n Hessian H.

Conventions: ``params`` is a sequence of tensors that require grad (e.g. ``list(model.parameters())``);
``loss_fn()`` rebuilds the scalar loss from their *current* values (it is called again after every update);
vectors are lists of arrays with the parameters' shapes, or flat NumPy vectors via ``flat``/``unflat``.
The linear algebra (CG, power iteration) runs on the host in float64 whatever the parameters' dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import autograd, backend
from ..operands import check_tensors
from ..tensor import Tensor

LossFn = Callable[[], Tensor]
Vectors = Sequence[Any]


# ---------------------------------------------------------------------------------------------------
# list-of-arrays <-> one vector
# ---------------------------------------------------------------------------------------------------
def _check_params(params: Sequence[Tensor], what: str) -> list:
    params = list(params)
    if not params:
        raise ValueError(f"{what}: params is empty; pass e.g. list(model.parameters())")
    check_tensors(what, params, "parameter")
    for i, p in enumerate(params):
        if not p.requires_grad:
            raise ValueError(f"{what}: params[{i}] (shape {p.shape}) does not require grad")
    return params


def _host64(a: Any) -> np.ndarray:
    """A Tensor or backend array as a float64 host array (the linear algebra here runs on the host)."""
    return np.asarray(a.numpy() if isinstance(a, Tensor) else backend.to_numpy(a), dtype=np.float64)


def _check_vectors(params: Sequence[Tensor], vectors: Vectors, what: str) -> list:
    """The vectors as host float64 arrays, after checking there is one per parameter with its shape."""
    if isinstance(vectors, (np.ndarray, Tensor)):
        raise TypeError(
            f"{what}: vectors must be a list with one array per parameter, not one array; "
            "use unflat(v, params) to split a flat vector"
        )
    vectors = list(vectors)
    if len(vectors) != len(params):
        raise ValueError(f"{what}: {len(vectors)} vectors for {len(params)} params")
    out = []
    for i, (p, v) in enumerate(zip(params, vectors)):
        a = _host64(v)
        if a.shape != p.shape:
            raise ValueError(f"{what}: vectors[{i}] has shape {a.shape} but params[{i}] has shape {p.shape}")
        out.append(a)
    return out


def flat(arrays: Sequence[Any]) -> np.ndarray:
    """Concatenate arrays (or tensors) into one float64 host vector, in order, each raveled C-style."""
    parts = [_host64(a).ravel() for a in arrays]
    return np.concatenate(parts) if parts else np.zeros(0)


def unflat(vector: Any, params: Sequence[Tensor]) -> list:
    """Split a flat vector back into float64 arrays shaped like ``params`` (the inverse of ``flat``)."""
    v = np.asarray(vector, dtype=np.float64)
    n = sum(int(np.prod(p.shape)) for p in params)
    if v.ndim != 1 or v.size != n:
        raise ValueError(f"unflat: vector of shape {v.shape} for params with {n} entries in all")
    out, k = [], 0
    for p in params:
        m = int(np.prod(p.shape))
        out.append(v[k : k + m].reshape(p.shape))
        k += m
    return out


# ---------------------------------------------------------------------------------------------------
# curvature-vector products
# ---------------------------------------------------------------------------------------------------
def _scalar_loss(loss_fn: LossFn, what: str) -> Tensor:
    loss = loss_fn()
    if not isinstance(loss, Tensor):
        raise TypeError(f"{what}: loss_fn() returned a {type(loss).__name__}, not a Tensor")
    if loss.array.size != 1:
        raise ValueError(
            f"{what}: loss_fn() must return a scalar loss; got shape {loss.shape} (reduce it with .mean() or .sum())"
        )
    return loss


def _const(a: np.ndarray, like: Tensor) -> Tensor:
    return Tensor(backend.to_backend(a, like.array.dtype), requires_grad=False)


def _host_grads(params: Sequence[Tensor], grads: Sequence[Tensor | None], scale: float = 1.0) -> list:
    """``scale`` times each gradient as a float64 host array, zeros for a parameter that got none."""
    return [np.zeros(p.shape) if g is None else scale * _host64(g) for p, g in zip(params, grads)]


def _inner(grads: Sequence[Tensor | None], vs: list) -> Tensor | None:
    """Σ_i ⟨g_i, v_i⟩ (each v_i a constant) as a graph, or None when no gradient has one."""
    dot = None
    for g, v in zip(grads, vs):
        # a gradient with no graph (a parameter entering the loss only linearly) has zero derivative
        if g is None or not g.requires_grad:
            continue
        term = (g * _const(v, g)).sum()
        dot = term if dot is None else dot + term
    return dot


def gradient(loss_fn: LossFn, params: Sequence[Tensor]) -> tuple[float, list]:
    """(L(θ), ∇L(θ)) with the gradient as float64 host arrays (one backward pass)."""
    params = _check_params(params, "gradient")
    loss = _scalar_loss(loss_fn, "gradient")
    return float(loss.item()), _host_grads(params, autograd.grad(loss, params, allow_unused=True))


def hvp(loss_fn: LossFn, params: Sequence[Tensor], vectors: Vectors) -> list:
    r"""Hessian-vector product H v, H = ∇²L(θ), by double backward.

        g = ∇_θ L  (built with create_graph=True, so g is a differentiable graph of θ)
        H v = ∇_θ Σ_i ⟨g_i, v_i⟩       (v constant)

    Returns float64 host arrays shaped like ``params``. A parameter the loss does not use gets zeros.
    """
    params = _check_params(params, "hvp")
    vs = _check_vectors(params, vectors, "hvp")
    loss = _scalar_loss(loss_fn, "hvp")
    dot = _inner(autograd.grad(loss, params, create_graph=True, allow_unused=True), vs)
    if dot is None:  # the loss is at most linear in every parameter: H = 0
        return [np.zeros(p.shape) for p in params]
    return _host_grads(params, autograd.grad(dot, params, allow_unused=True))


def gauss_newton_vector_product(
    residual_fn: Callable[[], Tensor], params: Sequence[Tensor], vectors: Vectors, scale: float | None = None
) -> list:
    r"""Gauss–Newton product G v = scale · Jᵀ (J v), J = ∂r/∂θ, for a squared loss L = (scale/2) ‖r(θ)‖².

    ``scale`` defaults to 2 / r.size, the Gauss–Newton matrix of ``mean(r²)`` (i.e. ``F.mse_loss``).
    G is positive semi-definite whatever the model, which makes it the safer curvature for truncated
    Newton on non-convex losses; it equals H when r is linear in θ. J v is got from two backward passes
    (the "double-backward trick"): with a dummy u, Jᵀu = ∇_θ⟨r, u⟩ is linear in u, so ∇_u ⟨Jᵀu, v⟩ = J v.
    """
    params = _check_params(params, "gauss_newton_vector_product")
    vs = _check_vectors(params, vectors, "gauss_newton_vector_product")
    r = residual_fn()
    if not isinstance(r, Tensor):
        raise TypeError(f"gauss_newton_vector_product: residual_fn() returned a {type(r).__name__}, not a Tensor")
    c = 2.0 / r.array.size if scale is None else float(scale)
    u = Tensor(backend.to_backend(np.zeros(r.shape), r.array.dtype), requires_grad=True)
    jtu = autograd.grad(r, params, grad_outputs=u, create_graph=True, retain_graph=True, allow_unused=True)
    dot = _inner(jtu, vs)
    if dot is None:
        return [np.zeros(p.shape) for p in params]
    (jv,) = autograd.grad(dot, u, allow_unused=True)
    if jv is None:
        return [np.zeros(p.shape) for p in params]
    return _host_grads(params, autograd.grad(r, params, grad_outputs=jv.array, allow_unused=True), c)


# ---------------------------------------------------------------------------------------------------
# conjugate gradient
# ---------------------------------------------------------------------------------------------------
def conjugate_gradient(
    Av: Callable[[np.ndarray], np.ndarray],
    b: Any,
    iters: int = 50,
    tol: float = 1e-10,
    damping: float = 0.0,
    x0: Any = None,
) -> tuple[np.ndarray, dict]:
    r"""Solve (A + λI) x = b for symmetric positive-definite A given only v ↦ A v (λ = ``damping``).

    Standard CG: r₀ = b − (A+λI)x₀, p₀ = r₀; α_k = rₖᵀrₖ / pₖᵀ(A+λI)pₖ, x ← x + α p, r ← r − α (A+λI)p,
    β = r_{k+1}ᵀr_{k+1} / rₖᵀrₖ, p ← r + β p. Stops when ‖r‖ ≤ tol·‖b‖ or after ``iters`` products.
    If a direction of non-positive curvature appears (pᵀ(A+λI)p ≤ 0, possible for an indefinite Hessian),
    it stops there and returns the iterate so far (truncated Newton's usual safeguard; at k = 0 that is x₀,
    which for x₀ = 0 makes the caller fall back to the gradient direction).
    Returns (x, stats) with stats = {iters, residual_norm, relative_residual, negative_curvature}.
    """
    b = np.asarray(b, dtype=np.float64)
    if b.ndim != 1:
        raise ValueError(f"conjugate_gradient: b must be a flat vector; got shape {b.shape}")
    if iters < 1:
        raise ValueError(f"conjugate_gradient: iters must be >= 1; got {iters}")
    if damping < 0:
        raise ValueError(f"conjugate_gradient: damping must be >= 0; got {damping}")

    def op(v: np.ndarray) -> np.ndarray:
        w = np.asarray(Av(v), dtype=np.float64)
        if w.shape != v.shape:
            raise ValueError(f"conjugate_gradient: Av returned shape {w.shape} for a vector of shape {v.shape}")
        return w + damping * v

    x = np.zeros_like(b) if x0 is None else np.array(x0, dtype=np.float64)
    r = b - op(x) if x0 is not None else b.copy()
    p = r.copy()
    rr = float(r @ r)
    bnorm = float(np.linalg.norm(b)) or 1.0
    k, neg = 0, False
    while k < iters and np.sqrt(rr) > tol * bnorm:
        Ap = op(p)
        k += 1
        pAp = float(p @ Ap)
        if pAp <= 0:
            neg = True
            break
        alpha = rr / pAp
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, {
        "iters": k,
        "residual_norm": float(np.sqrt(rr)),
        "relative_residual": float(np.sqrt(rr)) / bnorm,
        "negative_curvature": neg,
    }


# ---------------------------------------------------------------------------------------------------
# Hessian-free step
# ---------------------------------------------------------------------------------------------------
def _set_params(params: Sequence[Tensor], arrays: Sequence[np.ndarray]) -> None:
    # rebinding .array (not writing in place) keeps any graph built from the old values intact
    for p, a in zip(params, arrays):
        p.array = backend.to_backend(np.asarray(a), p.array.dtype)


def truncated_newton_step(
    loss_fn: LossFn,
    params: Sequence[Tensor],
    cg_iters: int = 10,
    damping: float = 1e-3,
    lr: float = 1.0,
    residual_fn: Callable[[], Tensor] | None = None,
    tol: float = 1e-10,
) -> dict:
    r"""One Hessian-free (truncated Newton) step, applied in place: θ ← θ + lr · d with

        (B + λI) d = −g,   g = ∇L(θ),  λ = ``damping``,

    solved approximately by at most ``cg_iters`` CG iterations, B v from ``hvp`` (B = H) or, when
    ``residual_fn`` is given, from ``gauss_newton_vector_product`` (B = G, PSD, for L = mean(r²); then
    ``loss_fn`` must be that loss). For a non-convex loss H can be indefinite and the pure Newton direction
    can point uphill: damping (Levenberg–Marquardt style) and/or Gauss–Newton curvature are the safeguards;
    CG also stops at the first direction of negative curvature. If CG returns d = 0 (negative curvature at
    once) or d is not a descent direction, the step falls back to d = −g / (1 + λ).

    Returns stats: loss_before, loss_after, grad_norm, step_norm, cg_iters, relative_residual,
    negative_curvature, fallback, and ``grad_evals`` = 1 + (CG iterations used): the gradient plus one
    curvature product per CG iteration, each counted as one gradient-evaluation equivalent (an HVP is a
    forward and about two backward passes, so this undercounts wall time by up to ~2x); the forward-only
    loss evaluation after the step is not counted.
    """
    params = _check_params(params, "truncated_newton_step")
    if cg_iters < 1:
        raise ValueError(f"truncated_newton_step: cg_iters must be >= 1; got {cg_iters}")
    loss0, g = gradient(loss_fn, params)
    gflat = flat(g)

    def Bv(v: np.ndarray) -> np.ndarray:
        vs = unflat(v, params)
        out = hvp(loss_fn, params, vs) if residual_fn is None else gauss_newton_vector_product(residual_fn, params, vs)
        return flat(out)

    d, st = conjugate_gradient(Bv, -gflat, iters=cg_iters, tol=tol, damping=damping)
    fallback = False
    if not np.any(d) or float(d @ gflat) >= 0:
        d, fallback = -gflat / (1.0 + damping), True
    start = [np.asarray(p.numpy(), dtype=np.float64) for p in params]
    _set_params(params, [s + lr * di for s, di in zip(start, unflat(d, params))])
    loss1 = float(_scalar_loss(loss_fn, "truncated_newton_step").item())
    return {
        "loss_before": loss0,
        "loss_after": loss1,
        "grad_norm": float(np.linalg.norm(gflat)),
        "step_norm": float(lr * np.linalg.norm(d)),
        "cg_iters": st["iters"],
        "relative_residual": st["relative_residual"],
        "negative_curvature": st["negative_curvature"],
        "fallback": fallback,
        "grad_evals": 1 + st["iters"],
    }


# ---------------------------------------------------------------------------------------------------
# top Hessian eigenvalues
# ---------------------------------------------------------------------------------------------------
def hessian_top_eigenvalues(
    loss_fn: LossFn, params: Sequence[Tensor], k: int = 1, iters: int = 50, tol: float = 1e-6, seed: int = 0
) -> dict:
    r"""The ``k`` largest-magnitude eigenvalues of H = ∇²L(θ), by power iteration with deflation.

    For eigenpair j, iterate v ← H̃ v / ‖H̃ v‖ with the deflated operator
    H̃ v = H v − Σ_{i<j} λ_i u_i (u_iᵀ v) (and v kept orthogonal to the found u_i), starting from a random
    unit vector; λ_j is the Rayleigh quotient vᵀ H̃ v. It stops when λ changes by less than tol·|λ|.
    Power iteration converges to the largest |λ| (it may be negative: a saddle direction), at a rate set by
    |λ_{j+1}/λ_j|; close magnitudes converge slowly. Each iteration is one HVP (≈ one gradient evaluation).
    Returns {"eigenvalues": [...] (ordered as found, largest |λ| first), "eigenvectors": [flat arrays],
    "iters": [per eigenpair], "hvps": total}.
    """
    params = _check_params(params, "hessian_top_eigenvalues")
    n = sum(int(np.prod(p.shape)) for p in params)
    if not 1 <= k <= n:
        raise ValueError(f"hessian_top_eigenvalues: k must be in 1..{n} (the number of parameters); got {k}")
    if iters < 1:
        raise ValueError(f"hessian_top_eigenvalues: iters must be >= 1; got {iters}")
    rng = np.random.default_rng(seed)
    vals: list = []
    vecs: list = []
    its: list = []
    total = 0

    def deflate(v: np.ndarray) -> np.ndarray:
        for u in vecs:
            v = v - u * (u @ v)
        return v

    for _ in range(k):
        v = deflate(rng.standard_normal(n))
        v /= np.linalg.norm(v)
        lam, used = 0.0, 0
        for it in range(iters):
            hv = flat(hvp(loss_fn, params, unflat(v, params)))
            total += 1
            used = it + 1
            hv = deflate(hv)  # the found eigen-directions are projected out, so H restricted to their complement
            new = float(v @ hv)
            norm = float(np.linalg.norm(hv))
            if norm == 0.0:  # H vanishes on what is left
                lam = 0.0
                break
            v = hv / norm
            if it > 0 and abs(new - lam) <= tol * max(abs(new), 1e-12):
                lam = new
                break
            lam = new
        vals.append(lam)
        vecs.append(v)
        its.append(used)
    return {"eigenvalues": vals, "eigenvectors": vecs, "iters": its, "hvps": total}


__all__ = [
    "conjugate_gradient",
    "flat",
    "gauss_newton_vector_product",
    "gradient",
    "hessian_top_eigenvalues",
    "hvp",
    "truncated_newton_step",
    "unflat",
]
