# `make demo` and `make test` set everything up themselves in ./.venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
XCHECK := $(VENV)/.crosscheck-stamp
TORCH_VERSION ?= 2.13.0+cpu

.PHONY: demo test test-standin lint typecheck docs bench install clean explorer gallery

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,examples,mpi,numba]'
	touch $(STAMP)

$(XCHECK): $(STAMP)
	@# Optional: the CPU build of PyTorch, for cross-check tests only (never a package dependency).
	@# The '+cpu' pin resolves only where that wheel is provided locally, so elsewhere it fails fast.
	$(BIN)/python -m pip install -q --disable-pip-version-check 'torch==$(TORCH_VERSION)' \
		&& echo "PyTorch $(TORCH_VERSION) installed: cross-check tests will run" \
		|| echo "PyTorch $(TORCH_VERSION) is not available here: cross-check tests will be skipped"
	touch $(XCHECK)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/char_lstm.py

explorer: $(STAMP)
	$(BIN)/python -m viz.explorer

gallery: $(STAMP)
	$(BIN)/python -m viz.gallery

# Coverage floor: measured over the full suite, rounded down; raise it as tests are added.
COV_MIN ?= 90
# TINYGRAD_RNN_REQUIRE_MPI: the distributed tests fail, rather than skip, where MPI cannot start.
# The suite runs twice: on NumPy (with coverage), then on the CuPy code path through the strict CuPy
# stand-in in tests/fake_gpu (no GPU needed; see tests/fake_gpu/README.md). The stand-in pass raises
# device-check errors at the op (TINYGRAD_RNN_SYNC_CHECKS=1), where the tests expect them; the deferred
# checks are tested on their own (tests/backend/test_device_checks.py).
STANDIN_ENV := PYTHONPATH=$(CURDIR)/tests/fake_gpu TINYGRAD_RNN_BACKEND=cupy TINYGRAD_RNN_SYNC_CHECKS=1
test: $(STAMP) $(XCHECK)
	TINYGRAD_RNN_REQUIRE_MPI=1 $(BIN)/python -m pytest -q --cov=tinygrad_rnn --cov-report=term:skip-covered --cov-fail-under=$(COV_MIN)
	$(MAKE) --no-print-directory test-standin

test-standin: $(STAMP) $(XCHECK)
	@echo "== the suite again, on the CuPy code path (tests/fake_gpu: a strict NumPy-backed CuPy stand-in) =="
	$(STANDIN_ENV) TINYGRAD_RNN_REQUIRE_MPI=1 $(BIN)/python -m pytest -q -p no:cacheprovider

# make lint: ruff (lint + format check) and mypy on the package, all from the venv.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) typecheck

typecheck: $(STAMP)
	$(BIN)/mypy tinygrad_rnn

docs: $(STAMP)
	$(BIN)/python docs/build_api.py

# make bench: the BPTT suite (bench/rnn_bptt.py; it includes overhead.py's per-op numbers). The
# comparison anchors are optional and installed when the package index has them (PyTorch as for the
# tests; JAX and DeZero here; threadpoolctl reports the BLAS kernel in use); one that is missing is
# reported as absent. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for the run only, so OpenBLAS
# picks its kernel for this CPU as on a user's machine. Pass options with BENCH_ARGS, e.g. BENCH_ARGS=--quick.
BENCH_ANCHORS ?= jax dezero==0.0.13 threadpoolctl
BANCHORS := $(VENV)/.bench-anchors-stamp
$(BANCHORS): $(STAMP) Makefile
	-$(BIN)/python -m pip install -q --disable-pip-version-check $(BENCH_ANCHORS) \
		|| echo "bench anchors ($(BENCH_ANCHORS)) not installable here: they will be reported as absent"
	touch $(BANCHORS)

bench: $(STAMP) $(XCHECK) $(BANCHORS)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python bench/rnn_bptt.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache .coverage
