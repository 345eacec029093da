# Every target bootstraps .venv on a fresh machine; nothing relies on a hand install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What `make demo` needs (ecsops and the simulator) is a subset of what the tests and linters need.
SIM_STAMP := $(VENV)/.installed-sim
STAMP := $(VENV)/.installed
PIP_INSTALL := $(BIN)/pip install --quiet -e

.PHONY: test lint demo bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(SIM_STAMP): pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) '.[sim,ui]'
	touch $(SIM_STAMP)

# The dev extras include the sim extras, so this stamps both.
$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) '.[dev]'
	touch $(STAMP) $(SIM_STAMP)

# The ui's browser tests drive Debian's Chromium (never a browser that a tool downloads): installed here when missing.
browser:
	@sh devtools/install_chromium.sh

test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 tests

lint: $(STAMP)
	$(BIN)/ruff check ecsops machines store tests devtools
	$(BIN)/mypy

demo: $(SIM_STAMP)
	$(BIN)/python -m ecsops.demo

bench: $(SIM_STAMP)
	$(BIN)/python -m devtools.bench

clean:
	rm -rf $(VENV)
