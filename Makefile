# Two commands do all the set-up on a fresh machine:
#   make demo   builds the environment and runs the demo on SQLite
#   make test   builds the environment and runs lint, types and the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint env bench clean

$(BIN)/listguard: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/listguard

env: $(BIN)/listguard

demo: env
	$(BIN)/listguard demo --out demo

lint: env
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# axe-core, which the browser tests inject into the pages to check their accessibility
# (pinned in package-lock.json; nothing of it is served by the application)
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

test: lint node_modules/axe-core/axe.min.js
	$(BIN)/pytest

bench: env
	$(BIN)/python -m bench.phone_agreement
	$(BIN)/python -m bench.import_and_rent

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache node_modules
