"""JAX: ``jit(value_and_grad(loss))`` with the time loop as ``lax.scan`` (compiled once per shape).

Optional: reported as absent when JAX is not installed. Gates are concatenated (one recurrent matmul
per step) and the input projection is one matmul over all steps, as in the NumPy reference; XLA then
fuses the elementwise work. The first call compiles; the benchmark's warm-up steps absorb that.
Stacked and bidirectional configs scan each layer and direction (``reverse=True`` for the reverse
one); with lengths the scanned step keeps its new state only where t < lengths[b] (``jnp.where``) and
outputs zero outside the sequence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import Config, loss_scale, param_names, valid_mask

NAME = "jax_scan"
LABEL = "JAX jit(value_and_grad(lax.scan))"


def available() -> tuple[bool, str]:
    try:
        import jax
    except ImportError as e:
        return False, f"jax not installed ({e})"
    return True, f"jax {jax.__version__} ({jax.default_backend()})"


def supports(cfg: Config) -> tuple[bool, str]:
    return True, ""


def _cell_step(cell: str, W_hh: Any, b_hh: Any) -> Any:
    """step(state, xw_t) -> (state, h_t) for one cell; xw_t already holds x_t W_ihᵀ + the input bias."""
    import jax
    import jax.numpy as jnp

    if cell == "lstm":

        def step(carry: tuple, xw_t: Any) -> tuple:
            h, c = carry
            i, f, g, o = jnp.split(xw_t + h @ W_hh.T, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

    elif cell == "gru":

        def step(h: Any, xw_t: Any) -> tuple:
            xr, xz, xn = jnp.split(xw_t, 3, axis=-1)
            hr, hz, hn = jnp.split(h @ W_hh.T + b_hh, 3, axis=-1)
            r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
            n = jnp.tanh(xn + r * hn)
            h = n + z * (h - n)
            return h, h

    else:

        def step(h: Any, xw_t: Any) -> tuple:
            h = jnp.tanh(xw_t + h @ W_hh.T)
            return h, h

    return step


def _direction(cell: str, params: dict, sfx: str, x: Any, valid: Any, reverse: bool) -> Any:
    """One layer and direction over time-major x (T, B, In): its outputs (T, B, H)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    W_ih, W_hh, b_ih, b_hh = (params[w + sfx] for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    T, B, I = x.shape
    H = W_hh.shape[1]
    b_in = b_ih if cell == "gru" else b_ih + b_hh  # GRU keeps b_hh inside the step (r scales b_hn)
    xw = (x.reshape(T * B, I) @ W_ih.T + b_in).reshape(T, B, W_ih.shape[0])
    h0 = jnp.zeros((B, H), x.dtype)
    init = (h0, h0) if cell == "lstm" else h0
    step = _cell_step(cell, W_hh, b_hh)
    if valid is None:
        _, hs = lax.scan(step, init, xw, reverse=reverse)
        return hs

    def masked(state: Any, inp: tuple) -> tuple:
        xw_t, m = inp  # m (B, 1): keep the new state only inside the sequence, output 0 outside
        new, h = step(state, xw_t)
        return jax.tree_util.tree_map(lambda a, b: jnp.where(m, a, b), new, state), h * m

    _, hs = lax.scan(masked, init, (xw, valid), reverse=reverse)
    return hs


def make_loss_fn(cfg: Config) -> Any:
    """loss(params, x) for the config's layer stack, time-major x (T, B, I), PyTorch-layout params."""
    import jax.numpy as jnp

    cell, scale = cfg.cell, loss_scale(cfg)
    valid = jnp.asarray(valid_mask(cfg)[:, :, None]) if cfg.with_lengths else None
    dirs = ("", "_reverse")[: cfg.directions]

    def loss_fn(params: dict, x: Any) -> Any:
        for k in range(cfg.layers):
            outs = [_direction(cell, params, f"_l{k}{d}", x, valid, d == "_reverse") for d in dirs]
            x = outs[0] if len(outs) == 1 else jnp.concatenate(outs, axis=-1)
        if valid is None:
            return jnp.mean(x * x)
        return jnp.sum(x * x) * scale  # padded outputs are zero

    return loss_fn


class JaxRunner:
    def __init__(self, cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type) -> None:
        import jax
        import jax.numpy as jnp

        dt = np.dtype(dtype)
        if dt == np.float64:
            jax.config.update("jax_enable_x64", True)  # otherwise JAX silently computes in float32
        self.jax = jax
        self.fn = jax.jit(jax.value_and_grad(make_loss_fn(cfg), argnums=(0, 1)))
        self.names = param_names(cfg)
        self.params = {k: jnp.asarray(np.asarray(weights[k], dtype=dt)) for k in self.names}
        self.x = jnp.asarray(np.asarray(x, dtype=dt))
        self.out: Any = None

    def step(self) -> None:
        out = self.fn(self.params, self.x)
        for leaf in self.jax.tree_util.tree_leaves(out):  # JAX dispatches asynchronously: wait for it
            leaf.block_until_ready()
        self.out = out

    def result(self) -> tuple[float, dict[str, np.ndarray]]:
        loss, (gp, gx) = self.out
        grads = {k: np.asarray(gp[k]) for k in self.names}
        grads["x"] = np.asarray(gx)
        return float(loss), grads


def build(cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32) -> JaxRunner:
    return JaxRunner(cfg, weights, x, dtype)
