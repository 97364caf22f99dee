"""One module per implementation of the BPTT benchmark step (``IMPL_MODULES``); each exposes NAME, LABEL,
available() and build(cfg, weights, x, dtype) -> Runner (see ``common.Runner``), optionally
supports(cfg) -> (bool, why not) (without it: the plain one-layer configs only) and ENV (variables
set, or removed where None, in its worker before anything is imported). Modules import their
framework lazily, inside ``available()``/``build()``, so a missing framework is reported as absent,
never as a crash. The other modules here (``common``, ``probes``, ``machine``, ``interleave``,
``report``, ``targets``) are the driver's shared helpers."""

IMPL_MODULES = (
    "numpy_ref",
    "tinygrad_impl",
    "tinygrad_numpy_kernels",
    "tinygrad_composed",
    "torch_fused",
    "torch_cells",
    "jax_scan",
    "dezero_impl",
)
