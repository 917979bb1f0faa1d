# The commands the README names. `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: prerequisites run test unit e2e bench bench-replay env lint schemas clean asyncapi

env: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock $(wildcard services/*/pyproject.toml shared/*/pyproject.toml tools/*/pyproject.toml)
	@command -v uv >/dev/null 2>&1 || test -x "$(UV)" || python3 -m pip install --user --quiet uv
	$(UV) sync --frozen --quiet
	@touch $@

run: env ## Start the whole system on its embedded defaults (Ctrl-C stops it)
	$(VENV)/bin/ants-stack run

lint: env ## Static checks: ruff, and mypy on the whole tree (configured in pyproject.toml)
	$(VENV)/bin/ruff check shared services tools tests examples
	$(VENV)/bin/mypy

prerequisites: ## pdftotext, Chromium, a font and PostgreSQL for the tests, installed if missing
	@bash tools/prerequisites.sh

asyncapi: tools/asyncapi/node_modules/.package-lock.json ## The official AsyncAPI validator (npm), for the conformance test

tools/asyncapi/node_modules/.package-lock.json: tools/asyncapi/package-lock.json
	npm ci --prefix tools/asyncapi --no-audit --no-fund --ignore-scripts

test: env prerequisites asyncapi ## Unit, integration and end-to-end tests
	$(PY) -m pytest shared services tools/audit tests

unit: env
	$(PY) -m pytest shared services tools/audit -m "not e2e" -q

e2e: env prerequisites
	$(PY) -m pytest tests/e2e

bench: env ## Push N loss-case dossiers through a running system (make run first)
	$(PY) -m ants_stack.bench $(if $(N),--dossiers $(N),) $(if $(REPLICAS),--replicas $(REPLICAS),)

bench-replay: env ## Backlog drain rates of the relay and of a consumer, beside raw aiokafka
	$(PY) -m ants_stack.bench_replay $(if $(N),--events $(N),)

schemas: env ## Regenerate the published event schemas and the AsyncAPI document
	$(PY) -m ants_events.schemas

clean:
	rm -rf var test-artifacts
