"""On-call alerts: a short plain-text e-mail, sent like the bulletin or kept in the outbox.

An alert names the pipeline's own objects only (DAG, task, run, try, log URL, province
codes); never a record, a value from a package or an exception message, which could carry
personal data (SPEC §9). Without an SMTP sender the message is written to
`<output>/outbox/alerts/<name>.eml`, as the bulletin is written to `<output>/outbox/`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path

from returnstats.bulletin.mail import validate_address
from returnstats.config import Settings

DEFAULT_ONCALL = "oncall@localhost"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

Sender = Callable[[EmailMessage], None]


def oncall_address(environ: Mapping[str, str] = os.environ) -> str:
    """`RETURNSTATS_ONCALL` (one plain address), default `oncall@localhost`."""
    return validate_address(environ.get("RETURNSTATS_ONCALL", "").strip() or DEFAULT_ONCALL)


def alerts_outbox(settings: Settings) -> Path:
    return settings.output / "outbox" / "alerts"


def safe_name(text: str) -> str:
    """A file-name fragment from run ids and task ids (`manual__2020-…+00:00` has colons)."""
    return _UNSAFE_NAME.sub("_", text).strip("_") or "alert"


def build_alert(settings: Settings, subject: str, body: str, to: str) -> EmailMessage:
    """A plain-text alert; headers from configuration and pipeline identifiers only."""
    sender = validate_address(settings.mail_from)
    message = EmailMessage(policy=SMTP)
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = validate_address(to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(body, charset="utf-8")
    return message


def deliver_alert(settings: Settings, name: str, message: EmailMessage,
                  send: Sender | None) -> str:
    """Send through `send`, or write `<output>/outbox/alerts/<name>.eml`; what was done."""
    if send is not None:
        send(message)
        return "sent"
    path = alerts_outbox(settings) / f"{safe_name(name)}.eml"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(message.as_bytes())
    tmp.replace(path)
    return f"written to {path}"


def deliver_once(settings: Settings, name: str, message: EmailMessage, send: Sender | None,
                 fingerprint: object) -> str:
    """`deliver_alert` unless the same alert (name and fingerprint) already went out.

    A rerun of a day that finds the same missing provinces does not page the on-call again.
    """
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str)
                            .encode()).hexdigest()[:32]
    marker = alerts_outbox(settings) / "sent" / f"{safe_name(name)}.{digest}.json"
    if marker.is_file():
        return "already sent"
    how = deliver_alert(settings, name, message, send)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"name": name, "digest": digest, "how": how}))
    return how


@dataclass(frozen=True)
class TaskFailure:
    """What an on-call needs about a failed task instance: where to look, nothing more."""

    dag_id: str
    task_id: str
    run_id: str
    try_number: int | None
    map_index: int | None
    log_url: str | None
    error_type: str | None
    """The exception's class name only; its message may quote input data."""
    label: str | None = None
    """The rendered map index of a mapped task: the province, "44 广东 Guangdong"."""

    @property
    def name(self) -> str:
        mapped = f"-{self.map_index}" if self.map_index is not None and self.map_index >= 0 else ""
        return f"failure-{self.dag_id}-{self.run_id}-{self.task_id}{mapped}-try{self.try_number}"


def task_failure_from_context(context: Mapping) -> TaskFailure:
    """The failure facts from an Airflow task context (or any mapping shaped like one)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    error = context.get("exception")

    def attr(obj: object, name: str) -> object:
        return getattr(obj, name, None) if obj is not None else None

    run_id = context.get("run_id") or attr(ti, "run_id") or attr(dag_run, "run_id") or "unknown"
    dag_id = attr(ti, "dag_id") or attr(dag_run, "dag_id") or attr(context.get("dag"), "dag_id")
    try:
        log_url = attr(ti, "log_url")
    except Exception:  # noqa: BLE001 — a missing base_url must not lose the alert
        log_url = None
    return TaskFailure(
        dag_id=str(dag_id or "unknown"),
        task_id=str(attr(ti, "task_id") or attr(context.get("task"), "task_id") or "unknown"),
        run_id=str(run_id),
        try_number=attr(ti, "try_number"),
        map_index=attr(ti, "map_index"),
        log_url=str(log_url) if log_url else None,
        error_type=type(error).__name__ if isinstance(error, BaseException) else None,
        label=str(attr(ti, "rendered_map_index")) if attr(ti, "rendered_map_index") else None,
    )


def build_failure_alert(settings: Settings, failure: TaskFailure, to: str) -> EmailMessage:
    mapped = (f" ({failure.label or f'map index {failure.map_index}'})"
              if failure.map_index is not None and failure.map_index >= 0 else "")
    body = "\n".join([
        "returnstats: a task failed after its retries.",
        "",
        f"DAG:        {failure.dag_id}",
        f"Task:       {failure.task_id}{mapped}",
        f"Run:        {failure.run_id}",
        f"Try number: {failure.try_number if failure.try_number is not None else 'unknown'}",
        f"Error type: {failure.error_type or 'unknown'}",
        f"Log:        {failure.log_url or 'see the task log in the Airflow UI'}",
        "",
        *([f"Province:   {failure.label}",
           "The day goes on without this province: its new packages are rejected for the "
           "day (package.ingest.failed) and tried again by the next run."]
          if failure.task_id == "ingest_province" and failure.label else []),
        "",
        "Rerun the day once the cause is fixed: see docs/operating.md, 'Rerun a day'.",
    ])
    what = f"{failure.task_id} [{failure.label}]" if failure.label else failure.task_id
    subject = f"[returnstats] FAILED {failure.dag_id}.{what} {failure.run_id}"
    return build_alert(settings, subject, body, to)


def alert_task_failure(settings: Settings, context: Mapping, send: Sender | None,
                       to: str | None = None) -> str:
    """Build and deliver the failure alert for the task in `context`."""
    failure = task_failure_from_context(context)
    message = build_failure_alert(settings, failure, to or oncall_address())
    return deliver_alert(settings, failure.name, message, send)
