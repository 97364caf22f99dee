"""JAX: ``jit(value_and_grad(loss))`` with the time loop as ``lax.scan`` (compiled once per shape).

Optional: reported as absent when JAX is not installed. Gates are concatenated (one recurrent matmul
per step) and the input projection is one matmul over all steps, as in the NumPy reference; XLA then
fuses the elementwise work. The first call compiles; the benchmark's warm-up steps absorb that.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import PARAM_NAMES, Config

NAME = "jax_scan"
LABEL = "JAX jit(value_and_grad(lax.scan))"


def available() -> tuple[bool, str]:
    try:
        import jax
    except ImportError as e:
        return False, f"jax not installed ({e})"
    return True, f"jax {jax.__version__} ({jax.default_backend()})"


def make_loss_fn(cell: str, hidden: int) -> Any:
    """loss(params, x) for one layer, time-major x (T, B, I); params are PyTorch-layout arrays."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    H = hidden

    def loss_fn(params: dict, x: Any) -> Any:
        W_ih, W_hh, b_ih, b_hh = (params[k] for k in PARAM_NAMES)
        T, B, I = x.shape
        b_in = b_ih if cell == "gru" else b_ih + b_hh  # GRU keeps b_hh inside the step (r scales b_hn)
        xw = (x.reshape(T * B, I) @ W_ih.T + b_in).reshape(T, B, W_ih.shape[0])
        h0 = jnp.zeros((B, H), x.dtype)
        if cell == "lstm":

            def step(carry: tuple, xw_t: Any) -> tuple:
                h, c = carry
                i, f, g, o = jnp.split(xw_t + h @ W_hh.T, 4, axis=-1)
                c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
                h = jax.nn.sigmoid(o) * jnp.tanh(c)
                return (h, c), h

            _, hs = lax.scan(step, (h0, h0), xw)
        elif cell == "gru":

            def step(h: Any, xw_t: Any) -> tuple:
                xr, xz, xn = jnp.split(xw_t, 3, axis=-1)
                hr, hz, hn = jnp.split(h @ W_hh.T + b_hh, 3, axis=-1)
                r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
                n = jnp.tanh(xn + r * hn)
                h = n + z * (h - n)
                return h, h

            _, hs = lax.scan(step, h0, xw)
        else:

            def step(h: Any, xw_t: Any) -> tuple:
                h = jnp.tanh(xw_t + h @ W_hh.T)
                return h, h

            _, hs = lax.scan(step, h0, xw)
        return jnp.mean(hs * hs)

    return loss_fn


class JaxRunner:
    def __init__(self, cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type) -> None:
        import jax
        import jax.numpy as jnp

        dt = np.dtype(dtype)
        if dt == np.float64:
            jax.config.update("jax_enable_x64", True)  # otherwise JAX silently computes in float32
        self.jax = jax
        self.fn = jax.jit(jax.value_and_grad(make_loss_fn(cfg.cell, cfg.hidden), argnums=(0, 1)))
        self.params = {k: jnp.asarray(np.asarray(weights[k], dtype=dt)) for k in PARAM_NAMES}
        self.x = jnp.asarray(np.asarray(x, dtype=dt))
        self.out: Any = None

    def step(self) -> None:
        out = self.fn(self.params, self.x)
        for leaf in self.jax.tree_util.tree_leaves(out):  # JAX dispatches asynchronously: wait for it
            leaf.block_until_ready()
        self.out = out

    def result(self) -> tuple[float, dict[str, np.ndarray]]:
        loss, (gp, gx) = self.out
        grads = {k: np.asarray(gp[k]) for k in PARAM_NAMES}
        grads["x"] = np.asarray(gx)
        return float(loss), grads


def build(cfg: Config, weights: dict[str, np.ndarray], x: np.ndarray, dtype: np.dtype | type = np.float32) -> JaxRunner:
    return JaxRunner(cfg, weights, x, dtype)
