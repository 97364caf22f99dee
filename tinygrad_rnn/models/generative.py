r"""The syllabus tail: a tiny GAN and a denoising diffusion model, built from the framework's own ops.

Neither is recurrent; they are here to show the tape handles any composition of ops (two networks
trained against each other, a network conditioned on a time embedding) and as the notes' last topics.

**GAN** (:class:`GAN`, :func:`train_gan`): a generator :math:`G(z)` maps noise :math:`z \sim N(0, I)` to data
space, a discriminator :math:`D(x)` outputs a logit "x is real". With :math:`\ell(s, t)` the binary cross-entropy
on logits (``binary_cross_entropy_with_logits``):

.. math::

    L_D = \ell(D(x), 1) + \ell(D(G(z)), 0), \qquad L_G = \ell(D(G(z)), 1)

:math:`L_G` is the *non-saturating* generator loss :math:`-\log \sigma(D(G(z)))`: early on, when D rejects the
fakes easily, :math:`\log(1 - \sigma(D(G(z))))` would have a vanishing gradient, this one does not. The two
players step with two Adam optimizers, alternately.

**Diffusion** (:class:`Diffusion`): a fixed forward process adds Gaussian noise in T steps with a linear
:math:`\beta_t` schedule, :math:`q(x_t | x_0) = N(\sqrt{\bar\alpha_t} x_0, (1 - \bar\alpha_t) I)`,
:math:`\bar\alpha_t = \prod_{s \le t} (1 - \beta_s)`. An MLP :math:`\epsilon_\theta(x_t, t)` (input: the point
and a sinusoidal embedding of t) is trained by MSE to predict the noise :math:`\epsilon` in
:math:`x_t = \sqrt{\bar\alpha_t} x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon`. Sampling reverses the chain from
:math:`x_T \sim N(0, I)` (ancestral sampling, DDPM):

.. math::

    x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\,\epsilon_\theta(x_t, t)\Big)
              + \sigma_t z, \qquad \sigma_t^2 = \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\beta_t

(no noise on the last step). Randomness comes from ``tg.backend.host_rng()`` unless a seed is passed, so
``tg.manual_seed`` makes training and sampling repeatable.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..nn.layers import Linear, ReLU, Sequential
from ..nn.losses import binary_cross_entropy_with_logits, mse_loss
from ..nn.module import Module
from ..op_functions import concat
from ..optim import Adam
from ..tape import scope
from ..tensor import Tensor

__all__ = [
    "GAN",
    "Diffusion",
    "gaussian_mixture_sampler",
    "linear_beta_schedule",
    "mlp",
    "time_embedding",
    "train_diffusion",
    "train_gan",
]


def _pos_int(op: str, what: str, v: Any) -> int:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v <= 0:
        raise ValueError(f"{op}: {what} must be a positive int, got {v!r}")
    return int(v)


def _const(a: Any) -> Tensor:
    """Data (no gradient) as a Tensor of the default float dtype."""
    return Tensor(backend.to_backend(np.asarray(a, dtype=backend.get_default_dtype())))


def mlp(sizes: Sequence[int]) -> Sequential:
    """Linear layers of the given widths with ReLU between them (none after the last)."""
    if len(sizes) < 2:
        raise ValueError(f"mlp: need at least an input and an output width, got {list(sizes)}")
    for s in sizes:
        _pos_int("mlp", "every width", s)
    layers: list = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ReLU())
    return Sequential(*layers)


def gaussian_mixture_sampler(means: Any, std: float, seed: int = 0) -> Callable[[int], np.ndarray]:
    """``sampler(n) -> (n, d)`` float array from an equal-weight mixture of N(mean_k, std² I), seeded."""
    m = np.asarray(means, dtype=np.float64)
    if m.ndim == 1:
        m = m[:, None]  # 1-D data: one row per mode
    if m.ndim != 2 or m.shape[0] == 0:
        raise ValueError(f"gaussian_mixture_sampler: means must be (K,) or (K, d), got shape {np.shape(means)}")
    if not std > 0:
        raise ValueError(f"gaussian_mixture_sampler: std must be > 0, got {std}")
    rng = np.random.default_rng(seed)

    def sampler(n: int) -> np.ndarray:
        k = rng.integers(m.shape[0], size=n)
        return m[k] + std * rng.standard_normal((n, m.shape[1]))

    return sampler


# ---- GAN -------------------------------------------------------------------------------------------------
class GAN(Module):
    """Generator ``noise_dim -> hidden -> hidden -> data_dim`` and discriminator ``data_dim -> hidden ->
    hidden -> 1`` (logit), both ReLU MLPs."""

    def __init__(self, data_dim: int, noise_dim: int = 4, hidden: int = 32) -> None:
        super().__init__()
        self.data_dim = _pos_int("GAN", "data_dim", data_dim)
        self.noise_dim = _pos_int("GAN", "noise_dim", noise_dim)
        self.hidden = _pos_int("GAN", "hidden", hidden)
        self.generator = mlp([noise_dim, hidden, hidden, data_dim])
        self.discriminator = mlp([data_dim, hidden, hidden, 1])

    def noise(self, n: int) -> Tensor:
        """``(n, noise_dim)`` standard normal noise from the seeded host generator."""
        z = backend.host_rng().standard_normal((_pos_int("GAN.noise", "n", n), self.noise_dim))
        return _const(z)

    def _check(self, op: str, x: Any, width: int, what: str) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"GAN.{op}: {what} must be a Tensor, got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != width:
            raise ValueError(f"GAN.{op}: expected {what} of shape (N, {width}), got {x.shape}")
        return x

    def generate(self, z: Tensor) -> Tensor:
        return self.generator(self._check("generate", z, self.noise_dim, "noise"))

    def discriminate(self, x: Tensor) -> Tensor:
        """Logits ``(N, 1)``: large means "real"."""
        return self.discriminator(self._check("discriminate", x, self.data_dim, "data"))

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """L_D = BCE(D(real), 1) + BCE(D(fake), 0). Pass ``fake.detach()`` so only D is trained by it."""
        with scope("GAN.discriminator_loss"):
            dr, df = self.discriminate(real), self.discriminate(fake)
            ones = _const(np.ones(dr.shape)).astype(dr.dtype)
            zeros = _const(np.zeros(df.shape)).astype(df.dtype)
            return binary_cross_entropy_with_logits(dr, ones) + binary_cross_entropy_with_logits(df, zeros)

    def generator_loss(self, z: Tensor) -> Tensor:
        """Non-saturating L_G = BCE(D(G(z)), 1) = −log σ(D(G(z))); the gradient reaches D too, so the
        training loop zeroes D's gradients before D's own step."""
        with scope("GAN.generator_loss"):
            d = self.discriminate(self.generate(z))
            return binary_cross_entropy_with_logits(d, _const(np.ones(d.shape)).astype(d.dtype))

    def extra_repr(self) -> str:
        return f"data_dim={self.data_dim}, noise_dim={self.noise_dim}, hidden={self.hidden}"


def train_gan(
    data_sampler: Callable[[int], Any],
    steps: int,
    gan: GAN | None = None,
    data_dim: int | None = None,
    batch: int = 64,
    lr_g: float = 1e-3,
    lr_d: float = 1e-3,
    betas: tuple = (0.5, 0.999),
    log_every: int = 0,
) -> tuple:
    """Alternate one discriminator step and one generator step, ``steps`` times, each with its own Adam.

    ``data_sampler(n)`` returns ``(n, data_dim)`` real samples (NumPy or Tensor). Builds ``GAN(data_dim)``
    when ``gan`` is None (``data_dim`` then defaults to the sampler's width). β₁ = 0.5 is the usual GAN
    choice: less momentum keeps up with an opponent that moves. Returns ``(gan, history)`` where history
    holds the per-step ``d_loss`` and ``g_loss`` lists.
    """
    steps = _pos_int("train_gan", "steps", steps)
    batch = _pos_int("train_gan", "batch", batch)
    if not callable(data_sampler):
        raise TypeError(
            f"train_gan: data_sampler must be callable as data_sampler(n), got {type(data_sampler).__name__}"
        )
    if gan is None:
        if data_dim is None:
            data_dim = int(np.asarray(_host(data_sampler(2))).shape[-1])
        gan = GAN(data_dim)
    opt_d = Adam(gan.discriminator.parameters(), lr=lr_d, betas=betas)
    opt_g = Adam(gan.generator.parameters(), lr=lr_g, betas=betas)
    hist: dict = {"d_loss": [], "g_loss": []}
    for step in range(1, steps + 1):
        real = data_sampler(batch)
        real = real if isinstance(real, Tensor) else _const(real)
        # discriminator: fakes are detached, the generator is a fixed opponent for this step
        fake = gan.generate(gan.noise(batch)).detach()
        d_loss = gan.discriminator_loss(real, fake)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        # generator: gradients flow through D into G; D's share is thrown away by the next opt_d.zero_grad()
        g_loss = gan.generator_loss(gan.noise(batch))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        hist["d_loss"].append(d_loss.item())
        hist["g_loss"].append(g_loss.item())
        if log_every and (step % log_every == 0 or step == steps):
            print(f"step {step:5d}  D loss {hist['d_loss'][-1]:.4f}  G loss {hist['g_loss'][-1]:.4f}")
    return gan, hist


def _host(a: Any) -> np.ndarray:
    return a.numpy() if isinstance(a, Tensor) else backend.to_numpy(a) if not isinstance(a, np.ndarray) else a


# ---- diffusion -------------------------------------------------------------------------------------------
def linear_beta_schedule(steps: int = 50, beta_start: float = 1e-3, beta_end: float = 0.2) -> np.ndarray:
    """β_1 … β_T evenly spaced. With T = 50 and these ends, ᾱ_T ≈ 0.005: x_T is nearly pure noise."""
    steps = _pos_int("linear_beta_schedule", "steps", steps)
    if not 0.0 < beta_start <= beta_end < 1.0:
        raise ValueError(f"linear_beta_schedule: need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
    return np.linspace(beta_start, beta_end, steps)


def time_embedding(t: Any, dim: int, max_period: float = 100.0) -> np.ndarray:
    """Sinusoidal features ``(N, dim)`` of integer steps t: [sin(t ω_k), cos(t ω_k)], ω_k geometric from 1
    down to 1/max_period, so nearby steps get nearby, distinguishable codes."""
    dim = _pos_int("time_embedding", "dim", dim)
    if dim % 2:
        raise ValueError(f"time_embedding: dim must be even (sin and cos pairs), got {dim}")
    t = np.asarray(t, dtype=np.float64).reshape(-1, 1)
    freqs = np.exp(-np.log(max_period) * np.arange(dim // 2) / max(dim // 2 - 1, 1))
    return np.concatenate([np.sin(t * freqs), np.cos(t * freqs)], axis=1)


class Diffusion(Module):
    """DDPM on ``data_dim``-dimensional points: noise schedule plus the noise-prediction MLP
    ``[x_t, emb(t)] -> hidden -> hidden -> data_dim``. Steps t are 1-based (1 … T)."""

    def __init__(
        self,
        data_dim: int = 2,
        hidden: int = 64,
        time_dim: int = 16,
        steps: int = 50,
        beta_start: float = 1e-3,
        beta_end: float = 0.2,
    ) -> None:
        super().__init__()
        self.data_dim = _pos_int("Diffusion", "data_dim", data_dim)
        self.hidden = _pos_int("Diffusion", "hidden", hidden)
        self.time_dim = _pos_int("Diffusion", "time_dim", time_dim)
        if time_dim % 2:
            raise ValueError(f"Diffusion: time_dim must be even (sin and cos pairs), got {time_dim}")
        self.betas = linear_beta_schedule(steps, beta_start, beta_end)  # host float64 constants
        self.alphas = 1.0 - self.betas
        self.alpha_bars = np.cumprod(self.alphas)
        self.steps = int(steps)
        self.net = mlp([data_dim + time_dim, hidden, hidden, data_dim])

    def _t(self, t: Any, n: int) -> np.ndarray:
        t = np.broadcast_to(np.asarray(t), (n,)) if np.ndim(t) == 0 else np.asarray(t)
        if t.shape != (n,) or t.dtype.kind not in "iu" or t.min() < 1 or t.max() > self.steps:
            raise ValueError(f"Diffusion: t must be integer steps in [1, {self.steps}], one per point ({n}), got {t!r}")
        return t

    def predict_noise(self, x_t: Tensor, t: Any) -> Tensor:
        """ε_θ(x_t, t) ``(N, data_dim)``; ``t`` an int or ``(N,)`` ints in [1, T]."""
        if not isinstance(x_t, Tensor):
            raise TypeError(f"Diffusion.predict_noise: x_t must be a Tensor, got {type(x_t).__name__}")
        if x_t.ndim != 2 or x_t.shape[1] != self.data_dim:
            raise ValueError(f"Diffusion.predict_noise: expected x_t of shape (N, {self.data_dim}), got {x_t.shape}")
        t = self._t(t, x_t.shape[0])
        # t / T scales the embedding's frequencies to the schedule's length
        emb = _const(time_embedding(t * (100.0 / self.steps), self.time_dim)).astype(x_t.dtype)
        return self.net(concat([x_t, emb], axis=1))

    def loss(self, x0: Tensor, t: Any = None, noise: Any = None) -> Tensor:
        """MSE between ε and ε_θ(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t). ``t`` and ``noise`` default to uniform steps
        and standard normal draws from the seeded host generator (pass them to make the loss deterministic)."""
        if not isinstance(x0, Tensor) or x0.ndim != 2 or x0.shape[1] != self.data_dim:
            raise ValueError(
                f"Diffusion.loss: expected x0 as a Tensor of shape (N, {self.data_dim}), got "
                f"{x0.shape if isinstance(x0, Tensor) else type(x0).__name__}"
            )
        n = x0.shape[0]
        rng = backend.host_rng()
        t = rng.integers(1, self.steps + 1, size=n) if t is None else self._t(t, n)
        eps = rng.standard_normal(x0.shape) if noise is None else _host(noise)
        if eps.shape != x0.shape:
            raise ValueError(f"Diffusion.loss: noise shape {eps.shape} must equal x0 shape {x0.shape}")
        ab = self.alpha_bars[t - 1][:, None]
        with scope("Diffusion.loss"):
            x_t = x0 * _const(np.sqrt(ab)).astype(x0.dtype) + _const(np.sqrt(1.0 - ab) * eps).astype(x0.dtype)
            return mse_loss(self.predict_noise(x_t, t), _const(eps).astype(x0.dtype))

    def sample(self, n: int, seed: int | None = None, return_path: bool = False) -> Any:
        """Ancestral sampling: ``(n, data_dim)`` NumPy points (and, with ``return_path``, the list x_T … x_0)."""
        n = _pos_int("Diffusion.sample", "n", n)
        rng = backend.host_rng() if seed is None else np.random.default_rng(seed)
        x = rng.standard_normal((n, self.data_dim))
        path = [x]
        with no_grad():  # sampling needs no tape
            for t in range(self.steps, 0, -1):
                eps = self.predict_noise(_const(x), t).numpy().astype(np.float64)
                a, ab, b = self.alphas[t - 1], self.alpha_bars[t - 1], self.betas[t - 1]
                x = (x - b / np.sqrt(1.0 - ab) * eps) / np.sqrt(a)
                if t > 1:  # posterior variance β̃_t; the last step returns the mean
                    var = (1.0 - self.alpha_bars[t - 2]) / (1.0 - ab) * b
                    x = x + np.sqrt(var) * rng.standard_normal(x.shape)
                path.append(x)
        return (x, path) if return_path else x

    def extra_repr(self) -> str:
        return f"data_dim={self.data_dim}, hidden={self.hidden}, time_dim={self.time_dim}, steps={self.steps}"


def train_diffusion(
    model: Diffusion,
    data_sampler: Callable[[int], Any],
    steps: int,
    batch: int = 128,
    lr: float = 2e-3,
    log_every: int = 0,
) -> list:
    """Adam on :meth:`Diffusion.loss` with fresh data, steps and noise every iteration; returns the losses."""
    steps = _pos_int("train_diffusion", "steps", steps)
    batch = _pos_int("train_diffusion", "batch", batch)
    opt = Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(1, steps + 1):
        x0 = data_sampler(batch)
        loss = model.loss(x0 if isinstance(x0, Tensor) else _const(x0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log_every and (step % log_every == 0 or step == steps):
            print(f"step {step:5d}  noise MSE {np.mean(losses[-log_every:]):.4f}")
    return losses
