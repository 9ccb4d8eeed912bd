# vcf-pg-loader: one entry point. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: help setup os-packages extension pg-tle demo test test-default test-portable lint bench bench-peer bench-plans bench-jobs bench-rotation bench-samples clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

setup: os-packages $(STAMP) extension pg-tle ## Install OS packages, the venv and the extensions (idempotent)

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

# pg_tle (the RDS install path: vcfctl db install --via pg_tle) is not packaged
# for Debian: built from the vendored tarball when it is there, in a temporary
# directory outside the repository, into $(PG_CONFIG)'s directories. A relocated
# copy of the server binaries may lack the headers: then Debian's are used.
PG_CONFIG ?= pg_config
PG_TLE_TARBALL ?= ../shared/vendor/pg_tle-1.5.2.tar.gz
pg-tle: ## Build and install pg_tle from the vendored tarball, if present
	@if [ ! -f "$(PG_TLE_TARBALL)" ]; then echo "pg-tle: $(PG_TLE_TARBALL) absent, skipped"; exit 0; fi; \
	inc="$$($(PG_CONFIG) --includedir-server)"; \
	[ -f "$$inc/postgres.h" ] || inc=/usr/include/postgresql/$$($(PG_CONFIG) --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')/server; \
	if [ -f "$$($(PG_CONFIG) --pkglibdir)/pg_tle.so" ] && [ -f "$$($(PG_CONFIG) --sharedir)/extension/pg_tle.control" ]; then \
		echo "pg-tle: already installed"; exit 0; fi; \
	tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	tar -xzf "$(PG_TLE_TARBALL)" -C "$$tmp" --strip-components=1 && \
	$(MAKE) -s -C "$$tmp" PG_CONFIG="$(PG_CONFIG)" includedir_server="$$inc" >"$$tmp/build.log" 2>&1 || { tail -20 "$$tmp/build.log"; exit 1; }; \
	$(SUDO) $(MAKE) -s -C "$$tmp" PG_CONFIG="$(PG_CONFIG)" includedir_server="$$inc" install && \
	echo "pg-tle: installed into $$($(PG_CONFIG) --pkglibdir)"

demo: setup ## Load the bundled example VCF into the embedded cluster and show it
	$(BIN)/vcfctl load tests/data/example.vcf
	$(BIN)/vcfctl sessions list --limit 5

test: setup ## Run every test in both profiles: default (unit, integration, pgTAP) then portable
	$(BIN)/pytest --profile default
	$(BIN)/pytest --profile portable tests/python/integration

test-default: setup ## Unit, integration and pgTAP tests on the embedded cluster (both extensions)
	$(BIN)/pytest --profile default

test-portable: setup ## The integration tests on an RDS-like server (pg_tle, no plpython3u, TLS only)
	$(BIN)/pytest --profile portable tests/python/integration

lint: setup ## ruff and mypy --strict
	$(BIN)/ruff check control tests benchmarks conftest.py
	$(BIN)/ruff format --check control tests benchmarks conftest.py
	$(BIN)/mypy
	$(BIN)/mypy --strict benchmarks

bench: setup ## Stage, ingest and load per engine against a raw COPY of the lines and a COPY of the rows, memory and storage; 3 shapes
	$(BIN)/python -m benchmarks.run

bench-peer: setup ## The same 200,000-record file through vcf-pg-loader 0.5.4 (PyPI, own venv, TCP) and vcfctl load
	$(BIN)/python -m benchmarks.peer

bench-plans: setup ## Ingest time with misleading statistics on vcf.variants (ANALYZE during a load, stale, 2M variants), both engines
	$(BIN)/python -m benchmarks.plan_cliff

bench-jobs: setup ## Two files sharing every variant and sample: one after another, two processes at once, vcfctl load --jobs 2
	$(BIN)/python -m benchmarks.jobs

bench-rotation: setup ## PHI key rotation throughput against a raw COPY of the same values
	$(BIN)/python -m benchmarks.rotation

bench-samples: setup ## Load time against the sample count (10k, 30k, 100k samples), both engines
	$(BIN)/python -m benchmarks.samples

clean: ## Remove build products (not the venv, not the embedded cluster)
	$(MAKE) -s -C extension clean
	rm -rf .mypy_cache .ruff_cache .pytest_cache
