r"""Pixel-by-pixel image generation: an LSTM reads an image in raster order and predicts each pixel from
the ones before it (a small PixelRNN).

The image distribution is factorised autoregressively over the raster order ``i = r·W + c``::

    p(x) = Π_{i=1}^{H·W} p(x_i | x_<i)

so the log-likelihood is a sum of per-pixel cross-entropies and is exact (no bound). The input at step
``i`` is the previous pixel ``x_{i-1}`` (the sequence is shifted right by one with a start token, so
step 0 sees only the start token) as a one-hot over ``levels + 1`` symbols, concatenated with one-hot
row and column indices of the pixel being predicted (``H + W`` features). Binary images
(``levels=2``) use one logit and ``binary_cross_entropy_with_logits``; ``K`` levels use ``K`` logits
and ``cross_entropy``.

Shapes: images ``(N, H, W)`` integers in ``[0, levels)`` -> logits ``(H·W, N, 1)`` (binary) or
``(H·W, N, K)``, time-major like the sequence layers.

======================================= ========================================================
:class:`PixelRNN`                       one-hot(previous pixel, position) -> ``nn.LSTM`` -> Linear
:func:`nll_bits_per_pixel`              exact held-out NLL in bits per pixel, no gradients
:func:`independent_baseline_bits`       per-pixel marginals (Laplace smoothed) fit on train, scored on test
:func:`sample`                          ``n`` images drawn pixel by pixel from the start token
:func:`complete`                        fill in the bottom half given the top half (kept as given)
:func:`make_digits`                     procedural 7-segment digits with noise on an 8x8 grid
:func:`load_digits`                     scikit-learn's 8x8 digits binarised when importable, else procedural
======================================= ========================================================
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend, nn
from ..autograd import no_grad
from ..nn.losses import binary_cross_entropy_with_logits, cross_entropy
from ..tensor import Tensor
from .decoding import host_generator


class PixelRNN(nn.Module):
    """Autoregressive image model over the raster order; see the module docstring for the factorisation.

    ``forward(images (N, H, W))`` -> ``(logits (H·W, N, out), state)`` with ``out = 1`` for ``levels == 2``
    and ``levels`` otherwise; :meth:`loss` gives the mean NLL per pixel in nats.
    """

    MODES = ("raster",)

    def __init__(self, height: int, width: int, levels: int = 2, hidden: int = 64, mode: str = "raster") -> None:
        super().__init__()
        for name, v in (("height", height), ("width", width), ("hidden", hidden)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"PixelRNN: {name} must be a positive int, got {v!r}")
        if not isinstance(levels, (int, np.integer)) or isinstance(levels, bool) or levels < 2:
            raise ValueError(f"PixelRNN: levels must be an int >= 2 (2 = binary), got {levels!r}")
        if mode not in self.MODES:
            raise ValueError(f"PixelRNN: mode must be one of {list(self.MODES)}, got {mode!r}")
        self.height, self.width, self.levels, self.hidden, self.mode = (
            int(height),
            int(width),
            int(levels),
            int(hidden),
            mode,
        )
        self.in_dim = self.levels + 1 + self.height + self.width  # previous pixel (+ start) | row | col
        self.out_dim = 1 if self.levels == 2 else self.levels
        self.rnn = nn.LSTM(self.in_dim, self.hidden)
        self.head = nn.Linear(self.hidden, self.out_dim)

    @property
    def num_pixels(self) -> int:
        return self.height * self.width

    def check_images(self, images: Any, what: str = "images", rows: int | None = None) -> np.ndarray:
        """``images`` as an int64 ``(N, rows, W)`` array, or a clear error about shape, dtype or levels."""
        arr = np.asarray(images.numpy() if isinstance(images, Tensor) else backend.to_numpy(images))
        rows = self.height if rows is None else rows
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3 or arr.shape[1:] != (rows, self.width):
            raise ValueError(
                f"PixelRNN: {what} must have shape (N, {rows}, {self.width}) (or ({rows}, {self.width})), "
                f"got {arr.shape}"
            )
        if arr.shape[0] == 0:
            raise ValueError(f"PixelRNN: {what} is empty (N = 0)")
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise ValueError(f"PixelRNN: {what} must hold integer levels in [0, {self.levels}), got non-integers")
        elif arr.dtype.kind not in "iub":
            raise TypeError(f"PixelRNN: {what} must hold integer levels, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= self.levels:
            raise ValueError(
                f"PixelRNN: {what} must hold levels in [0, {self.levels}) for levels={self.levels}, "
                f"got values in [{lo}, {hi}]"
            )
        return arr

    def _features(self, prev: np.ndarray, positions: np.ndarray) -> Tensor:
        """``prev`` ``(T, N)`` symbols in ``[0, levels]`` (``levels`` = start), ``positions`` ``(T,)`` raster
        indices of the pixels predicted -> ``(T, N, in_dim)`` one-hot features in the parameters' dtype."""
        T, N = prev.shape
        K = self.levels
        x = np.zeros((T, N, self.in_dim), dtype=np.dtype(self.head.weight.dtype))
        t_idx = np.arange(T)[:, None]
        x[t_idx, np.arange(N)[None, :], prev] = 1.0
        rows, cols = np.divmod(positions, self.width)
        x[np.arange(T), :, K + 1 + rows] = 1.0
        x[np.arange(T), :, K + 1 + self.height + cols] = 1.0
        return Tensor(backend.xp.asarray(x))

    def forward(self, images: Any, state: Any = None) -> tuple:
        arr = self.check_images(images)
        N = arr.shape[0]
        flat = arr.reshape(N, -1).T  # (T, N) raster order
        prev = np.concatenate([np.full((1, N), self.levels, dtype=np.int64), flat[:-1]], axis=0)
        out, state = self.rnn(self._features(prev, np.arange(self.num_pixels)), state)
        return self.head(out), state

    def step(self, prev: np.ndarray, position: int, state: Any = None) -> tuple:
        """One raster step: ``prev`` ``(N,)`` the previous pixels (``levels`` = start token) -> logits ``(N, out)``."""
        out, state = self.rnn(self._features(np.asarray(prev, dtype=np.int64)[None], np.array([position])), state)
        return self.head(out)[0], state

    def nll(self, logits: Tensor, images: np.ndarray, reduction: str = "mean") -> Tensor:
        """NLL in nats of ``images`` ``(N, H, W)`` under ``logits`` ``(T, N, out)``."""
        N = images.shape[0]
        target = images.reshape(N, -1).T  # (T, N)
        if self.levels == 2:
            return binary_cross_entropy_with_logits(
                logits.reshape(-1), target.reshape(-1).astype(np.dtype(logits.dtype)), reduction=reduction
            )
        return cross_entropy(logits.reshape(-1, self.levels), target.reshape(-1), reduction=reduction)

    def loss(self, images: Any) -> Tensor:
        """Mean NLL per pixel in nats (what to minimise)."""
        arr = self.check_images(images)
        logits, _ = self(arr)
        return self.nll(logits, arr)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Per-level probabilities ``(..., levels)`` from logits ``(..., out)``."""
        z = np.asarray(logits, dtype=np.float64)
        if self.levels == 2:
            p1 = 1.0 / (1.0 + np.exp(-z[..., 0]))
            return np.stack([1.0 - p1, p1], axis=-1)
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def extra_repr(self) -> str:
        return f"height={self.height}, width={self.width}, levels={self.levels}, mode={self.mode!r}"


def _check_model(model: Any, op: str) -> PixelRNN:
    if not isinstance(model, PixelRNN):
        raise TypeError(f"{op}: model must be a PixelRNN, got {type(model).__name__}")
    return model


def nll_bits_per_pixel(model: PixelRNN, images: Any) -> float:
    """Exact mean −log₂ p(x_i | x_<i) over every pixel of ``images`` ``(N, H, W)``, no gradients."""
    model = _check_model(model, "nll_bits_per_pixel")
    arr = model.check_images(images)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            logits, _ = model(arr)
            total = float(model.nll(logits, arr, reduction="sum").item())
    finally:
        model.train(was_training)
    return total / arr.size / math.log(2)


def independent_baseline_bits(train: Any, test: Any, levels: int | None = None) -> float:
    """Bits per pixel of ``test`` under independent per-pixel marginals fit on ``train`` with Laplace
    smoothing, ``p(x_ij = k) = (count_ij(k) + 1) / (N + K)``: the baseline with no dependencies between
    pixels. ``levels`` defaults to ``max(train, test) + 1`` (at least 2)."""
    tr, te = np.asarray(train), np.asarray(test)
    if tr.ndim != 3 or te.ndim != 3 or tr.shape[1:] != te.shape[1:] or len(tr) == 0 or len(te) == 0:
        raise ValueError(
            f"independent_baseline_bits: train and test must be non-empty (N, H, W) with the same H, W; "
            f"got {tr.shape} and {te.shape}"
        )
    if tr.min() < 0 or te.min() < 0:
        raise ValueError("independent_baseline_bits: levels must be >= 0")
    K = int(levels) if levels is not None else max(2, int(max(tr.max(), te.max())) + 1)
    if tr.max() >= K or te.max() >= K:
        raise ValueError(f"independent_baseline_bits: values must be < levels={K}")
    tr, te = tr.astype(np.int64), te.astype(np.int64)
    counts = np.stack([(tr == k).sum(axis=0) for k in range(K)], axis=-1)  # (H, W, K)
    p = (counts + 1.0) / (len(tr) + K)
    H, W = tr.shape[1:]
    pt = p[np.arange(H)[:, None], np.arange(W)[None, :], te]  # (N, H, W)
    return float(-np.mean(np.log2(pt)))


def _generate(model: PixelRNN, given: np.ndarray, n: int, gen: np.random.Generator, temperature: float) -> np.ndarray:
    """Raster generation; the first ``given.shape[1]`` pixels of each row of ``given`` (N, k) are forced."""
    if not (isinstance(temperature, (int, float)) and temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    T, k = model.num_pixels, given.shape[1]
    out = np.zeros((n, T), dtype=np.int64)
    out[:, :k] = given
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            prev, state = np.full(n, model.levels, dtype=np.int64), None
            for t in range(T):
                logits, state = model.step(prev, t, state)
                if t >= k:
                    z = backend.to_numpy(logits.array).astype(np.float64) / temperature
                    p = model.probabilities(z)  # (n, levels)
                    u = gen.random((n, 1))
                    out[:, t] = np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), model.levels - 1)
                prev = out[:, t]
    finally:
        model.train(was_training)
    return out.reshape(n, model.height, model.width)


def sample(model: PixelRNN, n: int, rng: Any = None, temperature: float = 1.0) -> np.ndarray:
    """``n`` images ``(n, H, W)`` drawn pixel by pixel from the start token; ``rng`` None (the framework's
    seeded host generator), an int seed or a ``numpy.random.Generator``: the same seed, the same images."""
    model = _check_model(model, "sample")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"sample: n must be an int >= 1, got {n!r}")
    return _generate(model, np.zeros((int(n), 0), dtype=np.int64), int(n), host_generator(rng, "sample"), temperature)


def complete(model: PixelRNN, top_half: Any, rng: Any = None, temperature: float = 1.0) -> np.ndarray:
    """Complete images from their top rows: ``top_half`` ``(N, H // 2, W)`` (or any ``(N, r, W)`` with
    ``0 < r < H``) is kept exactly and the remaining rows are sampled given it -> ``(N, H, W)``."""
    model = _check_model(model, "complete")
    arr = np.asarray(top_half.numpy() if isinstance(top_half, Tensor) else top_half)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[2] != model.width or not 0 < arr.shape[1] < model.height:
        raise ValueError(
            f"complete: top_half must have shape (N, r, {model.width}) with 0 < r < {model.height} "
            f"(e.g. r = {model.height // 2}), got {arr.shape}"
        )
    arr = model.check_images(arr, what="top_half", rows=arr.shape[1])
    N = arr.shape[0]
    return _generate(model, arr.reshape(N, -1), N, host_generator(rng, "complete"), temperature)


# ---- data --------------------------------------------------------------------------------------------
#   segments: a top, b top-right, c bottom-right, d bottom, e bottom-left, f top-left, g middle
_SEGMENTS = {
    0: "abcdef",
    1: "bc",
    2: "abged",
    3: "abgcd",
    4: "fgbc",
    5: "afgcd",
    6: "afgedc",
    7: "abc",
    8: "abcdefg",
    9: "abcdfg",
}


def _digit_glyph(d: int, left: int, top: int) -> np.ndarray:
    """A 7-segment digit, 4 wide and 7 tall, at (top, left) on an 8x8 grid."""
    img = np.zeros((8, 8), dtype=np.int64)
    r0, r1, r2 = top, top + 3, top + 6  # top, middle, bottom rows
    c0, c1 = left, left + 3  # left and right columns
    for s in _SEGMENTS[d]:
        if s == "a":
            img[r0, c0 : c1 + 1] = 1
        elif s == "g":
            img[r1, c0 : c1 + 1] = 1
        elif s == "d":
            img[r2, c0 : c1 + 1] = 1
        elif s == "f":
            img[r0 : r1 + 1, c0] = 1
        elif s == "b":
            img[r0 : r1 + 1, c1] = 1
        elif s == "e":
            img[r1 : r2 + 1, c0] = 1
        elif s == "c":
            img[r1 : r2 + 1, c1] = 1
    return img


def make_digits(n: int, rng: Any = 0, noise: float = 0.03, levels: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``n`` procedural 8x8 7-segment digits -> ``(images (n, 8, 8) int64, labels (n,))``, deterministic
    for a seed. Each digit is placed at a random offset (columns 1-3, rows 0-1); each pixel is then
    replaced by a uniformly random level with probability ``noise``. ``levels > 2`` draws the stroke
    intensity per image from the top half of the levels."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"make_digits: n must be an int >= 1, got {n!r}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"make_digits: noise must be in [0, 1], got {noise!r}")
    if not isinstance(levels, (int, np.integer)) or levels < 2:
        raise ValueError(f"make_digits: levels must be an int >= 2, got {levels!r}")
    gen = host_generator(rng, "make_digits")
    labels = gen.integers(0, 10, size=n)
    imgs = np.zeros((n, 8, 8), dtype=np.int64)
    for i, d in enumerate(labels):
        glyph = _digit_glyph(int(d), int(gen.integers(1, 4)), int(gen.integers(0, 2)))
        ink = levels - 1 if levels == 2 else int(gen.integers(levels // 2, levels))
        imgs[i] = glyph * ink
    flip = gen.random(imgs.shape) < noise
    imgs[flip] = gen.integers(0, levels, size=int(flip.sum()))
    return imgs, labels.astype(np.int64)


def load_digits(n: int | None = None, rng: Any = 0, threshold: int = 8) -> tuple[np.ndarray, np.ndarray, str]:
    """``(images (n, 8, 8) in {0, 1}, labels, source)``: scikit-learn's handwritten digits binarised at
    ``threshold`` (of 16) when scikit-learn imports (shuffled with ``rng``), otherwise :func:`make_digits`.
    ``source`` is ``"sklearn"`` or ``"procedural"``."""
    try:
        from sklearn.datasets import load_digits as _sk_digits
    except ImportError:
        imgs, labels = make_digits(1797 if n is None else n, rng=rng)
        return imgs, labels, "procedural"
    d = _sk_digits()
    order = host_generator(rng, "load_digits").permutation(len(d.target))
    if n is not None:
        order = order[:n]
    imgs = (np.asarray(d.images)[order] >= threshold).astype(np.int64)
    return imgs, np.asarray(d.target)[order].astype(np.int64), "sklearn"


__all__ = [
    "PixelRNN",
    "complete",
    "independent_baseline_bits",
    "load_digits",
    "make_digits",
    "nll_bits_per_pixel",
    "sample",
]
