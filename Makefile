# clv: customer grading grounded in CLV.  `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv test lint report lab bench clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install clv with its dev extras (skipped when up to date)

test: $(STAMP) ## run lint, the test suite and the notebooks (nbval)
	$(BIN)/ruff check src tests scripts benchmarks notebooks
	$(BIN)/ruff format --check src tests scripts benchmarks notebooks
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env tests notebooks

lint: $(STAMP) ## fix lint and formatting in place
	$(BIN)/ruff check --fix src tests scripts benchmarks notebooks
	$(BIN)/ruff format src tests scripts benchmarks notebooks

report: $(STAMP) ## grade the bundled CDNOW sample quarterly into reports/ (see reports/index.html)
	$(BIN)/clv report --sample

lab: $(STAMP) ## open JupyterLab on notebooks/ (installs the lab extra)
	$(BIN)/python -m pip install --quiet -e '.[dev,lab]'
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP) ## time every stage at 100k, 1M and 10M transactions (writes benchmarks/RESULTS.md)
	$(BIN)/python benchmarks/generate.py
	$(BIN)/python benchmarks/run.py

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
