# returnstats — every command a newcomer needs. Targets create .venv and the embedded
# Airflow (SQLite metadata DB in ./airflow_home) on first use.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)

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

.PHONY: run test day bench lint airflow clean venv system-deps

venv: $(STAMP)
$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

$(AIRFLOW_HOME)/.migrated: $(STAMP)
	@mkdir -p $(AIRFLOW_HOME)
	$(VENV)/bin/airflow db migrate > $(AIRFLOW_HOME)/migrate.log 2>&1 || (cat $(AIRFLOW_HOME)/migrate.log; exit 1)
	@touch $@

## make run: a sample week end to end — generate reports, run the DAG day by day, show the outputs
run: system-deps $(AIRFLOW_HOME)/.migrated
	rm -rf data/landing data/staging data/warehouse data/output
	$(PY) -m returnstats.sample generate --out $(SAMPLE_DIR) --start $(SAMPLE_START) \
		--days $(SAMPLE_DAYS) --persons-per-day $(SAMPLE_PERSONS) --seed 7 --clean
	$(PY) scripts/run_days.py $(SAMPLE_START) $(SAMPLE_LAST) --sample $(SAMPLE_DIR)
	$(PY) -m returnstats.bulletin.summary

## make test: the whole test suite (unit, DAG, end to end)
test: system-deps $(STAMP)
	$(PY) -m pytest

## make day DATE=YYYY-MM-DD: one day of the DAG over the RETURNSTATS_* directories
day: $(AIRFLOW_HOME)/.migrated
	@test -n "$(DATE)" || (echo "usage: make day DATE=YYYY-MM-DD" >&2; exit 2)
	$(PY) scripts/run_days.py $(DATE)

## make bench: the benchmarks (numbers printed, nothing asserted)
bench: $(STAMP)
	$(PY) -m returnstats.bench

## make airflow ARGS="dags list": the airflow CLI with this project's environment
airflow: $(AIRFLOW_HOME)/.migrated
	$(VENV)/bin/airflow $(ARGS)

## Chromium and poppler-utils (bulletin previews, PDF tests), from Debian, when missing
system-deps:
	@scripts/install-system-deps

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf data airflow_home
