import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import tinygrad_rnn as tg
from tinygrad_rnn import backend

# CI runs are derandomized so a red build is reproducible; local runs explore new examples.
settings.register_profile(
    "ci", max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

requires_gpu = pytest.mark.skipif(backend.name != "cupy", reason="needs TINYGRAD_RNN_BACKEND=cupy and a GPU")


@pytest.fixture(autouse=True)
def _fresh_state():
    """Every test starts from float32 defaults, grad mode on and a fixed seed."""
    tg.set_default_dtype("float32")
    tg.manual_seed(0)
    yield
    tg.set_default_dtype("float32")
    # a device check a test left failing (CuPy stand-in, deferred checks) must not raise in the next test
    tg.checks.take()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def th():
    """PyTorch, for the cross-check tests (skipped where it is not installed)."""
    return pytest.importorskip("torch")
