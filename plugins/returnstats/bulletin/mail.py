"""The bulletin e-mail: building it, and delivering it once (SPEC §7).

Headers come from configuration and constants only, never from warehouse or input data.
Sending is a callable supplied by the DAG (Airflow's SmtpHook); without one the message
is written to `<output>/outbox/<D>.eml`. A marker per as-of date and bulletin digest
under `<output>/outbox/sent/` keeps a rerun from sending the same bulletin again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import date
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from returnstats.config import Settings

from .render import BulletinFiles, content_id, subject

DIGEST_HEADER = "X-Returnstats-Digest"
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
                  recipients: Sequence[str]) -> EmailMessage:
    """multipart/mixed: related(alternative(text, html), inline charts), the PDF editions,
    the CSV tables (revisions.csv and report_checks.csv in full)."""
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
    message[DIGEST_HEADER] = files.digest()

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


def _sent_marker(settings: Settings, as_of: date, digest: str) -> Path:
    return settings.output / "outbox" / "sent" / f"{as_of.isoformat()}.{digest[:32]}.json"


def already_sent(settings: Settings, as_of: date, digest: str) -> bool:
    return _sent_marker(settings, as_of, digest).is_file()


def mark_sent(settings: Settings, as_of: date, digest: str, how: str = "sent") -> Path:
    marker = _sent_marker(settings, as_of, digest)
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"as_of": as_of.isoformat(), "digest": digest, "how": how}))
    tmp.replace(marker)
    return marker


def write_outbox(settings: Settings, as_of: date, message: EmailMessage,
                 force: bool = False) -> Path | None:
    """Write `<output>/outbox/<D>.eml`; None when the same bulletin is already there."""
    path = settings.output / "outbox" / f"{as_of.isoformat()}.eml"
    digest = message[DIGEST_HEADER]
    if path.is_file() and not force and digest and already_sent(settings, as_of, digest):
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(message.as_bytes())
    tmp.replace(path)
    return path


def deliver(settings: Settings, as_of: date, message: EmailMessage,
            send: Callable[[EmailMessage], None] | None, force: bool = False) -> str:
    """"sent", "written to outbox" or "already sent"; the same bulletin goes out once."""
    digest = message[DIGEST_HEADER]
    if not digest:
        raise ValueError(f"message has no {DIGEST_HEADER} header; build it with build_message")
    if already_sent(settings, as_of, digest) and not force:
        return "already sent"
    if send is None:
        write_outbox(settings, as_of, message, force=True)
        mark_sent(settings, as_of, digest, how="outbox")
        return "written to outbox"
    send(message)
    mark_sent(settings, as_of, digest, how="smtp")
    return "sent"
