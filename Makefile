# Customer 360 — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
ACCOUNTS ?= 3000
SEED ?= 42
SCALE ?= 100k
# e.g. BENCH_ARGS="--engine dask --workers 2": the pipeline stage on another engine (own docs section)
BENCH_ARGS ?=
CLIENT := client
CLIENT_DIST := $(CLIENT)/dist/index.html
CLIENT_SOURCES := $(shell find $(CLIENT)/src $(CLIENT)/scripts -type f 2>/dev/null) $(wildcard $(CLIENT)/index.html $(CLIENT)/vite.config.ts $(CLIENT)/codegen.ts $(CLIENT)/tsconfig.json) schema.graphql
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test venv pipeline sample bench clean client-install client-build client-test client-codegen e2e-browser

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

# A local admin key for this run: only its hash is stored (data/state); revoke old ones with `c360 api-key revoke`.
run: pipeline $(CLIENT_DIST)
	$(BIN)/c360 status --data-dir $(DATA_DIR)
	@KEY=$$($(BIN)/c360 api-key create --role admin --name make-run --data-dir $(DATA_DIR)) && \
	  echo "" && echo "Customer 360: http://$(HOST):$(PORT)/" && \
	  echo "API key (admin; enter it in the dashboard, or send it as X-API-Key): $$KEY" && echo ""
	$(BIN)/c360 serve --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

test: venv
	$(BIN)/python -m pytest -q
	$(MAKE) client-test

# ---- client (React + TypeScript + Apollo, built with Vite into client/dist, served by `c360 serve`) ----

# npm ci from the committed lockfile, again whenever the lockfile changes.
$(CLIENT)/node_modules/.installed: $(CLIENT)/package-lock.json
	cd $(CLIENT) && npm ci --no-audit --no-fund
	@touch $@

client-install: $(CLIENT)/node_modules/.installed

# Fails when src/generated is stale against schema.graphql (`make client-codegen` regenerates),
# on a type error, or when the first load is over 300 KB gzipped.
$(CLIENT_DIST): $(CLIENT)/node_modules/.installed $(CLIENT_SOURCES)
	cd $(CLIENT) && npm run build

client-build: $(CLIENT_DIST)

client-codegen: client-install
	cd $(CLIENT) && npm run codegen

# Debian's Chromium for the end-to-end tests (never a browser downloaded by npm).
e2e-browser:
	@test -x $(CHROMIUM) || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# Component tests (Vitest), then end to end in headless Chromium against a real `c360 serve` on sample data.
client-test: venv client-build e2e-browser
	cd $(CLIENT) && npm test
	cd $(CLIENT) && CHROMIUM=$(CHROMIUM) npm run e2e

bench: venv
	$(BIN)/python -m etl.bench --scale $(SCALE) $(BENCH_ARGS)

clean:
	rm -rf $(DATA_DIR) .bench .pytest_cache $(CLIENT)/dist $(CLIENT)/test-output
