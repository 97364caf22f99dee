"""One module per implementation of the BPTT benchmark step; each exposes NAME, LABEL, available() and
build(cfg, weights, x, dtype) -> Runner (see ``common.Runner``). Modules import their framework lazily,
inside ``available()``/``build()``, so a missing framework is reported as absent, never as a crash."""

IMPL_MODULES = (
    "numpy_ref",
    "tinygrad_impl",
    "tinygrad_composed",
    "torch_fused",
    "torch_cells",
    "jax_scan",
    "dezero_impl",
)
