# `make demo` and `make test` set everything up themselves in ./.venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
XCHECK := $(VENV)/.crosscheck-stamp
TORCH_VERSION ?= 2.13.0+cpu

.PHONY: demo test bench install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,examples]'
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

test: $(STAMP) $(XCHECK)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
