# Set-up and everyday commands; needs only python3 (>= 3.11) and make.
#
#   make demo    create .venv, install the package, run the offline demo (no keys, no network)
#   make test    the same set-up, then lint and the tests (about 10 minutes on 2 cores); the inner
#                loop: make test PYTEST_ARGS='-m "not slow"' (about 2 minutes)
#   make docs    the documentation site, built strictly into build/site (docs/, mkdocs.yml)
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
.PHONY: help demo test lint docs docs-serve docs-results notebooks bench dev clean

help:
	@echo "make demo    set up $(VENV), then run the offline demo (llmcompiler-graph demo)"
	@echo "make test    set up $(VENV), then ruff and pytest; the inner loop: make test PYTEST_ARGS='-m \"not slow\"'"
	@echo "make lint    ruff check . and ruff format --check ."
	@echo "make docs    build the documentation site into build/site (mkdocs build --strict)"
	@echo "make docs-serve  serve the site on 127.0.0.1:8000, rebuilt on every change"
	@echo "make docs-results  measure again what the docs show: benchmark, scheduler, pictures (~13 min)"
	@echo "make notebooks  run every notebook headless on the simulators (into build/notebooks)"
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

# The site; strict: a broken link or anchor, or a missing snippet, fails the build.
docs: $(STAMP)
	$(BIN)/python -m mkdocs build --strict

docs-serve: $(STAMP)
	$(BIN)/python -m mkdocs serve

# The measured outputs the docs include (docs/snippets/) and their pictures (docs/images/), each
# as the project's own commands print or draw it.
SNIPPETS := docs/snippets
SHOWCASE_Q := Who directed the highest-grossing film of 2019, and how old were they then?
docs-results: $(STAMP)
	@echo '<!-- llmcompiler-graph bench --examples 5 (make docs-results) -->' > $(SNIPPETS)/bench-results.md
	$(BIN)/llmcompiler-graph bench --examples 5 --quiet >> $(SNIPPETS)/bench-results.md
	@echo '<!-- python -m llmcompiler_graph.bench.prompt_parts (make docs-results) -->' > $(SNIPPETS)/prompt-parts.md
	$(BIN)/python -m llmcompiler_graph.bench.prompt_parts >> $(SNIPPETS)/prompt-parts.md
	@echo '<!-- python -m llmcompiler_graph.bench.scheduler_overhead (make docs-results) -->' > $(SNIPPETS)/scheduler-overhead.md
	$(BIN)/python -m llmcompiler_graph.bench.scheduler_overhead >> $(SNIPPETS)/scheduler-overhead.md
	$(BIN)/llmcompiler-graph ask --simulate --compare-react --dag docs/images/dag-showcase.png \
	  --timeline docs/images/timeline-showcase.png "$(SHOWCASE_Q)"

# The notebooks, top to bottom on the simulators; the executed copies go to build/notebooks.
notebooks: $(STAMP)
	LLMCOMPILER_NOTEBOOK_SIMULATE=1 $(BIN)/jupyter nbconvert --to notebook --execute \
	  --ExecutePreprocessor.timeout=300 --output-dir build/notebooks notebooks/*.ipynb

bench: $(STAMP)
	$(BIN)/llmcompiler-graph bench $(BENCH_ARGS)

dev: $(STAMP)
	$(BIN)/llmcompiler-graph dev $(DEV_ARGS)

# The package and its extras, again whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo 'Installing llmcompiler-graph[$(EXTRAS)] into $(VENV) (a minute or two the first time)'
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
