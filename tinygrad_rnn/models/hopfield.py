r"""The notes' Hopfield network: memories stored as local minima of an energy, recalled by descent.

For states :math:`a \in \{-1, +1\}^n`, symmetric weights with a zero diagonal and biases :math:`b`:

.. math::

    E(a) = -\tfrac12 \sum_{i \ne j} w_{ij} a_i a_j - \sum_i b_i a_i

* **storage** (Hebbian, one shot): :math:`W = \tfrac1n \sum_p x_p x_p^\top` with the diagonal set to 0;
  the biases are *not* touched by storage (they stay at whatever the user set, zero by default).
* **recall** (asynchronous): units are visited one at a time in a random order (a fresh permutation per
  sweep, from a seeded generator) and set to :math:`a_i \leftarrow \operatorname{sign}(h_i)`,
  :math:`h_i = \sum_{j \ne i} w_{ij} a_j + b_i`. Changing only unit i changes the energy by
  :math:`\Delta E = -(a_i^{new} - a_i^{old})\, h_i \le 0`, so E never increases and, the state space being
  finite, recall ends at a fixed point (a full sweep with no change).
* **tie rule** (:math:`|h_i| \le 10^{-12}`, i.e. :math:`h_i = 0` up to rounding): ``tie="minus"``
  (default) follows the notes literally, "+1 if :math:`h_i > 0`, −1 otherwise"; ``tie="keep"``
  leaves :math:`a_i` unchanged. Both keep ΔE ≤ 0 (a tie
  changes E by exactly 0), and both terminate: with "minus" a tie can only move +1 → −1, so the pair
  (E, number of +1 units) strictly decreases at every change.

This is not a gradient model: nothing here is differentiated, so it is plain NumPy on the host (the
framework's tape would only add overhead). :func:`capacity_curve` measures the classic capacity limit: with
random patterns, recall collapses once the number stored passes about 0.14 n.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["TIE_TOL", "HopfieldNetwork", "capacity_curve", "flip"]

_TIES = ("minus", "keep")
# Hebbian weights are multiples of 1/n, which floats hold inexactly: a field that is 0 in exact arithmetic can
# come out as ±1e-17 depending on summation order. Fields this close to 0 count as ties.
TIE_TOL = 1e-12


def _as_pm1(name: str, x: Any, n: int, ndim: int) -> np.ndarray:
    """``x`` as a float64 ±1 array with ``ndim`` dims and last axis n, or a ValueError that says what is wrong."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != ndim or a.shape[-1] != n:
        want = "(n,)" if ndim == 1 else "(P, n)"
        raise ValueError(f"HopfieldNetwork.{name}: expected shape {want} with n={n}, got {a.shape}")
    if not np.all(np.abs(a) == 1.0):
        raise ValueError(f"HopfieldNetwork.{name}: entries must be -1 or +1 (bipolar states)")
    return a


