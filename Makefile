# vcf-pg-loader: one entry point. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: help setup os-packages extension demo test lint bench bench-rotation bench-samples clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

setup: os-packages $(STAMP) extension ## Install OS packages, the venv and the extensions (idempotent)

os-packages: ## apt-get install what is missing (PostgreSQL 15, plpython3u, pgTAP, bcftools, ...)
	@scripts/setup-os.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

extension: ## Build and install both extensions into the server's extension directory
	$(MAKE) -s -C extension
	$(SUDO) $(MAKE) -s -C extension install

demo: setup ## Load the bundled example VCF into the embedded cluster and show it
	$(BIN)/vcfctl load tests/data/example.vcf
	$(BIN)/vcfctl sessions list --limit 5

test: setup ## Run every test: unit, integration (throwaway cluster), pgTAP via pg_prove
	$(BIN)/pytest

lint: setup ## ruff and mypy --strict
	$(BIN)/ruff check control tests benchmarks
	$(BIN)/ruff format --check control tests benchmarks
	$(BIN)/mypy
	$(BIN)/mypy --strict benchmarks

bench: setup ## Throughput of stage and ingest against a raw COPY, in one run
	$(BIN)/python -m benchmarks.run

bench-rotation: setup ## PHI key rotation throughput against a raw COPY of the same values
	$(BIN)/python -m benchmarks.rotation

bench-samples: setup ## Load time against the sample count (10k, 30k, 100k samples), both engines
	$(BIN)/python -m benchmarks.samples

clean: ## Remove build products (not the venv, not the embedded cluster)
	$(MAKE) -s -C extension clean
	rm -rf .mypy_cache .ruff_cache .pytest_cache
