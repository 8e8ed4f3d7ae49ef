"""Delivery channels: SendGrid (default), SMTP, webhook (JSON POST) and the console.

Each ``send`` returns on success and raises :class:`DeliveryError` otherwise, saying whether a
retry could help (429, 5xx, time-outs, connection errors) or not (other 4xx, a bad address,
failed authentication). Secrets (API key, SMTP password, webhook URL) never reach a log line
or an error text.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from vigil_common.runtime.settings import Settings
from vigil_notifier.emails import header_text

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    kind: str
    camera_id: str | None
    subject: str
    text: str
    html: str
    recipients: list[str]


class Channel(Protocol):
    name: str
    needs_recipients: bool

    def send(self, msg: Outgoing) -> None: ...


def _retry_for_status(code: int) -> bool:
    return code == 429 or code >= 500


class ConsoleChannel:
    """No delivery configured: the e-mail is logged (status ``logged``)."""

    name = "console"
    needs_recipients = False

    def send(self, msg: Outgoing) -> None:
        log.info("notification #%d (console, not sent): %s -> %s", msg.id, msg.subject,
                 ", ".join(msg.recipients) or "(no recipients)")


class SendGridChannel:
    name = "sendgrid"
    needs_recipients = True

    def __init__(self, api_key: str, host: str, sender: str, timeout_s: float) -> None:
        import sendgrid

        # python_http_client logs every request's headers (the API key) at DEBUG: never let it.
        logging.getLogger("python_http_client").setLevel(logging.INFO)
        self.sender = sender
        self.client = sendgrid.SendGridAPIClient(api_key=api_key, host=host)
        # python_http_client builds a client per path segment, copying this timeout.
        self.client.client.timeout = timeout_s

    def send(self, msg: Outgoing) -> None:
        from python_http_client.exceptions import HTTPError
        from sendgrid.helpers.mail import CustomArg, Mail

        if not self.sender:
            raise DeliveryError("VIGIL_EMAIL_FROM is not set", retry=False)
        mail = Mail(from_email=self.sender, to_emails=list(msg.recipients), subject=header_text(msg.subject),
                    plain_text_content=msg.text, html_content=msg.html)
        mail.custom_arg = CustomArg("vigil_notification_id", str(msg.id))
        try:
            response = self.client.send(mail)
        except HTTPError as exc:
            code = int(getattr(exc, "status_code", 0) or 0)
            raise DeliveryError(f"SendGrid answered HTTP {code}", retry=_retry_for_status(code)) from None
        except TimeoutError as exc:
            raise DeliveryError(f"SendGrid timed out ({type(exc).__name__})", retry=True) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise DeliveryError("SendGrid timed out (TimeoutError)", retry=True) from None
            raise DeliveryError(f"SendGrid unreachable: {type(reason).__name__}", retry=True) from None
        code = int(response.status_code)
        if code >= 300:
            raise DeliveryError(f"SendGrid answered HTTP {code}", retry=_retry_for_status(code))


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool  # implicit TLS (smtps://)
    starttls: bool


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://[user:pass@]host[:port][?starttls=1]`` or ``smtps://...`` (port 465)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("VIGIL_SMTP_URL must look like smtp://user:pass@host:587?starttls=1")
    tls = parts.scheme == "smtps"
    query = parse_qs(parts.query)
    starttls = not tls and query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
    return SmtpTarget(
        host=parts.hostname, port=parts.port or (465 if tls else (587 if starttls else 25)),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None, tls=tls, starttls=starttls,
    )


class SmtpChannel:
    name = "smtp"
    needs_recipients = True

    def __init__(self, url: str, sender: str, timeout_s: float) -> None:
        self.target = parse_smtp_url(url)
        self.sender = sender
        self.timeout_s = timeout_s

    def send(self, msg: Outgoing) -> None:
        if not self.sender:
            raise DeliveryError("VIGIL_EMAIL_FROM is not set", retry=False)
        em = EmailMessage()
        em["From"] = self.sender
        em["To"] = ", ".join(msg.recipients)
        em["Subject"] = header_text(msg.subject)
        em["Message-ID"] = make_msgid(idstring=f"vigil-{msg.id}")
        em["X-Vigil-Notification-Id"] = str(msg.id)
        em.set_content(msg.text)
        em.add_alternative(msg.html, subtype="html")
        t = self.target
        try:
            smtp: smtplib.SMTP
            if t.tls:
                smtp = smtplib.SMTP_SSL(t.host, t.port, timeout=self.timeout_s, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(t.host, t.port, timeout=self.timeout_s)
            with smtp:
                if t.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if t.username:
                    smtp.login(t.username, t.password or "")
                smtp.send_message(em)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP authentication failed ({exc.smtp_code})", retry=False) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _m in exc.recipients.values()})
            raise DeliveryError(f"SMTP refused the recipients {codes}", retry=all(c < 500 for c in codes)) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP answered {exc.smtp_code}", retry=exc.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP failed: {type(exc).__name__}", retry=True) from None


class WebhookChannel:
    """POSTs ``{"id", "kind", "camera_id", "subject", "text", "title", "message", "recipients"}``
    as JSON."""

    name = "webhook"
    needs_recipients = False

    def __init__(self, url: str, timeout_s: float) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("VIGIL_WEBHOOK_URL must be an http(s) URL")
        self.url = url
        self.timeout_s = timeout_s

    def send(self, msg: Outgoing) -> None:
        # "text" is what Slack-style incoming webhooks show; "title"/"message" suit others.
        body = json.dumps({"id": msg.id, "kind": msg.kind, "camera_id": msg.camera_id, "subject": msg.subject,
                           "text": msg.text, "title": msg.subject, "message": msg.text,
                           "recipients": msg.recipients}).encode()
        headers = {
            "Content-Type": "application/json", "User-Agent": "vigil-notifier",
            "X-Vigil-Notification-Id": str(msg.id)}
        req = urllib.request.Request(self.url, data=body, method="POST", headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 - scheme checked in __init__
                resp.read(1024)
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"webhook answered HTTP {exc.code}", retry=_retry_for_status(exc.code)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"webhook unreachable: {type(exc).__name__}", retry=True) from None


def make_channel(settings: Settings) -> Channel:
    """The channel chosen by ``VIGIL_NOTIFY_CHANNEL`` (``auto``: the first one configured)."""
    name = settings.notifier_channel()
    timeout = settings.notify_timeout_s
    if name == "sendgrid":
        key = settings.sendgrid_api_key.get_secret_value() if settings.sendgrid_api_key else ""
        if not key:
            raise ValueError("VIGIL_NOTIFY_CHANNEL=sendgrid needs VIGIL_SENDGRID_API_KEY")
        return SendGridChannel(key, settings.sendgrid_host, settings.email_from, timeout)
    if name == "smtp":
        if settings.smtp_url is None:
            raise ValueError("VIGIL_NOTIFY_CHANNEL=smtp needs VIGIL_SMTP_URL")
        return SmtpChannel(settings.smtp_url.get_secret_value(), settings.email_from, timeout)
    if name == "webhook":
        if settings.webhook_url is None:
            raise ValueError("VIGIL_NOTIFY_CHANNEL=webhook needs VIGIL_WEBHOOK_URL")
        return WebhookChannel(settings.webhook_url.get_secret_value(), timeout)
    return ConsoleChannel()
