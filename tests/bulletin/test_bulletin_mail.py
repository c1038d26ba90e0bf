"""The e-mail: MIME structure received by a real SMTP server, only an approved vintage's
bulletin sent, once, an outbox copy sent by a later run once SMTP is configured, and what
its parts may link to and show."""

import dataclasses
import re
import smtplib
import socket
from email import message_from_bytes
from email.policy import default
from html.parser import HTMLParser

import pytest
from aiosmtpd.controller import Controller
from conftest import AS_OF, PUBLIC_BASE_URL
from returnstats.bulletin.mail import (
    InvalidRecipient,
    build_message,
    deliver,
    outbox_path,
    send_outbox,
    validate_address,
)
from returnstats.bulletin.render import render_bulletin
from returnstats.release import NotApproved, reject
from returnstats.warehouse.store import read_table

from tests.documents import (
    PACKAGE_NAME,
    RULE_ID,
    html_part,
    pdf_link_uris,
    pdf_pages,
    require,
    text_part,
)


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
    assert "万余人" in text.get_content() and "more than " in text.get_content()
    assert text.get_content().index("全国农民工") < text.get_content().index("Point-to-point")
    cids = {img["Content-ID"].strip("<>") for img in images}
    assert {img.get_content_type() for img in images} == {"image/png"}
    assert cids == {f"{name}.{lang}@returnstats" for lang in ("zh", "en") for name in (
        "daily_new", "cumulative_by_mode", "top_flows", "region_flows", "enterprises")}
    for cid in cids:
        assert f"cid:{cid}" in html.get_content()
    types = [(a.get_content_type(), a.get_filename()) for a in attachments]
    assert ("application/pdf", "bulletin-2020-02-23.zh.pdf") in types
    assert ("application/pdf", "bulletin-2020-02-23.en.pdf") in types
    for name in ("returns_by_mode.csv", "revisions.csv", "report_checks.csv"):
        assert ("text/csv", name) in types
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


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if "href" in attrs:
            self.hrefs.append(attrs["href"])


def _links(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def _message(settings, files):
    raw = build_message(settings, AS_OF, files, settings.recipients).as_bytes()
    return message_from_bytes(raw, policy=default)


def test_every_link_sent_is_absolute_from_the_configured_base_url(rendered):
    require("pdftotext")
    settings, files = rendered
    message = _message(settings, files)
    links = _links(html_part(message))
    external = [h for h in links.hrefs if not h.startswith("#")]
    assert external and all(h.startswith(PUBLIC_BASE_URL) for h in external), links.hrefs
    assert f"{PUBLIC_BASE_URL}data_docs/2020-02-23/index.html" in external
    # The contents line links each language within the message.
    assert {"#zh", "#en"} <= set(links.hrefs) and {"zh", "en"} <= links.ids
    assert all(h[1:] in links.ids for h in links.hrefs if h.startswith("#"))
    text = text_part(message)
    assert f"{PUBLIC_BASE_URL}data_docs/2020-02-23/index.html" in text
    assert not re.search(r"(?<![\w/])(?:\.\./|file:|/tmp/)", text)
    for lang in ("zh", "en"):
        uris = pdf_link_uris(files.pdf[lang])
        assert f"{PUBLIC_BASE_URL}data_docs/2020-02-23/index.html" in uris  # links survive print
        assert all(u.startswith(PUBLIC_BASE_URL) for u in uris), uris


def test_without_a_base_url_nothing_sent_links_anywhere(settings):
    (settings.output / "data_docs" / AS_OF.isoformat()).mkdir(parents=True)
    (settings.output / "data_docs" / AS_OF.isoformat() / "index.html").write_text("<html/>")
    files = render_bulletin(settings, AS_OF)
    message = _message(settings, files)
    assert [h for h in _links(html_part(message)).hrefs if not h.startswith("#")] == []
    text = text_part(message)
    assert "data_docs" not in text and "http" not in text and "file:" not in text
    for part in message.walk():
        if part.get_content_type() == "application/pdf":
            assert b"/URI" not in part.get_content()


def test_the_release_section_shows_no_package_name_or_rule_id(rendered):
    require("pdftotext")
    settings, files = rendered
    message = _message(settings, files)
    html = html_part(message)
    text = text_part(message)
    releases = [
        re.search(r'<section id="release-zh">.*?</section>', html, re.S)[0],
        re.search(r'<section id="release-en">.*?</section>', html, re.S)[0],
        text[:text.index("一、分方式返岗情况")],
        text[text.index("Point-to-point return-to-work bulletin"):text.index("RETURNS BY MODE")],
        *(pdf_pages(files.pdf[lang])[0] for lang in ("zh", "en")),  # page 1: the release
    ]
    for release in releases:
        assert "Key figures" in release or "主要指标" in release
        assert not PACKAGE_NAME.search(release), PACKAGE_NAME.search(release)
        assert not RULE_ID.search(release), RULE_ID.search(release)
    # ... while the annex does show them, so the patterns can find them.
    annex = text[text.index("ANNEX FOR STATISTICIANS"):]
    assert PACKAGE_NAME.search(annex) and RULE_ID.search(annex)
