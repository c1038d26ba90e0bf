"""
### return_to_work_daily — point-to-point return-to-work statistics, as of one day

Turns the day's provincial submission packages into the national warehouse and the daily
bulletin. The logical date is the **as-of date D**: every accepted package with
`report_date ≤ D` present in the landing zone when the run executes is counted.

**Flow:** scan the landing zone → ingest and validate each province's packages (mapped,
one task per province; a province with nothing new does nothing and is reported missing
by the publish step) → link worker records into persons → publish the warehouse tables
(partition `as_of=D`, atomic) → render the bulletin (zh/en) → e-mail it (or write an
`.eml` to the outbox when no `smtp_default` connection exists).

**Schedule and cutoff:** daily at 12:00 UTC (20:00 Beijing), the reporting cutoff
(`RETURNSTATS_CUTOFF`, per-province exceptions in `RETURNSTATS_CUTOFF_OVERRIDES`, e.g.
`54=22:00,65=22:00`). A scheduled run first waits for the latest cutoff of the day; manual
runs, `dags test` and backfills never wait. Provinces without an accepted package for D are
recorded in `<output>/alerts/D.json` and the on-call is e-mailed; the day completes with
the provinces that reported, and a late package is taken by the next run.

**Rerun a day:** `make day DATE=YYYY-MM-DD` or `airflow dags test return_to_work_daily D`.
Every task is idempotent: it reads by as-of date and replaces only its own outputs.
Resending an already-sent bulletin needs `{"force_send": true}` in the run conf.

**Who to call:** the statistics data-engineering on-call (`RETURNSTATS_ONCALL`), who is
e-mailed when a task fails after its retries (DAG, task, run, try and log URL only) —
see docs/operating.md.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pendulum
from airflow.sdk import dag, get_current_context, task

PROVINCE_CODES = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
]


def _as_of() -> date:
    """The as-of date D: the logical date's calendar day (a daily run's interval has zero length)."""
    return get_current_context()["logical_date"].in_timezone("UTC").date()


def _settings():
    from returnstats.config import load_settings

    settings = load_settings()
    settings.ensure_dirs()
    return settings


def _alert_on_failure(context) -> None:
    """on_failure_callback: e-mail the on-call (or write an .eml); never raises."""
    import logging

    try:
        from returnstats.operations.alerts import alert_task_failure

        alert_task_failure(_settings(), context, _smtp_sender())
    except Exception:  # noqa: BLE001 — a broken alert path must not hide the task's failure
        logging.getLogger(__name__).exception("returnstats: the on-call alert could not be delivered")


def _smtp_sender():
    """A callable sending a MIME message through the `smtp_default` connection, or None."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection("smtp_default")
    except AirflowNotFoundException:
        return None

    def send(message) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        # The hook owns connection, TLS and login; it has no call for a prebuilt MIME tree
        # with inline images, so the message goes through its authenticated client.
        with SmtpHook(smtp_conn_id="smtp_default") as hook:
            hook._smtp_client.send_message(message)

    return send


@dag(
    dag_id="return_to_work_daily",
    schedule="0 12 * * *",
    start_date=pendulum.datetime(2020, 2, 10, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["statistics", "daily"],
    default_args={
        "owner": "returnstats",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "on_failure_callback": _alert_on_failure,
    },
)
def return_to_work_daily():
    @task.sensor(poke_interval=600, timeout=6 * 3600, mode="reschedule")
    def wait_for_cutoff() -> bool:
        """Scheduled runs wait for the day's latest provincial cutoff; other runs go at once."""
        from returnstats.operations.cutoff import load_policy

        context = get_current_context()
        if str(context["dag_run"].run_type).rsplit(".", 1)[-1].lower() != "scheduled":
            return True
        deadline = load_policy().latest_deadline(_as_of(), PROVINCE_CODES)
        return pendulum.now("UTC") >= deadline

    # A mapped task does not take its docstring as doc_md, so it is given explicitly.
    @task(doc_md="Read and validate the province's new packages into the staging zone.")
    def ingest_province(province: str) -> dict:
        from returnstats.validation.ingest import ingest_province as ingest

        return ingest(_settings(), province, _as_of())

    @task(trigger_rule="all_done")
    def check_cutoff() -> dict:
        """Record the provinces with no accepted package for D and alert the on-call."""
        from returnstats.operations.alerts import oncall_address
        from returnstats.operations.cutoff import alert_missing, load_policy, record_missing
        from returnstats.operations.cutoff import check_cutoff as check

        settings, as_of = _settings(), _as_of()
        report = check(settings, as_of, PROVINCE_CODES, load_policy())
        record_missing(settings, report)
        alert = alert_missing(settings, report, oncall_address(), _smtp_sender())
        return {"missing": report.missing, "alert": alert}

    @task(trigger_rule="all_done")
    def build_data_docs() -> str | None:
        """Build the run's Great Expectations Data Docs once, from every province's results."""
        from returnstats.validation.data_docs import build_data_docs as build

        path = build(_settings(), _as_of())
        return str(path) if path else None

    @task
    def link_persons(ingested: list[dict]) -> dict:
        """Link the accepted worker records of all active packages into persons."""
        from airflow.sdk import Variable
        from returnstats.linkage.keys import resolve_key
        from returnstats.linkage.run import link_as_of

        explicit = Variable.get("returnstats_pseudonym_key", default=None)
        key = resolve_key(explicit, Path(os.environ.get("AIRFLOW_HOME", ".")))
        return link_as_of(_settings(), _as_of(), key).stats

    @task
    def publish_warehouse(linked: dict) -> dict:
        """Compute the SPEC §5 figures and write partition as_of=D of every warehouse table."""
        from returnstats.figures.publish import publish_as_of

        return publish_as_of(_settings(), _as_of())

    @task
    def render_bulletin(published: dict) -> dict:
        """Render the zh/en bulletin (HTML, text, PDF, charts) and read its figures back."""
        from returnstats.bulletin.render import render_bulletin as render

        files = render(_settings(), _as_of())
        return {"directory": str(files.directory)}

    @task
    def send_bulletin(rendered: dict) -> str:
        """E-mail the bulletin through smtp_default, or write it to the outbox; never twice."""
        from returnstats.bulletin.mail import build_message, deliver
        from returnstats.bulletin.render import load_bulletin_files

        settings, as_of = _settings(), _as_of()
        force = bool((get_current_context()["dag_run"].conf or {}).get("force_send", False))
        message = build_message(settings, as_of, load_bulletin_files(settings, as_of), settings.recipients)
        return deliver(settings, as_of, message, send=_smtp_sender(), force=force)

    ingested = ingest_province.expand(province=PROVINCE_CODES)
    wait_for_cutoff() >> ingested >> [check_cutoff(), data_docs := build_data_docs()]
    rendered = render_bulletin(publish_warehouse(link_persons(ingested)))
    data_docs >> rendered  # the bulletin links the day's Data Docs
    send_bulletin(rendered)


return_to_work_daily()
