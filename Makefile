# Every target bootstraps .venv on a fresh machine; nothing relies on a hand install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint demo bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests

lint: $(STAMP)
	$(BIN)/ruff check ecsops machines store tests
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/python -m ecsops.demo

bench: $(STAMP)
	$(BIN)/python -m ecsops.demo.bench

clean:
	rm -rf $(VENV)
