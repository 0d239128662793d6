# The two commands of the README's quickstart: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test install proto lint clean

$(BIN)/ronda: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/ronda

install: $(BIN)/ronda

demo: install
	$(BIN)/ronda demo

test: install
	$(BIN)/python -m pytest -q

proto:
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python scripts/gen_proto.py

lint:
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/ruff check agent collector tests bench scripts

clean:
	rm -rf $(VENV) build *.egg-info