class HopfieldNetwork:
    """Binary (±1) Hopfield network of ``n`` units; see the module docstring for the rules.

    ``weights`` ``(n, n)`` symmetric with zero diagonal, ``bias`` ``(n,)``; both float64 NumPy arrays.
    """

    def __init__(self, n: int, tie: str = "minus") -> None:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"HopfieldNetwork: n must be a positive int, got {n!r}")
        if tie not in _TIES:
            raise ValueError(f"HopfieldNetwork: tie must be one of {_TIES}, got {tie!r}")
        self.n, self.tie = int(n), tie
        self.weights = np.zeros((self.n, self.n))
        self.bias = np.zeros(self.n)
        self.num_patterns = 0

    def store(self, patterns: Any) -> HopfieldNetwork:
        """Add ``(P, n)`` ±1 patterns by the Hebbian rule W += (1/n) Σ_p x_p x_pᵀ (diagonal kept at 0)."""
        x = _as_pm1("store", patterns, self.n, 2)
        self.weights += x.T @ x / self.n
        np.fill_diagonal(self.weights, 0.0)  # no self-connections: w_ii would only reinforce the current state
        self.num_patterns += x.shape[0]
        return self

    def energy(self, state: Any) -> float:
        """E(a) = −½ Σ_{i≠j} w_ij a_i a_j − Σ b_i a_i (the diagonal is zero, so aᵀWa already skips i = j)."""
        a = _as_pm1("energy", state, self.n, 1)
        return float(-0.5 * a @ self.weights @ a - self.bias @ a)

    def _new_value(self, h: float, old: float) -> float:
        if h > TIE_TOL:
            return 1.0
        if h < -TIE_TOL or self.tie == "minus":
            return -1.0
        return old  # tie == "keep"

    def recall(self, probe: Any, max_sweeps: int = 100, seed: int = 0) -> tuple:
        """Asynchronous updates from ``probe`` until a fixed point (a sweep with no change) or ``max_sweeps``.

        Returns ``(state, energies, converged)``: the final ±1 state, a list whose entry 0 is E(probe) and
        entry k the energy after the k-th single-unit update (every visit counts, changed or not), and
        whether a fixed point was reached.
        """
        if not isinstance(max_sweeps, (int, np.integer)) or max_sweeps < 1:
            raise ValueError(f"HopfieldNetwork.recall: max_sweeps must be a positive int, got {max_sweeps!r}")
        a = _as_pm1("recall", probe, self.n, 1).copy()
        rng = np.random.default_rng(seed)
        W, b = self.weights, self.bias
        e = self.energy(a)
        energies = [e]
        for _ in range(max_sweeps):
            changed = False
            for i in rng.permutation(self.n):
                h = float(W[i] @ a + b[i])  # W[i, i] = 0, so this is Σ_{j≠i} w_ij a_j + b_i
                new = self._new_value(h, a[i])
                if new != a[i]:
                    e -= (new - a[i]) * h  # ΔE of a single-unit change; cheaper than recomputing E
                    a[i] = new
                    changed = True
                energies.append(e)
            if not changed:
                return a, energies, True
        return a, energies, False

    def __repr__(self) -> str:
        return f"HopfieldNetwork(n={self.n}, tie={self.tie!r}, num_patterns={self.num_patterns})"


def flip(x: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A copy of the ±1 vector ``x`` with ``round(fraction · n)`` distinct entries negated."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"flip: fraction must be in [0, 1], got {fraction}")
    y = np.array(x, dtype=np.float64, copy=True)
    idx = rng.choice(y.shape[-1], size=round(fraction * y.shape[-1]), replace=False)
    y[idx] *= -1
    return y


def capacity_curve(n: int, counts: Sequence[int], noise: float = 0.1, trials: int = 5, seed: int = 0) -> np.ndarray:
    """Fraction of stored patterns recalled exactly from probes with ``noise`` of their bits flipped.

    For each P in ``counts``: ``trials`` times, store P random ±1 patterns in a fresh ``HopfieldNetwork(n)``,
    then recall each from a noisy probe; the entry is the mean over all P · trials recalls. Returns an array
    aligned with ``counts``. Expect ≈ 1 for P well below 0.14 n and a collapse above it.
    """
    if not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"capacity_curve: n must be a positive int, got {n!r}")
    if any((not isinstance(p, (int, np.integer))) or p < 1 for p in counts):
        raise ValueError(f"capacity_curve: counts must be positive ints, got {list(counts)}")
    if not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ValueError(f"capacity_curve: trials must be a positive int, got {trials!r}")
    rng = np.random.default_rng(seed)
    out = []
    for p in counts:
        ok = 0
        for _ in range(trials):
            pats = rng.choice([-1.0, 1.0], size=(p, n))
            net = HopfieldNetwork(n).store(pats)
            for x in pats:
                state, _, _ = net.recall(flip(x, noise, rng), max_sweeps=20, seed=int(rng.integers(2**31)))
                ok += bool(np.array_equal(state, x))
        out.append(ok / (p * trials))
    return np.array(out)
