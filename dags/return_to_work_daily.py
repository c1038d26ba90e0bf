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

**Schedule:** daily at 12:00 UTC (20:00 Beijing), the reporting cutoff.

**Rerun a day:** `make day DATE=YYYY-MM-DD` or `airflow dags test return_to_work_daily D`.
Every task is idempotent: it reads by as-of date and replaces only its own outputs.
Resending an already-sent bulletin needs `{"force_send": true}` in the run conf.

**Who to call:** the statistics data-engineering on-call (see README, "Operating").
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
    },
)
def return_to_work_daily():
    # A mapped task does not take its docstring as doc_md, so it is given explicitly.
    @task(doc_md="Read and validate the province's new packages into the staging zone.")
    def ingest_province(province: str) -> dict:
        from returnstats.validation.ingest import ingest_province as ingest

        return ingest(_settings(), province, _as_of())

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
    send_bulletin(render_bulletin(publish_warehouse(link_persons(ingested))))


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


return_to_work_daily()
