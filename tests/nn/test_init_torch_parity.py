"""nn.init against torch.nn.init: gains, fans, error messages, deterministic fills, the QR behind
orthogonal_, and the distributions (the random values themselves differ: different generators)."""

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn import init

torch = pytest.importorskip("torch")
tinit = torch.nn.init


def _pair(shape, dtype=np.float64):
    return nn.Parameter(tg.Tensor(np.zeros(shape, dtype))), torch.zeros(
        shape, dtype=getattr(torch, np.dtype(dtype).name)
    )


@pytest.mark.parametrize(
    "args",
    [("linear",), ("conv2d",), ("conv_transpose3d",), ("sigmoid",), ("tanh",), ("relu",), ("selu",), ("leaky_relu",)]
    + [("leaky_relu", v) for v in (0.0, 0.2, 1, 3, math.sqrt(5))],
    ids=repr,
)
def test_calculate_gain_matches(args):
    assert init.calculate_gain(*args) == tinit.calculate_gain(*args)
    assert type(init.calculate_gain(*args)) is type(tinit.calculate_gain(*args))


@pytest.mark.parametrize("shape", [(3, 4), (7, 2, 5), (4, 3, 2, 2), (2, 3, 1, 2, 5), (0, 4), (5, 0, 3)])
def test_fans_match(shape):
    ours, theirs = _pair(shape)
    assert init._calculate_fan_in_and_fan_out(ours) == tinit._calculate_fan_in_and_fan_out(theirs)
    for mode in ("fan_in", "fan_out", "Fan_In"):
        assert init._calculate_correct_fan(ours, mode) == tinit._calculate_correct_fan(theirs, mode)


ERRORS = [
    ("calculate_gain", lambda m, t: m.calculate_gain("swish")),
    ("leaky-bool", lambda m, t: m.calculate_gain("leaky_relu", False)),
    ("leaky-str", lambda m, t: m.calculate_gain("leaky_relu", "x")),
    ("eye_-3d", lambda m, t: m.eye_(t((2, 2, 2)))),
    ("eye_-1d", lambda m, t: m.eye_(t((3,)))),
    ("dirac_-2d", lambda m, t: m.dirac_(t((3, 3)))),
    ("dirac_-groups", lambda m, t: m.dirac_(t((5, 2, 3)), groups=2)),
    ("xavier-1d", lambda m, t: m.xavier_uniform_(t((4,)))),
    ("xavier_normal-0d", lambda m, t: m.xavier_normal_(t(()))),
    ("kaiming-1d", lambda m, t: m.kaiming_normal_(t((4,)))),
    ("kaiming-mode", lambda m, t: m.kaiming_uniform_(t((4, 4)), mode="fan")),
    ("kaiming-nonlinearity", lambda m, t: m.kaiming_uniform_(t((4, 4)), nonlinearity="elu")),
    ("orthogonal-1d", lambda m, t: m.orthogonal_(t((4,)))),
    ("sparse-3d", lambda m, t: m.sparse_(t((2, 2, 2)), 0.5)),
]


@pytest.mark.parametrize("name, call", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_messages_match(name, call):
    with pytest.raises(Exception) as theirs:
        call(tinit, lambda s: torch.zeros(s))
    with pytest.raises(type(theirs.value)) as ours:
        call(init, lambda s: nn.Parameter(tg.Tensor(np.zeros(s, np.float32))))
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, t: m.constant_(t, 0.3),
        lambda m, t: m.zeros_(t),
        lambda m, t: m.ones_(t),
        lambda m, t: m.eye_(t),
    ],
)
@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (6, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_deterministic_fills_are_identical(call, shape, dtype):
    ours, theirs = _pair(shape, dtype)
    call(init, ours)
    call(tinit, theirs)
    assert ours.numpy().dtype == theirs.numpy().dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("shape, groups", [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((3, 5, 4, 4), 3), ((2, 2, 3, 3, 3), 1)])
def test_dirac_is_identical(shape, groups):
    ours, theirs = _pair(shape)
    np.testing.assert_array_equal(init.dirac_(ours, groups).numpy(), tinit.dirac_(theirs, groups).numpy())


@pytest.mark.parametrize("shape", [(6, 6), (3, 8), (8, 3), (4, 2, 3), (3, 4, 2, 2)])
def test_orthogonal_matches_torch_given_the_same_normal_matrix(shape):
    """Our orthogonal_ equals torch's algorithm (linalg.qr, sign fix, transposes) run on our normal draw."""
    tg.manual_seed(21)
    ours = init.orthogonal_(_pair(shape)[0], gain=1.7).numpy()
    rows = shape[0]
    cols = math.prod(shape) // rows
    flat = torch.tensor(np.random.default_rng(21).standard_normal((rows, cols)))
    if rows < cols:
        flat = flat.t()
    q, r = torch.linalg.qr(flat)
    q = q * torch.diag(r, 0).sign()
    if rows < cols:
        q = q.t()
    np.testing.assert_allclose(ours, (q * 1.7).reshape(shape).numpy(), rtol=0, atol=1e-14)


def _ks_2samp(a, b):
    """Two-sample Kolmogorov-Smirnov statistic."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return np.max(
        np.abs(np.searchsorted(a, grid, side="right") / a.size - np.searchsorted(b, grid, side="right") / b.size)
    )


DISTS = [
    ("uniform_", lambda m, t: m.uniform_(t, -0.3, 1.2)),
    ("normal_", lambda m, t: m.normal_(t, 0.5, 2.0)),
    ("trunc_normal_", lambda m, t: m.trunc_normal_(t, 0.0, 1.0, -1.0, 2.0)),
    ("trunc_normal_-narrow", lambda m, t: m.trunc_normal_(t, 0.0, 1.0, 0.5, 0.9)),
    ("xavier_uniform_", lambda m, t: m.xavier_uniform_(t, gain=m.calculate_gain("tanh"))),
    ("xavier_normal_", lambda m, t: m.xavier_normal_(t)),
    ("kaiming_uniform_", lambda m, t: m.kaiming_uniform_(t, a=math.sqrt(5))),
    ("kaiming_normal_", lambda m, t: m.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")),
    ("orthogonal_", lambda m, t: m.orthogonal_(t, gain=2.0)),
    ("sparse_", lambda m, t: m.sparse_(t, 0.3, std=0.1)),
]


BOUNDED = {"uniform_", "trunc_normal_", "trunc_normal_-narrow", "xavier_uniform_", "kaiming_uniform_"}


DIST_CASES = [(n, c, s) for n, c in DISTS for s in [(300, 200), (120, 10, 5, 5)] if n != "sparse_" or len(s) == 2]


@pytest.mark.parametrize("name, call, shape", DIST_CASES, ids=[f"{n}-{len(s)}d" for n, _, s in DIST_CASES])
def test_distributions_match_torch(name, call, shape):
    """Same distribution as torch's (KS distance of 60k vs 60k draws, bounds, moments), not the same values."""
    torch.manual_seed(0)
    ours, theirs = _pair(shape)
    a, b = call(init, ours).numpy().ravel(), call(tinit, theirs).numpy().ravel()
    assert _ks_2samp(a, b) < 0.012  # the 0.1% critical value for n = m = 60k is about 0.011
    if name in BOUNDED:  # the same support: extremes agree to a small fraction of its width
        width = b.max() - b.min()
        assert abs(a.min() - b.min()) < 0.002 * width and abs(a.max() - b.max()) < 0.002 * width
    assert a.std() == pytest.approx(b.std(), rel=0.02)
    assert np.mean(a == 0) == pytest.approx(np.mean(b == 0), abs=0.01)
