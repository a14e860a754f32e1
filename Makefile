# Set-up and everyday commands; needs only python3 (>= 3.11) and make.
#
#   make demo    create .venv, install the package, run the offline demo (no keys, no network)
#   make test    the same set-up, then lint and the tests; the inner loop:
#                make test PYTEST_ARGS='-m "not slow"'
#
# The virtualenv is made once; the package is (re)installed when pyproject.toml is newer than the
# last install (a stamp file inside the virtualenv). Overridable: PYTHON (the interpreter that
# makes the virtualenv), VENV (its directory), EXTRAS (installed extras), PYTEST_ARGS,
# BENCH_ARGS, DEV_ARGS.

PYTHON ?= python3
VENV ?= .venv
EXTRAS ?= dev
PYTEST_ARGS ?=
BENCH_ARGS ?=
DEV_ARGS ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Commands run by the recipes (tests, the demo, `langgraph dev`) find the virtualenv's first, as
# in an activated virtualenv.
export PATH := $(abspath $(BIN)):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help demo test lint bench dev clean

help:
	@echo "make demo    set up $(VENV), then run the offline demo (llmcompiler-graph demo)"
	@echo "make test    set up $(VENV), then ruff and pytest; the inner loop: make test PYTEST_ARGS='-m \"not slow\"'"
	@echo "make lint    ruff check . and ruff format --check ."
	@echo "make bench   the offline benchmark against ReAct, e.g. make bench BENCH_ARGS='--examples 5'"
	@echo "make dev     LangGraph Studio on the graph (keys from .env); offline, no keys: make dev DEV_ARGS=--simulate"
	@echo "make clean   remove $(VENV) and the caches"

demo: $(STAMP)
	$(BIN)/llmcompiler-graph demo

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/llmcompiler-graph bench $(BENCH_ARGS)

dev: $(STAMP)
	$(BIN)/llmcompiler-graph dev $(DEV_ARGS)

# The package and its extras, again whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo 'Installing llmcompiler-graph[$(EXTRAS)] into $(VENV) (about a minute the first time)'
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $@

# The virtualenv, from a Python that the package supports; a failed attempt leaves nothing behind.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "llmcompiler-graph needs Python >= 3.11, and '$(PYTHON)' is" \
	    "$$(command -v $(PYTHON) >/dev/null && $(PYTHON) --version 2>&1 || echo 'not found')." >&2; \
	  echo "Install a newer Python and name it, e.g. make $(or $(MAKECMDGOALS),test) PYTHON=python3.12" >&2; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "'$(PYTHON) -m venv' failed; on Debian or Ubuntu: sudo apt install python3-venv" >&2; \
	  exit 1; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .langgraph_api build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
