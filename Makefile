# Customer 360 — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
ACCOUNTS ?= 3000
SEED ?= 42
SCALE ?= 100k

.PHONY: run test venv pipeline sample bench clean

# The venv is rebuilt whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

venv: $(VENV)/.installed

# Generate the embedded sample book once; `make sample ACCOUNTS=20000` regenerates.
$(DATA_DIR)/bronze/Account:
	$(BIN)/c360 generate --accounts $(ACCOUNTS) --seed $(SEED) --data-dir $(DATA_DIR)

sample: venv
	$(BIN)/c360 generate --accounts $(ACCOUNTS) --seed $(SEED) --data-dir $(DATA_DIR) --replace

pipeline: venv $(DATA_DIR)/bronze/Account
	$(BIN)/c360 pipeline run --data-dir $(DATA_DIR) --backfill-months 12

HOST ?= 127.0.0.1
PORT ?= 8360

run: pipeline
	$(BIN)/c360 status --data-dir $(DATA_DIR)
	$(BIN)/c360 serve --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

test: venv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python -m etl.bench --scale $(SCALE)

clean:
	rm -rf $(DATA_DIR) .bench .pytest_cache
