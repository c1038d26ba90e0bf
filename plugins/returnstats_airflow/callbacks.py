"""Callbacks Airflow runs outside a task: the send deadline of the bulletin (SPEC §8,
"a bulletin not sent by the configured deadline alerts the on-call").

The DAG declares a DeadlineAlert on the run's logical date (the day's 20:00 Beijing
trigger) plus the interval to `RETURNSTATS_SEND_DEADLINE`; when a run has not finished by
then, the scheduler queues `bulletin_deadline_missed` to the executor with the run's
details. It alerts the on-call unless the bulletin of that day was sent meanwhile, or the
run was only started after its deadline (a rerun or backfill of an earlier day).
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
SCHEDULE_TIME = time(20, 0)
"""The DAG's daily trigger in Beijing time (cron `0 12 * * *` UTC)."""


def deadline_interval(deadline: time, schedule: time = SCHEDULE_TIME) -> timedelta:
    """From the daily trigger to the send deadline, both Beijing times of the same day (the
    next day when the deadline is earlier in the day than the trigger)."""
    interval = (datetime.combine(datetime.min, deadline) - datetime.combine(datetime.min, schedule))
    return interval if interval > timedelta(0) else interval + timedelta(days=1)


def parse_deadline(text: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"RETURNSTATS_SEND_DEADLINE must be HH:MM (Beijing time), not {text!r}") from None


def _moment(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def bulletin_deadline_missed(context: dict, **_: object) -> str:
    """The deadline callback: e-mail the on-call that the day's bulletin is not out."""
    from returnstats.config import load_settings
    from returnstats.operations.alerts import build_alert, deliver_once, oncall_address
    from returnstats.warehouse.vintages import VintageMissing, vintage_of

    from returnstats_airflow.smtp import smtp_sender
    from returnstats_airflow.storage import storage_options

    run, deadline = context["dag_run"], _moment(context["deadline"]["deadline_time"])
    queued = _moment(run.get("queued_at"))
    if queued is not None and deadline is not None and queued > deadline:
        log.info("run %s started after its deadline %s: no alert", run.get("dag_run_id"), deadline)
        return "run started after its deadline"
    as_of = _moment(run["logical_date"]).date()
    settings = load_settings(storage_options())
    try:
        commit = vintage_of(settings.warehouse, as_of)
        status, delivery = commit.status, commit.delivery
    except VintageMissing:
        status, delivery = "not published", "none"
    if delivery == "sent":
        return "already sent"
    local = deadline.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if deadline else "?"
    body = "\n".join([
        f"returnstats: the bulletin of {as_of} was not sent by its deadline ({local} Beijing).",
        "",
        f"DAG:       {run.get('dag_id')}",
        f"Run:       {run.get('dag_run_id')} ({run.get('state')})",
        f"Vintage:   {status}; delivery {delivery}",
        "",
        "If it waits for approval, see docs/operating.md 'Releasing a bulletin'.",
    ])
    message = build_alert(settings, f"[returnstats] bulletin of {as_of} not sent by its deadline",
                          body, oncall_address())
    return deliver_once(settings, f"deadline-{as_of}", message, smtp_sender(),
                        fingerprint=[as_of.isoformat(), run.get("dag_run_id")])
