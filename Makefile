# `make run`: set up (first time) and run the built-in default study.
# `make test`: set up (first time) and run the tests.
# The set-up installs rltransfer editable with every extra, at the tested versions (constraints.txt).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint format bench wheel-smoke clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[all]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/rltransfer run

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) scripts/bench_overhead.py

# Build a wheel, install it (not editable) into a fresh venv, run a tiny study and a report.
wheel-smoke: $(STAMP)
	.ci/wheel_smoke.sh

clean:
	rm -rf runs .pytest_cache .ruff_cache build dist
