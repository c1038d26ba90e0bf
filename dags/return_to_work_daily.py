"""
### return_to_work_daily — point-to-point return-to-work statistics, as of one day

Turns the provincial submission packages into the national warehouse and the daily
bulletin. The logical date is the **as-of date D**: every accepted package with
`report_date ≤ D` present in the landing zone when the run executes is counted.

**Flow:** `wait_for_cutoff` (scheduled runs only) → `ingest_province`, one mapped task per
province, named "44 广东 Guangdong": read, validate and stage its new packages (skipped when
the province has no accepted package for D) → `collect_ingest` records provinces whose
ingest failed after its retries (their packages are rejected for the day and retried by the
next run; the day goes on without them) → `check_cutoff` (skipped when provinces are
missing: it names them and alerts the on-call) and `build_data_docs` → `link_persons`
(applies a reviewer's decisions, writes the day's uncertain pairs for clerical review:
docs/linkage.md) →
`publish_warehouse` writes every table and commits vintage D, *held* (each table is an
Asset, `returnstats.<table>`) → `render_bulletin` → `release_bulletin`: with
`RETURNSTATS_APPROVAL=auto` a complete vintage is approved by `auto`; with `required` →
`approve_bulletin`, where a statistician approves or rejects in the Airflow UI (Required
actions) → `record_decision` → `send_bulletin` (only an approved vintage; through the SMTP
connection `smtp_default`, or to the outbox, sent by a later run once SMTP exists). An
approval records an event on the Asset `returnstats.approved`, which the
`statistics_weekly_extract` DAG is scheduled on.

**Schedule and cutoff:** daily at 12:00 UTC (20:00 Beijing), the reporting cutoff
(`RETURNSTATS_CUTOFF`, per-province exceptions in `RETURNSTATS_CUTOFF_OVERRIDES`). A
scheduled run first waits for the latest cutoff of the day; manual runs, `dags test` and
backfills never wait. A late package is taken by the next run and revises earlier days.

**Held vintages:** a vintage with fewer than `RETURNSTATS_MIN_PROVINCES` provinces
reporting, or an as-of date outside `RETURNSTATS_CAMPAIGN_START`..`RETURNSTATS_CAMPAIGN_END`,
is never approved automatically: `vintages.reason` says why; `latest_*` stays on the last
approved day.

**Rerun a day:** `make day DATE=YYYY-MM-DD` or `airflow dags test return_to_work_daily D`.
A rerun that changes no figure keeps the approval and does not send again (param
`force_send` resends); one that changes an approved day's figures needs approval again
and goes out as a correction.

**Scaled out** (docs/scaling.md): staging and the warehouse on an object store
(`RETURNSTATS_STAGING`/`RETURNSTATS_WAREHOUSE` = `s3://…`, credentials in the connection
`aws_default` or `RETURNSTATS_STORAGE_CONN_ID`); the tasks that write `<output>`
(check_cutoff, build_data_docs, render, release, send) run on `RETURNSTATS_OUTPUT_QUEUE`.

**Campaign and key:** every task refuses staging, linkage state or warehouse of another
campaign (landing root, campaign start), naming the setting. `link_persons` fails without
the pseudonymisation key (Airflow variable `returnstats_pseudonym_secret`, masked) outside
the embedded deployment, and refuses a changed key unless the run sets param `rekey`
(the linkage state is then rebuilt) — docs/security.md.

**Who to call:** the statistics data-engineering on-call (`RETURNSTATS_ONCALL`), e-mailed
when a task fails after its retries (province named), when the approval gets no answer by
its timeout, and when the bulletin is not sent by `RETURNSTATS_SEND_DEADLINE`
— docs/operating.md.
"""

from __future__ import annotations

import os
from datetime import date, timedelta

import pendulum
from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import (
    DeadlineAlert,
    DeadlineReference,
    Param,
    SyncCallback,
    dag,
    get_current_context,
    task,
)
from returnstats_airflow.assets import RELEASES, TABLE_ASSETS, record_approval
from returnstats_airflow.callbacks import deadline_interval, parse_deadline

PROVINCE_CODES = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
]
APPROVE, REJECT = "Approve", "Reject"


