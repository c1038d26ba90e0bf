"""The e-mail: MIME structure received by a real SMTP server, and sending once."""

import smtplib
import socket
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from conftest import AS_OF
from returnstats.bulletin.mail import (
    InvalidRecipient,
    already_sent,
    build_message,
    deliver,
    validate_address,
)


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _sender(port):
    def send(message):
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(message)
    return send


def test_smtp_server_receives_the_multipart_bulletin(rendered, smtp_server):
    settings, files = rendered
    inbox, port = smtp_server
    message = build_message(settings, AS_OF, files, ["a@example.org", "b@example.org"])
    assert deliver(settings, AS_OF, message, _sender(port)) == "sent"

    (rcpts, raw), = inbox.messages
    assert rcpts == ["a@example.org", "b@example.org"]
    received = message_from_bytes(raw, policy=default)
    assert received["Subject"] == (
        "全国农民工点对点返岗复工日报 2020-02-23 / Point-to-point return-to-work bulletin")
    assert received["From"] == "returnstats@example.org"
    assert received.get_content_type() == "multipart/mixed"
    related, *attachments = received.iter_parts()
    assert related.get_content_type() == "multipart/related"
    alternative, *images = related.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    text, html = alternative.iter_parts()
    assert "余万人" in text.get_content() and "more than " in text.get_content()
    cids = {img["Content-ID"].strip("<>") for img in images}
    assert {img.get_content_type() for img in images} == {"image/png"}
    assert cids == {"cumulative_by_mode@returnstats", "daily_new@returnstats",
                    "top_flows@returnstats", "region_flows@returnstats"}
    for cid in cids:
        assert f"cid:{cid}" in html.get_content()
    types = [(a.get_content_type(), a.get_filename()) for a in attachments]
    assert ("application/pdf", "bulletin-2020-02-23.pdf") in types
    assert ("text/csv", "returns_by_mode.csv") in types
    pdf = next(a for a in attachments if a.get_content_type() == "application/pdf")
    assert pdf.get_content().startswith(b"%PDF")


def test_second_delivery_is_not_sent_unless_forced(rendered, smtp_server, tmp_path):
    settings, files = rendered
    settings = type(settings)(**{**settings.__dict__, "output": tmp_path})
    inbox, port = smtp_server
    message = build_message(settings, AS_OF, files, settings.recipients)
    assert deliver(settings, AS_OF, message, _sender(port)) == "sent"
    assert already_sent(settings, AS_OF, files.digest())
    assert deliver(settings, AS_OF, message, _sender(port)) == "already sent"
    assert len(inbox.messages) == 1
    assert deliver(settings, AS_OF, message, _sender(port), force=True) == "sent"
    assert len(inbox.messages) == 2


def test_without_smtp_the_message_goes_to_the_outbox_once(rendered, tmp_path):
    settings, files = rendered
    settings = type(settings)(**{**settings.__dict__, "output": tmp_path})
    message = build_message(settings, AS_OF, files, settings.recipients)
    assert deliver(settings, AS_OF, message, None) == "written to outbox"
    eml = tmp_path / "outbox" / "2020-02-23.eml"
    assert message_from_bytes(eml.read_bytes(), policy=default).get_content_type() == "multipart/mixed"
    assert deliver(settings, AS_OF, message, None) == "already sent"


@pytest.mark.parametrize("bad", ["a@example.org\r\nBcc: evil@example.org", "a@example.org, b@x.org",
                                 "Evil <a@example.org>", "not-an-address", "a@b@c", ""])
def test_recipients_with_injection_or_bad_syntax_are_rejected(rendered, bad):
    settings, files = rendered
    with pytest.raises(InvalidRecipient):
        validate_address(bad)
    with pytest.raises(InvalidRecipient):
        build_message(settings, AS_OF, files, [bad])
