# Salesboard: `make run` and `make test` are the front door (README).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run install test test-unit test-e2e system-deps lint bench bench-import bench-backup lock clean help

help:
	@echo "make run       create .venv, init data/dashboard.duckdb with demo data, serve on :$(PORT)"
	@echo "make test      install everything the tests need and run the whole suite"
	@echo "make install   .venv with salesboard and its dev extras"
	@echo "make lint      ruff over src, tests and bench"
	@echo "make bench     Overview speed (10M rows); bench-import and bench-backup for the others"

$(BIN)/salesboard: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e ".[dev]"
	touch $(BIN)/salesboard

install: $(BIN)/salesboard

run: install
	$(BIN)/salesboard init --demo
	$(BIN)/salesboard serve --port $(PORT)

# Debian packages the tests need (browser for e2e). Idempotent; skipped when present.
system-deps:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: install system-deps
	$(BIN)/python -m pytest

test-unit: install
	$(BIN)/python -m pytest tests/unit tests/apptest

lint: install
	$(BIN)/ruff check src tests bench

bench: install
	$(BIN)/python bench/overview.py

# The dlt rows of the import table need the optional `bench` extra.
bench-import: install
	$(BIN)/pip install -q -e ".[dev,bench]"
	$(BIN)/python bench/import_speed.py

bench-backup: install
	$(BIN)/python bench/backup_speed.py

# Re-resolve and pin every dependency (run after editing pyproject.toml).
lock:
	rm -rf /tmp/salesboard-lock && $(PY) -m venv /tmp/salesboard-lock
	/tmp/salesboard-lock/bin/pip install -q --upgrade pip
	/tmp/salesboard-lock/bin/pip install -q -e ".[dev]"
	/tmp/salesboard-lock/bin/pip freeze --exclude-editable | grep -v '^salesboard' > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
