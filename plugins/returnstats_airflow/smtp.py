"""Sending a prebuilt MIME message through an Airflow SMTP connection.

The bulletin is a multipart message (text and HTML alternatives, inline charts, PDF and
CSV attachments) that SmtpHook's public `send_email_smtp` cannot build: it makes its own
one-part HTML tree. So the hook is used for what it owns, the connection and how its
extras are read (host, port, TLS, SSL, timeout, login), through its public attributes and
properties only; the message goes out through the standard library's SMTP client.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage

Sender = Callable[[EmailMessage], None]
SMTP_CONN_ID = "smtp_default"


class SmtpNotConfigured(RuntimeError):
    """The connection asks for something this sender does not do (OAuth2)."""


def smtp_sender(conn_id: str = SMTP_CONN_ID) -> Sender | None:
    """A callable sending a message through connection `conn_id`, or None when Airflow
    has no such connection (then the bulletin goes to the outbox)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    hook = SmtpHook(smtp_conn_id=conn_id)
    try:
        hook.smtp_connection = hook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    if hook.auth_type != "basic":
        raise SmtpNotConfigured(f"connection {conn_id}: auth_type {hook.auth_type!r} is not "
                                "supported for the bulletin; use basic authentication")

    def send(message: EmailMessage) -> None:
        context = ssl.create_default_context()
        if hook.ssl_context == "none":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if hook.use_ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(hook.host, hook.port or 465,
                                                    timeout=hook.timeout, context=context)
        else:
            client = smtplib.SMTP(hook.host, hook.port or 25, timeout=hook.timeout)
        with client:
            if not hook.use_ssl and hook.smtp_starttls:
                client.starttls(context=context)
                client.ehlo()
            if hook.smtp_user and hook.smtp_password:
                client.login(hook.smtp_user, hook.smtp_password)
            refused = client.send_message(message)
        if refused:  # some recipients refused: the bulletin did not reach everyone
            raise smtplib.SMTPRecipientsRefused(refused)

    return send
