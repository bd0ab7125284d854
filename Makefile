# Samplan developer commands. `make run` starts the whole thing on embedded defaults; `make test` is CI.
# GNU make. Recipes are indented with tabs.

PYTHON ?= python3
VENV = .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
PIP_FLAGS ?= --disable-pip-version-check
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (2 cores: 2); PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 2
IMAGE ?= samplan:latest
CHROMIUM = /usr/bin/chromium

# The test fixtures run the persistence tests against SQLite and against this PostgreSQL database.
SAMPLAN_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
export SAMPLAN_TEST_POSTGRES_URL

.DEFAULT_GOAL := help
.PHONY: help install lock run test topology-test lint bench migrate seed clean docker check-python chromium-hint

help: ## Show this list
	@echo "Samplan make targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Variables: PYTHON=$(PYTHON) (3.11+), PYTEST_ARGS='...', PYTEST_WORKERS=$(PYTEST_WORKERS), IMAGE=$(IMAGE)"

define CHECK_PYTHON
@$(PYTHON) -c 'import sys; raise SystemExit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || { \
  echo "error: Samplan needs Python 3.11 or newer, but '$(PYTHON)' is: $$($(PYTHON) -c 'import sys; print("Python " + sys.version.split()[0])' 2>/dev/null || echo 'not found')." >&2; \
  echo "       Run for example: make PYTHON=python3.11 $(or $(MAKECMDGOALS),install)" >&2; \
  exit 1; }
endef

check-python:
	$(CHECK_PYTHON)

$(BIN)/python:
	$(CHECK_PYTHON)
	$(PYTHON) -m venv $(VENV)

# Every dependency comes from the hashed lock (requirements-dev.lock), so a fresh clone installs exactly what
# the tests last passed with; Samplan itself is then installed editable without touching the dependencies.
# Re-installs only when pyproject.toml or the lock is newer than the stamp.
$(STAMP): pyproject.toml requirements-dev.lock | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install $(PIP_FLAGS) --no-deps --no-build-isolation -e .
	@touch $@

install: $(STAMP) ## Create .venv and install Samplan with its dev tools from the lock (only when it changed)

UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 --upgrade -q

lock: install ## Re-resolve the newest allowed versions into requirements.lock (runtime) and requirements-dev.lock
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev -o requirements-dev.lock
	@echo "Locks updated: run 'make test' before committing them."

run: install ## Start API and UI on embedded defaults (SQLite, in-memory broker, dev identity provider, demo data)
	$(BIN)/samplan dev

define CHROMIUM_HINT
@test -x $(CHROMIUM) || { \
  echo "note: $(CHROMIUM) is missing; the browser tests need it." >&2; \
  echo "      Install it with: apt-get install -y chromium chromium-driver   (.ci/run does this)" >&2; }
endef

chromium-hint:
	$(CHROMIUM_HINT)

test: install chromium-hint ## ruff, mypy, import-linter, then pytest (SQLite and PostgreSQL)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	@echo "pytest (PostgreSQL: $(SAMPLAN_TEST_POSTGRES_URL))"
	@$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS) || { status=$$?; \
	  test -x $(CHROMIUM) || echo "note: $(CHROMIUM) is missing; browser-test failures may come from that (apt-get install -y chromium chromium-driver)." >&2; \
	  exit $$status; }

topology-test: install chromium-hint ## The production topology with real processes (part of `make test`), its figures shown
	@command -v caddy >/dev/null || { echo "error: caddy is missing: apt-get install -y caddy" >&2; exit 1; }
	$(BIN)/pytest -n 0 -s tests/e2e/test_topology.py

lint: install ## ruff, mypy and import-linter only
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install ## Run every bench/*.py (each prints JSON lines)
	@set -e; found=0; for f in bench/*.py; do \
	  [ -e "$$f" ] || continue; \
	  case "$$(basename "$$f")" in _*) continue ;; esac; \
	  found=1; echo "== $$f" >&2; $(BIN)/python "$$f"; \
	done; [ "$$found" = 1 ] || echo "no benchmarks in bench/" >&2

migrate: install ## Apply database migrations (DATABASE_URL, default SQLite in .samplan/)
	$(BIN)/samplan migrate

seed: install ## Load the demo world into the database
	$(BIN)/samplan seed

clean: ## Remove .venv, .samplan (local data!) and caches
	rm -rf $(VENV) .samplan .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist test-results bench/results
	rm -rf *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

docker: ## Build the container image (IMAGE=samplan:latest)
	docker build -t $(IMAGE) .