def _minutes(name: str, default: int) -> timedelta:
    return timedelta(minutes=int(os.environ.get(name, "") or default))


def _send_deadline() -> DeadlineAlert | None:
    """The bulletin is due by RETURNSTATS_SEND_DEADLINE (Beijing) on the day of the run.

    Not in the embedded deployment (`make run`, `make day`): no scheduler checks deadlines
    there, and Airflow 3.3.2's `dag.test()` fails on a DAG that declares one (it looks the
    alert up in the metadata database by the object itself)."""
    if os.environ.get("RETURNSTATS_DEPLOYMENT", "").strip().lower() == "embedded":
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=deadline_interval(parse_deadline(os.environ.get("RETURNSTATS_SEND_DEADLINE",
                                                                 "22:00"))),
        callback=SyncCallback("returnstats_airflow.callbacks.bulletin_deadline_missed"),
        name="bulletin sent",
    )


OUTPUT_QUEUE = os.environ.get("RETURNSTATS_OUTPUT_QUEUE", "").strip() or "default"
"""The Celery queue of the tasks that write or read `<output>` (the host that serves it,
docs/scaling.md); Airflow's default queue unless set."""


def _as_of() -> date:
    """The as-of date D: the logical date's calendar day (a daily run's interval has zero length)."""
    return get_current_context()["logical_date"].in_timezone("UTC").date()


def _settings():
    """The settings, checked against the campaign the state belongs to (refused otherwise)."""
    from returnstats.campaign import check_campaign
    from returnstats.config import load_settings
    from returnstats_airflow.storage import storage_options

    settings = load_settings(storage_options())
    settings.ensure_dirs()
    check_campaign(settings)
    return settings


def _alert_on_failure(context) -> None:
    """on_failure_callback: e-mail the on-call (or write an .eml); never raises."""
    import logging

    try:
        from returnstats.config import load_settings
        from returnstats.operations.alerts import alert_task_failure
        from returnstats_airflow.smtp import smtp_sender
        from returnstats_airflow.storage import storage_options

        # Not `_settings()`: a task refused for another campaign's state still alerts.
        alert_task_failure(load_settings(storage_options()), context, smtp_sender())
    except Exception:  # noqa: BLE001 — a broken alert path must not hide the task's failure
        logging.getLogger(__name__).exception("returnstats: the on-call alert could not be delivered")


