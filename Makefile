# The two entry points of the README. Both work on a fresh machine with Python 3.11.
# (`make demo` installs the spark and check extras: `sluice check` runs ruff and pytest.)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[spark,check]'
	touch $@

# the CDK CLI and aws-cdk-lib for the CDK tests (tests/fixtures/cdk_app; marker `cdk`)
CDK_PACKAGES := aws-cdk@2.1149.0 aws-cdk-lib@2.278.0 constructs@10.8.1

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-audit --no-fund --prefix $(VENV)/cdk $(CDK_PACKAGES); fi
	touch $@ $(STAMP_RUN)

# the story in ./sluice-demo, and the sample data of examples/quality in .sluice/demo
demo: $(STAMP_RUN)
	$(BIN)/python examples/quality/generate.py .sluice/demo
	$(BIN)/python -m sluice.demo

test: $(STAMP_DEV)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/quality/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
