"""The e-mail: MIME structure received by a real SMTP server, only an approved vintage's
bulletin sent, once, and an outbox copy sent by a later run once SMTP is configured."""

import dataclasses
import smtplib
import socket
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from conftest import AS_OF
from returnstats.bulletin.mail import (
    InvalidRecipient,
    build_message,
    deliver,
    outbox_path,
    send_outbox,
    validate_address,
)
from returnstats.release import NotApproved, reject
from returnstats.warehouse.store import read_table


def vintage(settings):
    frame = read_table(settings.warehouse, "vintages", AS_OF)
    return frame.iloc[0]


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


@pytest.fixture
def mailing(rendered, own_warehouse, tmp_path):
    """The rendered bulletin with settings on a warehouse copy of the test's own."""
    settings, files = rendered
    return dataclasses.replace(settings, warehouse=own_warehouse, output=tmp_path / "out"), files


def test_smtp_server_receives_the_multipart_bulletin(mailing, smtp_server):
    settings, files = mailing
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
    state = vintage(settings)
    assert state["delivery"] == "sent" and state["sent_at"] is not None


def test_second_delivery_is_not_sent_unless_forced(mailing, smtp_server):
    settings, files = mailing
    inbox, port = smtp_server
    message = build_message(settings, AS_OF, files, settings.recipients)
    assert deliver(settings, AS_OF, message, _sender(port)) == "sent"
    assert deliver(settings, AS_OF, message, _sender(port)) == "already sent"
    assert len(inbox.messages) == 1
    assert deliver(settings, AS_OF, message, _sender(port), force=True) == "sent"
    assert len(inbox.messages) == 2


def test_a_refused_delivery_records_nothing_as_sent(mailing):
    settings, files = mailing
    message = build_message(settings, AS_OF, files, settings.recipients)

    def refuse(_message):
        raise smtplib.SMTPServerDisconnected("the relay hung up")

    with pytest.raises(smtplib.SMTPServerDisconnected):
        deliver(settings, AS_OF, message, refuse)
    assert vintage(settings)["delivery"] == "none"


def test_an_outbox_copy_is_not_sent_and_a_later_run_with_smtp_sends_it(mailing, smtp_server):
    settings, files = mailing
    message = build_message(settings, AS_OF, files, settings.recipients)
    assert deliver(settings, AS_OF, message, None) == "written to outbox"
    eml = outbox_path(settings, AS_OF)
    assert message_from_bytes(eml.read_bytes(), policy=default).get_content_type() == "multipart/mixed"
    assert vintage(settings)["delivery"] == "outbox", "an outbox copy is not a sent bulletin"
    assert deliver(settings, AS_OF, message, None) == "already in the outbox"

    inbox, port = smtp_server
    assert send_outbox(settings, _sender(port)) == [AS_OF]
    (rcpts, raw), = inbox.messages
    archived, = eml.parent.glob("sent/*.eml")  # the copy sent, kept as the record
    assert message_from_bytes(raw, policy=default)["Message-ID"] == message_from_bytes(
        archived.read_bytes(), policy=default)["Message-ID"] == message["Message-ID"]
    assert vintage(settings)["delivery"] == "sent" and not eml.exists()
    assert send_outbox(settings, _sender(port)) == []  # sent once
    assert deliver(settings, AS_OF, message, _sender(port)) == "already sent"


def test_nothing_is_sent_for_a_vintage_that_is_not_approved(mailing, smtp_server):
    settings, files = mailing
    reject(settings.warehouse, AS_OF, by="reviewer", reason="figures of 44 in doubt")
    message = build_message(settings, AS_OF, files, settings.recipients)
    inbox, port = smtp_server
    with pytest.raises(NotApproved, match="rejected .*figures of 44 in doubt"):
        deliver(settings, AS_OF, message, _sender(port))
    with pytest.raises(NotApproved):
        deliver(settings, AS_OF, message, None)
    assert inbox.messages == [] and not outbox_path(settings, AS_OF).exists()


def test_the_smtp_default_connection_sends_through_the_public_hook_api(
        mailing, smtp_server, monkeypatch):
    settings, files = mailing
    inbox, port = smtp_server
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true")
    from returnstats_airflow.smtp import smtp_sender

    send = smtp_sender()
    assert send is not None
    message = build_message(settings, AS_OF, files, ["a@example.org"])
    assert deliver(settings, AS_OF, message, send) == "sent"
    (rcpts, raw), = inbox.messages
    assert rcpts == ["a@example.org"]
    assert message_from_bytes(raw, policy=default).get_content_type() == "multipart/mixed"


def test_without_an_smtp_default_connection_there_is_no_sender(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    from returnstats_airflow.smtp import smtp_sender

    assert smtp_sender() is None


@pytest.mark.parametrize("bad", ["a@example.org\r\nBcc: evil@example.org", "a@example.org, b@x.org",
                                 "Evil <a@example.org>", "not-an-address", "a@b@c", ""])
def test_recipients_with_injection_or_bad_syntax_are_rejected(rendered, bad):
    settings, files = rendered
    with pytest.raises(InvalidRecipient):
        validate_address(bad)
    with pytest.raises(InvalidRecipient):
        build_message(settings, AS_OF, files, [bad])
