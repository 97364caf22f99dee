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

# Tests the CuPy stand-in pass (`make test-standin`) leaves out, as node-id prefixes, each with its reason.
# Everything else runs on both backends.
STANDIN_EXCLUDED: dict[str, str] = {
    "tests/examples/test_demo_sample.py::test_the_full_demo_sample_is_readable": (
        "the demo's full 800-step training (about 35 s); the NumPy pass checks its sample, and the other demo "
        "tests run the same code path here"
    ),
    "tests/cli/test_interrupt_resume.py::test_real_sigints_at_random_times_leave_a_checkpoint_that_resumes_exactly": (
        "SIGINTs at random times, with quotas of where they land tuned to the NumPy pass's timings (the stand-in's "
        "slower ops move them); signal handling is backend-independent, and the bit-exact resume tests run here"
    ),
    "tests/kernels/test_compiled_loops.py::test_compiled_loops": (
        "the CPU's compiled loops against the NumPy array loops on NumPy arrays; the layer tests in the same "
        "file run here on the array loops that a GPU runs"
    ),
    "tests/kernels/test_fast_tanh.py": "the CPU's compiled float32 tanh (numba); a GPU runs CuPy's tanh",
    "tests/kernels/test_kernel_cache.py": "numba's on-disk cache of the CPU's compiled loops",
    "tests/kernels/test_kernel_selection.py::test_a_process_without_numba": (
        "the CPU's kernel sets with and without numba; on a GPU the kernels are CuPy's whatever is installed"
    ),
}


def _on_standin() -> bool:
    return backend.name == "cupy" and bool(getattr(backend.xp, "__standin__", False))


def pytest_report_header(config):
    if backend.name == "cupy":
        what = " (the strict CuPy stand-in of tests/fake_gpu, backed by NumPy)" if _on_standin() else ""
        return f"array backend: cupy {backend.xp.__version__}{what}"
    return None


def pytest_collection_modifyitems(config, items):
    if not _on_standin():
        return
    drop = [it for it in items if any(it.nodeid.startswith(p) for p in STANDIN_EXCLUDED)]
    if drop:
        config.hook.pytest_deselected(items=drop)
        dropped = set(drop)
        items[:] = [it for it in items if it not in dropped]


def pytest_terminal_summary(terminalreporter):
    if _on_standin() and STANDIN_EXCLUDED:
        terminalreporter.write_line("left out on the CuPy stand-in (tests/conftest.py STANDIN_EXCLUDED):")
        for prefix, why in STANDIN_EXCLUDED.items():
            terminalreporter.write_line(f"  {prefix}: {why}")


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
def torch():
    """PyTorch, for the cross-check tests (skipped where it is not installed)."""
    return pytest.importorskip("torch")


@pytest.fixture
def th(torch):
    """``torch`` under the short name some modules use."""
    return torch
