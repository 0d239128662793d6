# The commands of the README: `make demo`, `make test`, `make test-fast` and `make lint`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# What ruff checks and formats; mypy's scope (the ronda package) is set in pyproject.toml.
LINT_PATHS := agent collector ronda tests bench scripts

.PHONY: demo test test-fast install proto lint clean

$(BIN)/ronda: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/ronda

install: $(BIN)/ronda

demo: install
	$(BIN)/ronda demo

# Test modules run in worker processes (pytest-xdist), each module whole in one worker, so that its
# servers and fixtures start once. Most of a run waits on servers, so workers beyond the cores pay;
# TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 3

# Everything: real web servers, sshd, nmap, Ansible, Chromium, benchmarks.
test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The in-process tests only (no test marked `servers` or `slow`): under 2 minutes on 2 cores, a worker
# per core.
test-fast: install
	$(BIN)/python -m pytest -q -n auto -m 'not servers and not slow'

# ruff's rules and format, then mypy over the package; any finding fails.
lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

proto:
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python scripts/gen_proto.py

clean:
	rm -rf $(VENV) build *.egg-info
