# Costplane: `make run` serves the product on a fresh machine, `make test` checks it. Both set up
# everything they need (virtualenv, private PostgreSQL, broker) unless DATABASE_URL /
# CELERY_BROKER_URL name existing ones.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell for p in python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DEVSTACK := $(PY) scripts/devstack.py

.PHONY: help run test check bench lint format clean

help:
	@echo "make run    set up and serve Costplane on http://127.0.0.1:8000 (sandbox AWS account)"
	@echo "make test   set up and run the whole test suite with its checks"
	@echo "make bench  run the benchmarks under bench/"

$(INSTALLED): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Costplane needs Python 3.11 or newer (python3.11 / python3.12)"; exit 2; }
	@echo "[costplane] installing into $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]' 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	@touch $@

run: $(INSTALLED)
	$(DEVSTACK) run

test: $(INSTALLED)
	$(DEVSTACK) exec -- $(MAKE) --no-print-directory check

# The checks `make test` runs, in the environment devstack prepared.
check:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(PY) -m pytest -n $(or $(PYTEST_WORKERS),3) $(PYTEST_ARGS)

bench: $(INSTALLED)
	$(DEVSTACK) exec -- bash -c 'for b in bench/[!_]*.py; do echo "== $$b"; $(PY) $$b; done'

format: $(INSTALLED)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
