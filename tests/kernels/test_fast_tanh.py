"""The float32 kernels' tanh: within FAST_TANH_ERROR of the exact tanh everywhere, NaN stays NaN,
±1 beyond the clamp, odd, and the compiled version computes what the Python reference does."""

import numpy as np
import pytest

numba_loops = pytest.importorskip("tinygrad_rnn.kernels.numba_loops", reason="numba is not installed")
FAST_TANH_ERROR = numba_loops.FAST_TANH_ERROR


def _compiled(x):
    y = np.array(x, dtype=np.float32)
    numba_loops._tanh_array(y)
    return y


def test_error_bound_on_a_dense_grid_and_at_random():
    grid = np.linspace(-12, 12, 2_000_001, dtype=np.float32)
    rand = np.random.default_rng(0).standard_normal(1_000_000).astype(np.float32) * 3
    tiny = np.geomspace(1e-30, 1e-2, 10_000, dtype=np.float32)
    for x in (grid, rand, tiny, -tiny):
        err = np.abs(_compiled(x).astype(np.float64) - np.tanh(x.astype(np.float64)))
        assert err.max() <= FAST_TANH_ERROR, float(err.max())
    # the bound is tight: not a loose claim that would hide a regression
    assert np.abs(_compiled(grid).astype(np.float64) - np.tanh(grid.astype(np.float64))).max() > FAST_TANH_ERROR / 4


def test_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 9.0, -9.0, 50.0, -1e30, 1e-40], dtype=np.float32)
    y = _compiled(x)
    assert np.isnan(y[0])
    np.testing.assert_allclose(
        y[1:], [1, -1, 0, 0, 1, -1, 1, -1, 1e-40], rtol=1e-5, atol=0
    )  # a subnormal keeps ~17 bits
    assert np.all(np.abs(_compiled(np.linspace(-30, 30, 10001, dtype=np.float32))) <= 1)


def test_odd_and_matching_the_python_reference():
    x = np.random.default_rng(1).uniform(-10, 10, 2000).astype(np.float32)
    np.testing.assert_array_equal(_compiled(-x), -_compiled(x))
    ref = np.array([numba_loops.fast_tanh(v) for v in x], dtype=np.float32)
    np.testing.assert_allclose(_compiled(x), ref, rtol=0, atol=FAST_TANH_ERROR)  # FMA and reciprocal round apart


def test_float64_kernels_use_the_exact_tanh():
    x = np.random.default_rng(2).uniform(-10, 10, 10_000)
    y = x.copy()
    numba_loops._tanh_array(y)
    np.testing.assert_allclose(y, np.tanh(x), rtol=1e-15, atol=1e-16)
