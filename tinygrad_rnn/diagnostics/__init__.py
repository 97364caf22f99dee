"""Gradient pathologies: measure vanishing/exploding gradients through time, regularise them, and look
at curvature (Hessian-vector products, truncated Newton, Hessian eigenvalues)."""

from .gradients import (
    decay_rate,
    hidden_state_grad_norms,
    jacobian_products,
    plot_gradient_heatmap,
    plot_gradient_norms,
    spectral_radius,
)
from .regularizers import ClipStats, clip_and_count, gradient_flow_penalty
from .second_order import (
    conjugate_gradient,
    flat,
    gauss_newton_vector_product,
    gradient,
    hessian_top_eigenvalues,
    hvp,
    truncated_newton_step,
    unflat,
)

__all__ = [
    "hidden_state_grad_norms",
    "jacobian_products",
    "spectral_radius",
    "decay_rate",
    "plot_gradient_norms",
    "plot_gradient_heatmap",
    "gradient_flow_penalty",
    "clip_and_count",
    "ClipStats",
    "hvp",
    "flat",
    "unflat",
    "gradient",
    "gauss_newton_vector_product",
    "conjugate_gradient",
    "truncated_newton_step",
    "hessian_top_eigenvalues",
]
