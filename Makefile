# Every target creates .venv and installs what it needs, so each works on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: preview audit-json test lint typecheck bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## preview: render the prod stack offline under Pulumi's mock engine, with its reports
preview: $(STAMP)
	$(BIN)/python -m audit --stack prod

audit-json: $(STAMP)
	$(BIN)/python -m audit --stack prod --json

## test: lint, type check, then the whole test suite
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

## typecheck: mypy, strict, over everything but tests/ ([tool.mypy] in pyproject.toml)
typecheck: $(STAMP)
	$(BIN)/mypy

## bench: render, access evaluation and guardrails from 1 to 1000 accounts (prints a table)
bench: $(STAMP)
	$(BIN)/python -m bench.scale

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
