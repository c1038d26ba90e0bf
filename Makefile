# returnstats — every command a newcomer needs. Targets create .venv and the embedded
# Airflow (SQLite metadata DB in ./airflow_home) on first use.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
LOGS := logs
# A stamp per lock: `make run` installs the runtime lock, `make test` the dev lock (a superset).
RUN_STAMP := $(VENV)/.installed-run-$(shell sha1sum requirements.txt | cut -c1-12)
DEV_STAMP := $(VENV)/.installed-dev-$(shell sha1sum requirements-dev.txt | cut -c1-12)
# Known third-party warnings that say nothing to a user of this project, by message (any
# other warning still shows): pathspec's, raised through Airflow's .airflowignore handling,
# and the standard provider's own import of a deprecated Airflow helper.
export PYTHONWARNINGS ?= ignore:GitWildMatchPattern:DeprecationWarning,ignore:The `airflow.utils.operator_helpers.determine_kwargs`:UserWarning

# Embedded Airflow: everything configured here, nothing to set by hand.
export AIRFLOW_HOME ?= $(CURDIR)/airflow_home
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__EXECUTOR := LocalExecutor
export AIRFLOW__CORE__PARALLELISM := 4
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION := False
export AIRFLOW__API__HOST := 127.0.0.1
export PYTHONPATH := $(CURDIR)/plugins
# The embedded default approves complete vintages itself (SPEC §8); docker-compose.yaml
# defaults to `required`, where a person approves each day in the Airflow UI.
export RETURNSTATS_APPROVAL ?= auto
export RETURNSTATS_DEPLOYMENT ?= embedded

SAMPLE_DIR ?= $(CURDIR)/data/sample
SAMPLE_START ?= 2020-02-17
SAMPLE_DAYS ?= 7
SAMPLE_PERSONS ?= 20000
SAMPLE_LAST := $(shell date -d "$(SAMPLE_START) + $$(( $(SAMPLE_DAYS) - 1 )) days" +%F)

.PHONY: run test day bench lint airflow clean venv dev-venv system-deps lock lock-check lock-verify

# Installs print one line each; their output goes to logs/ (scripts/logged). The locks are
# complete and hashed, so pip installs exactly them (--no-deps: nothing resolved at install).
venv: $(RUN_STAMP)
$(RUN_STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	@scripts/logged $(LOGS)/pip.log "python: installed requirements.txt into $(VENV)" \
		$(PY) -m pip install --no-deps --require-hashes -r requirements.txt
	@rm -f $(VENV)/.installed-run-* && touch $@

dev-venv: $(DEV_STAMP)
$(DEV_STAMP): requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	@scripts/logged $(LOGS)/pip.log "python: installed requirements-dev.txt into $(VENV)" \
		$(PY) -m pip install --no-deps --require-hashes -r requirements-dev.txt
	@rm -f $(VENV)/.installed-dev-* && touch $@

# Migrated, and the DAGs serialised into the metadata database (so `dags list` shows them).
$(AIRFLOW_HOME)/.migrated: $(RUN_STAMP)
	@mkdir -p $(AIRFLOW_HOME)
	@scripts/logged $(LOGS)/airflow-db.log "airflow: metadata database migrated" \
		$(VENV)/bin/airflow db migrate
	@touch $@

## make run: a sample week end to end — generate reports, run the DAG day by day, show the outputs
run: system-deps $(AIRFLOW_HOME)/.migrated
	@rm -rf data/landing data/staging data/warehouse data/output
	@$(PY) -m returnstats.sample generate --out $(SAMPLE_DIR) --start $(SAMPLE_START) \
		--days $(SAMPLE_DAYS) --persons-per-day $(SAMPLE_PERSONS) --seed 7 --clean
	@$(PY) scripts/run_days.py $(SAMPLE_START) $(SAMPLE_LAST) --sample $(SAMPLE_DIR)
	@$(PY) -m returnstats.bulletin.summary

## make test: the whole test suite (unit, DAG, end to end; tests/scaleout beside the rest)
test: system-deps $(DEV_STAMP) lock-check
	@scripts/test-suite $(PY) $(LOGS) $(PYTEST_ARGS)

## make lock: recompile requirements.txt and requirements-dev.txt from requirements*.in
## against Airflow's constraints (constraints/README.md); needs PyPI
lock: $(DEV_STAMP)
	$(PY) scripts/lock.py compile

## make lock-check: the lock matches its inputs (offline, run by make test)
lock-check: $(DEV_STAMP)
	@$(PY) scripts/lock.py check

## make lock-verify: recompile into a temporary directory and diff with the committed lock
lock-verify: $(DEV_STAMP)
	$(PY) scripts/lock.py verify

## make day DATE=YYYY-MM-DD: one day of the DAG over the RETURNSTATS_* directories
day: $(AIRFLOW_HOME)/.migrated
	@test -n "$(DATE)" || (echo "usage: make day DATE=YYYY-MM-DD" >&2; exit 2)
	@$(PY) scripts/run_days.py $(DATE)

## make bench: the benchmarks (numbers printed, nothing asserted)
bench: $(DEV_STAMP)
	$(PY) -m returnstats.bench

## make airflow ARGS="dags list": the airflow CLI with this project's environment
airflow: $(AIRFLOW_HOME)/.migrated
	@$(VENV)/bin/airflow $(ARGS)

## Chromium, poppler-utils (bulletin previews, PDF tests) and graphviz (dags show), from Debian, when missing
system-deps:
	@scripts/install-system-deps

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf data airflow_home logs