@dag(
    dag_id="return_to_work_daily",
    schedule="0 12 * * *",
    start_date=pendulum.datetime(2020, 2, 10, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    deadline=_send_deadline(),
    description="Provincial return-to-work reports → national warehouse vintage and bulletin",
    tags=["statistics", "daily"],
    params={
        "force_send": Param(False, type="boolean",
                            description="Send the bulletin again even if this vintage was sent."),
        "rekey": Param(False, type="boolean",
                       description="Accept a changed pseudonymisation key: the linkage state "
                                   "is rebuilt with it (docs/security.md)."),
    },
    default_args={
        "owner": os.environ.get("RETURNSTATS_OWNER", "statistics-data-engineering"),
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": _minutes("RETURNSTATS_TASK_TIMEOUT_MINUTES", 60),
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
    @task(doc_md="Read and validate the province's new packages into the staging zone.",
          map_index_template="{{ province_label }}",
          execution_timeout=_minutes("RETURNSTATS_INGEST_TIMEOUT_MINUTES", 30))
    def ingest_province(province: str) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException
        from returnstats.reference import province_label
        from returnstats.validation.ingest import ingest_province as ingest

        context = get_current_context()
        context["province_label"] = province_label(province)
        summary = ingest(_settings(), province, _as_of())
        context["ti"].xcom_push(key="summary", value=summary)
        day = _as_of().isoformat()
        if not any(p["status"] == "accepted" and p["package"].split("_")[1] == day.replace("-", "")
                   for p in summary["packages"]):
            raise AirflowSkipException(f"{province_label(province)}: no accepted package for {day}")
        return summary

    @task(trigger_rule="all_done")
    def collect_ingest() -> dict:
        """Record the provinces whose ingest failed after its retries; the day goes on."""
        from returnstats.validation.failures import record_ingest_failures

        ti = get_current_context()["ti"]
        summaries = ti.xcom_pull(task_ids="ingest_province", key="summary",
                                 map_indexes=list(range(len(PROVINCE_CODES))))
        failed = {code: "the task failed; see its log"
                  for code, summary in zip(PROVINCE_CODES, summaries, strict=True) if summary is None}
        records = record_ingest_failures(_settings(), _as_of(), failed)
        return {"failed_provinces": sorted(failed), "packages_not_ingested": len(records)}

    @task(trigger_rule="all_done", queue=OUTPUT_QUEUE)
    def check_cutoff() -> dict:
        """Record the provinces with no accepted package for D and alert the on-call."""
        from airflow.sdk.exceptions import AirflowSkipException
        from returnstats.operations.alerts import oncall_address
        from returnstats.operations.cutoff import alert_missing, load_policy, record_missing
        from returnstats.operations.cutoff import check_cutoff as check
        from returnstats_airflow.smtp import smtp_sender

        settings, as_of = _settings(), _as_of()
        report = check(settings, as_of, PROVINCE_CODES, load_policy())
        record_missing(settings, report)
        alert = alert_missing(settings, report, oncall_address(), smtp_sender())
        if report.missing:
            raise AirflowSkipException(
                f"{len(report.missing)} of {len(PROVINCE_CODES)} provinces have no accepted "
                f"package for {as_of}: {', '.join(report.missing)} (on-call: {alert})")
        return {"missing": report.missing, "alert": alert}

    @task(trigger_rule="all_done", queue=OUTPUT_QUEUE)
    def build_data_docs() -> str | None:
        """Build the run's Great Expectations Data Docs once, from every province's results."""
        from returnstats.validation.data_docs import build_data_docs as build

        path = build(_settings(), _as_of())
        return str(path) if path else None

    @task
    def link_persons(collected: dict) -> dict:
        """Link the accepted worker records of all active packages into persons."""
        from pathlib import Path

        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowFailException
        from returnstats.campaign import CampaignMismatch, check_key
        from returnstats.linkage.keys import KEY_VARIABLE, KeyMissing, key_fingerprint, resolve_key
        from returnstats.linkage.review import DecisionError
        from returnstats.linkage.run import link_as_of

        settings = _settings()
        try:  # no key, or another key than the campaign's: no retry makes one
            key = resolve_key(Variable.get(KEY_VARIABLE, default=None),
                              Path(os.environ.get("AIRFLOW_HOME", ".")))
            check_key(settings, key_fingerprint(key),
                      rekey=bool(get_current_context()["params"].get("rekey", False)))
        except (KeyMissing, CampaignMismatch) as error:
            raise AirflowFailException(str(error)) from error
        try:  # a reviewer's decisions file that cannot be read: named, no retry
            stats = link_as_of(settings, _as_of(), key).stats
        except DecisionError as error:
            raise AirflowFailException(str(error)) from error
        return {**stats, "key_fingerprint": key_fingerprint(key)}

    @task(outlets=list(TABLE_ASSETS.values()))
    def publish_warehouse(linked: dict) -> dict:
        """Compute the SPEC §5 figures, write every table and commit vintage D, held."""
        from returnstats.figures.publish import publish_as_of

        return publish_as_of(_settings(), _as_of(), linked.get("key_fingerprint"))

    @task(queue=OUTPUT_QUEUE)
    def render_bulletin(published: dict) -> dict:
        """Render the zh/en bulletin (HTML, text, PDF, charts) and read its figures back."""
        from airflow.sdk.exceptions import AirflowFailException
        from returnstats.bulletin.correction import corrected_figures
        from returnstats.bulletin.readback import ReadbackMismatch
        from returnstats.bulletin.render import render_bulletin as render

        settings, as_of = _settings(), _as_of()
        try:
            files = render(settings, as_of, corrected_figures(settings.warehouse, as_of))
        except ReadbackMismatch as error:  # the same figures fail the same way: no retry
            raise AirflowFailException(str(error)) from error
        return {"directory": str(files.directory)}

    @task.branch(outlets=[RELEASES], queue=OUTPUT_QUEUE)
    def release_bulletin(rendered: dict) -> list[str]:
        """Route the vintage: already approved, or approved by `auto`, goes to sending;
        with RETURNSTATS_APPROVAL=required a person decides in approve_bulletin."""
        from returnstats import release
        from returnstats.bulletin.approval import approval_body
        from returnstats.bulletin.context import build_context
        from returnstats.bulletin.correction import corrected_figures
        from returnstats.warehouse.vintages import vintage_of

        settings, as_of = _settings(), _as_of()
        commit = vintage_of(settings.warehouse, as_of)
        if commit.status == "approved":
            return ["send_bulletin"]
        if settings.approval == "required":
            context = build_context(settings, as_of, corrected_figures(settings.warehouse, as_of))
            body = approval_body(context, held=commit.vintage.get("reason"))
            get_current_context()["ti"].xcom_push(key="approval_body", value=body)
            return ["approve_bulletin"]
        if commit.vintage.get("reason"):
            print(f"vintage {as_of} stays held: {commit.vintage['reason']}")
            return []
        release.approve(settings.warehouse, as_of, by=release.AUTO)
        record_approval(get_current_context()["outlet_events"], as_of.isoformat(), release.AUTO)
        return ["send_bulletin"]

    approve_bulletin = HITLOperator(
        task_id="approve_bulletin",
        subject="Release the return-to-work bulletin of {{ ds }}?",
        body="{{ ti.xcom_pull(task_ids='release_bulletin', key='approval_body') }}",
        options=[APPROVE, REJECT],
        params={"reason": Param("", type="string", title="Reason (for a rejection)")},
        response_timeout=_minutes("RETURNSTATS_APPROVAL_TIMEOUT_MINUTES", 240),
        execution_timeout=None,
        retries=0,  # a decision is not retried: no answer by the timeout alerts the on-call
        doc_md="A statistician approves (publish and send) or rejects the held vintage.",
    )

    @task.branch(outlets=[RELEASES])
    def record_decision(decision: dict) -> list[str]:
        """Store the approver's decision with the vintage; only an approval sends."""
        from returnstats import release

        settings, as_of = _settings(), _as_of()
        by = (decision.get("responded_by_user") or {}).get("name") or "unknown"
        if decision["chosen_options"] == [APPROVE]:
            release.approve(settings.warehouse, as_of, by=by)
            record_approval(get_current_context()["outlet_events"], as_of.isoformat(), by)
            return ["send_bulletin"]
        reason = (decision.get("params_input") or {}).get("reason") or "rejected without a reason"
        release.reject(settings.warehouse, as_of, by=by, reason=reason)
        return []

    @task(trigger_rule="none_failed_min_one_success", queue=OUTPUT_QUEUE,
          execution_timeout=_minutes("RETURNSTATS_SEND_TIMEOUT_MINUTES", 15))
    def send_bulletin() -> str:
        """E-mail the approved bulletin through smtp_default (first any approved bulletin
        left in the outbox), or write it to the outbox; never the same vintage twice."""
        from returnstats.bulletin.mail import build_message, deliver, send_outbox
        from returnstats.bulletin.render import load_bulletin_files
        from returnstats.warehouse.vintages import vintage_of
        from returnstats_airflow.smtp import smtp_sender

        settings, as_of = _settings(), _as_of()
        send = smtp_sender()
        if send is not None:
            flushed = send_outbox(settings, send)
            if flushed:
                print(f"sent from the outbox: {', '.join(d.isoformat() for d in flushed)}")
        force = bool(get_current_context()["params"].get("force_send", False))
        message = build_message(settings, as_of, load_bulletin_files(settings, as_of),
                                settings.recipients, vintage_of(settings.warehouse, as_of).id)
        return deliver(settings, as_of, message, send=send, force=force)

    ingested = wait_for_cutoff() >> ingest_province.expand(province=PROVINCE_CODES)
    collected = collect_ingest()
    ingested >> collected >> [check_cutoff(), data_docs := build_data_docs()]
    rendered = render_bulletin(publish_warehouse(link_persons(collected)))
    data_docs >> rendered  # the bulletin links the day's Data Docs
    release = release_bulletin(rendered)
    send = send_bulletin()
    release >> [approve_bulletin, send]
    record_decision(approve_bulletin.output) >> send


return_to_work_daily()
