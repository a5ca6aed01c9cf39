# phasescale: `make plan` (set up, then plan the dev stack offline) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
STACK ?= dev
OUT ?= plan/$(STACK)
SHARED ?= ../shared/validation

.PHONY: setup plan test lint typecheck bench validate-shared clean

setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed system-tools

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-checkov.txt
	touch $@

.PHONY: system-tools
system-tools:
	scripts/install-system-tools.sh

plan: $(VENV)/.installed
	$(PY) -m infra plan --stack $(STACK) --out $(OUT)

lint: $(VENV)/.installed
	$(PY) -m ruff check .

typecheck: $(VENV)/.installed
	$(PY) -m mypy

test: setup lint typecheck
	$(PY) -m pytest -n 2 tests

# BENCH_ARGS: e.g. --repeat 5, --sizes 10x2,200x4, --skip-suite (see scripts/bench.py).
bench: $(VENV)/.installed
	$(PY) scripts/bench.py $(BENCH_ARGS)

# Checks against the operators' CRDs and the charts' default values kept in the steering repo's
# shared/ folder (not shipped with the project): run where that folder exists, e.g. in CI.
validate-shared: $(VENV)/.installed
	$(PY) scripts/validate_shared.py $(SHARED)

clean:
	rm -rf plan $(VENV) $(CHECKOV_VENV)
