"""The bulletin e-mail: building it, and delivering it once (SPEC §7).

Headers come from configuration and constants only, never from warehouse or input data.
Only an approved vintage's bulletin goes out. Sending is a callable supplied by the DAG
(an Airflow SMTP connection); without one the message is written to
`<output>/outbox/<D>.eml` and the vintage's delivery becomes `outbox`; a later run with
SMTP configured sends it (`send_outbox`). Delivery is `sent` only once an SMTP server has
accepted the message. The delivery state lives in the `vintages` table, so a rerun that
changes nothing does not send the same bulletin again unless forced.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from returnstats import release
from returnstats.config import Settings
from returnstats.warehouse.commits import current_commits
from returnstats.warehouse.location import locate

from .render import BulletinFiles, content_id, subject

VINTAGE_HEADER = "X-Returnstats-Vintage"
TEXT_CONTENTS = "中文版在前，English edition below.\n\n"
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class InvalidRecipient(ValueError):
    """An address that is not a plain, single e-mail address."""


def validate_address(address: str) -> str:
    """The address itself, or InvalidRecipient (header injection, lists, display tricks)."""
    if not isinstance(address, str) or any(ch in address for ch in "\r\n\0,;"):
        raise InvalidRecipient(f"not a single address: {address!r}")
    name, parsed = parseaddr(address)
    if name or parsed != address.strip() or not _ADDRESS.match(parsed):
        raise InvalidRecipient(f"not a plain e-mail address: {address!r}")
    return parsed


def build_message(settings: Settings, as_of: date, files: BulletinFiles,
                  recipients: Sequence[str], vintage: str = "") -> EmailMessage:
    """multipart/mixed: related(alternative(text, html), inline charts), the PDF editions,
    the CSV tables (revisions.csv and report_checks.csv in full). `vintage`: the commit id
    of the vintage sent, recorded in a header."""
    to = [validate_address(r) for r in recipients]
    if not to:
        raise InvalidRecipient("no recipients")
    sender = validate_address(settings.mail_from)

    message = EmailMessage(policy=SMTP)
    message["Subject"] = subject(as_of, files.correction)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    if vintage:  # the commit id of the vintage sent: a pipeline identifier, not input
        message[VINTAGE_HEADER] = vintage

    text = (TEXT_CONTENTS + files.text["zh"].read_text(encoding="utf-8") + "\n" + "-" * 60
            + "\n\n" + files.text["en"].read_text(encoding="utf-8"))
    alternative = MIMEPart(policy=SMTP)
    alternative.set_content(text, subtype="plain", charset="utf-8")
    alternative.add_alternative(files.mail_html.read_text(encoding="utf-8"), subtype="html",
                                charset="utf-8")
    related = MIMEPart(policy=SMTP)
    related.make_related()
    related.attach(alternative)
    for lang, charts in files.charts.items():
        for name, path in charts.items():
            image = MIMEPart(policy=SMTP)
            image.set_content(path.read_bytes(), maintype="image", subtype="png",
                              cid=f"<{content_id(name, lang)}>", filename=path.name,
                              disposition="inline")
            related.attach(image)
    message.make_mixed()
    message.attach(related)
    for lang, pdf in files.pdf.items():
        message.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf",
                               filename=f"bulletin-{as_of.isoformat()}.{lang}.pdf")
    for path in files.tables:
        message.add_attachment(path.read_bytes(), maintype="text", subtype="csv",
                               filename=path.name)
    return message


def outbox_path(settings: Settings, as_of: date) -> Path:
    return settings.output / "outbox" / f"{as_of.isoformat()}.eml"


def _write_outbox(settings: Settings, as_of: date, message: EmailMessage) -> Path:
    path = outbox_path(settings, as_of)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(message.as_bytes())
    tmp.replace(path)
    return path


def _archive_outbox(settings: Settings, as_of: date, vintage: str) -> None:
    """Keep a sent outbox copy under `outbox/sent/` (the record of what went out)."""
    path = outbox_path(settings, as_of)
    archive = path.parent / "sent" / f"{as_of.isoformat()}-{vintage}.eml"
    archive.parent.mkdir(parents=True, exist_ok=True)
    path.replace(archive)


def deliver(settings: Settings, as_of: date, message: EmailMessage,
            send: Callable[[EmailMessage], None] | None, force: bool = False) -> str:
    """Send the bulletin of an approved vintage, or write it to the outbox; what was done.

    `release.NotApproved` when the vintage is not approved. The same vintage is not sent
    twice (nor written to the outbox twice) unless `force`."""
    commit = release.require_approved(settings.warehouse, as_of)
    if commit.delivery == "sent" and not force:
        return "already sent"
    if send is None:
        if commit.delivery == "outbox" and not force:
            return "already in the outbox"
        _write_outbox(settings, as_of, message)
        release.record_delivery(settings.warehouse, as_of, "outbox")
        return "written to outbox"
    send(message)
    release.record_delivery(settings.warehouse, as_of, "sent")
    outbox_path(settings, as_of).unlink(missing_ok=True)
    return "sent"


def send_outbox(settings: Settings, send: Callable[[EmailMessage], None]) -> list[date]:
    """Send every approved bulletin left in the outbox (delivery `outbox`), oldest first,
    exactly as it was written; returns their as-of dates."""
    from email import message_from_bytes
    from email.policy import default

    sent = []
    location = locate(settings.warehouse)
    for as_of, commit in current_commits(location).items():
        path = outbox_path(settings, as_of)
        if commit.status != "approved" or commit.delivery != "outbox" or not path.is_file():
            continue
        send(message_from_bytes(path.read_bytes(), policy=default))
        release.record_delivery(settings.warehouse, as_of, "sent")
        _archive_outbox(settings, as_of, commit.id)
        sent.append(as_of)
    return sent
