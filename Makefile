# newsflow — every install step lives here, pinned (pyproject.toml + constraints.txt).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP_VERSION := 25.3
DATA ?= data/demo
AIRFLOW_TEST_HOME := $(CURDIR)/.airflow

.DEFAULT_GOAL := help
.PHONY: help install demo test lint format typecheck pytest bench eval eval-baseline serve-demo airflow-test clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==$(PIP_VERSION)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

install: $(STAMP) ## create .venv (if missing) and install the project with pinned dependencies

demo: $(STAMP) ## serve the bundled demo site on 127.0.0.1, ingest it into data/demo, query it
	$(BIN)/newsflow demo --data $(DATA)

test: $(STAMP) lint typecheck pytest ## lint, type-check and run the whole test suite

lint: $(STAMP) ## ruff format --check and ruff check (with the AIR and DTZ rules)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP) ## apply ruff format and the safe ruff fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP) ## mypy --strict on ingest/ and transforms/
	$(BIN)/mypy

pytest: $(STAMP) ## the test suite only
	$(BIN)/pytest -q

bench: $(STAMP) ## throughput against trafilatura alone, the per-host rate limit, deduplication, tagging
	$(BIN)/python benchmarks/end_to_end.py
	$(BIN)/python benchmarks/rate_limit.py
	$(BIN)/python benchmarks/dedup.py
	$(BIN)/python benchmarks/tagging.py

eval: $(STAMP) ## extraction quality: newsflow and trafilatura side by side on the public sets
	$(BIN)/python benchmarks/extraction.py

eval-baseline: $(STAMP) ## re-measure and pin the extraction floors in benchmarks/baseline.json
	$(BIN)/python benchmarks/extraction.py --write-baseline

serve-demo: $(STAMP) ## serve the demo site on 127.0.0.1:8765 until Ctrl-C (for airflow dags test)
	$(BIN)/newsflow serve-demo --port 8765

airflow-test: $(STAMP) ## run every demo DAG once with `airflow dags test` against the demo site
	@set -e; export AIRFLOW_HOME=$(AIRFLOW_TEST_HOME) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	  AIRFLOW__CORE__LOAD_EXAMPLES=False NEWSFLOW_SOURCES=$(CURDIR)/sources.yaml NEWSFLOW_DATA=$(CURDIR)/$(DATA); \
	  $(BIN)/airflow db migrate > /dev/null; \
	  $(BIN)/newsflow serve-demo --port 8765 & server=$$!; trap "kill $$server" EXIT; sleep 1; \
	  for dag in $$($(BIN)/python -c "from ingest.config import load_sources, sources_path; print(' '.join('news_ingest__' + s.id for s in load_sources(sources_path()).sources))"); do \
	    $(BIN)/airflow dags test $$dag > /dev/null && echo "$$dag: success"; \
	  done; \
	  $(BIN)/newsflow query --data $(DATA) "SELECT source_id, count(*) AS articles, count(duplicate_of) AS copies FROM articles GROUP BY 1 ORDER BY 1"

clean: ## remove the virtualenv, caches and local data
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .airflow data *.egg-info
