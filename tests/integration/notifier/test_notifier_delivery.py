"""Delivery: the real ``sendgrid`` client against a local server answering 500/429/401/slowly,
SMTP through aiosmtpd on loopback, the webhook, the console, and the outbox across restarts.
Both PostgreSQL and SQLite hold the notification log."""


from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import wait_for
from tests.integration.support.notifier import API_KEY, RECIPIENTS, SENDER, CaptureServer
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Notification
from vigil_notifier import emails, outbox
from vigil_notifier.channels import Channel, ConsoleChannel, SendGridChannel, SmtpChannel, WebhookChannel
from vigil_notifier.outbox import Outbox

pytestmark = pytest.mark.integration


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def queue_one(factory: sessionmaker[Session], recipients: list[str] = RECIPIENTS, channel: str = "sendgrid") -> int:
    with factory.begin() as db:
        row = outbox.add(db, emails.test_email(), recipients, channel)
        db.flush()
        return int(row.id)


def row(factory: sessionmaker[Session], nid: int) -> Notification:
    with factory() as db:
        r = db.get(Notification, nid)
        assert r is not None
        return r


def settle(factory: sessionmaker[Session], nid: int, box: Outbox, timeout: float = 15.0) -> Notification:
    def done() -> Notification | None:
        box.poll()
        r = row(factory, nid)
        return r if r.status != "pending" else None

    result = wait_for(done, timeout, f"notification {nid} settled", poll=0.1)
    assert isinstance(result, Notification)
    return result


def sendgrid(capture: CaptureServer, timeout_s: float = 2.0) -> SendGridChannel:
    return SendGridChannel(API_KEY, capture.url, SENDER, timeout_s)


def run_box(factory: sessionmaker[Session], channel: Channel) -> Outbox:
    box = Outbox(factory, channel, retry_base_s=0.2)
    box.start()
    return box


def test_500_then_202_is_one_email_retried(factory: sessionmaker[Session], capture: CaptureServer) -> None:
    capture.script = [500]
    nid = queue_one(factory)
    box = run_box(factory, sendgrid(capture))
    try:
        r = settle(factory, nid, box)
        assert (r.status, r.attempts, r.error) == ("sent", 2, None)
        assert len(capture.mails()) == 2 and capture.mails()[0].body == capture.mails()[1].body
        assert capture.mails()[0].body["custom_args"] == {"vigil_notification_id": str(nid)}
        time.sleep(1)
        box.poll()
        time.sleep(0.5)
        assert len(capture.mails()) == 2  # never again once sent
    finally:
        box.stop()


def test_429_is_retried(factory: sessionmaker[Session], capture: CaptureServer) -> None:
    capture.script = [429, 503]
    nid = queue_one(factory)
    box = run_box(factory, sendgrid(capture))
    try:
        assert settle(factory, nid, box).attempts == 3
    finally:
        box.stop()


def test_401_fails_at_once_without_a_retry_storm_and_never_logs_the_key(
        factory: sessionmaker[Session], capture: CaptureServer, caplog: pytest.LogCaptureFixture) -> None:
    capture.default = 401
    caplog.set_level(logging.DEBUG)
    nid = queue_one(factory)
    box = run_box(factory, sendgrid(capture))
    try:
        r = settle(factory, nid, box)
        assert (r.status, r.attempts, r.error) == ("failed", 1, "SendGrid answered HTTP 401")
        for _ in range(5):
            box.poll()
            time.sleep(0.2)
        assert len(capture.mails()) == 1
        assert "failed for good" in caplog.text
        assert API_KEY not in caplog.text and "test-key" not in caplog.text
    finally:
        box.stop()


def test_timeout_is_retried(factory: sessionmaker[Session], capture: CaptureServer) -> None:
    capture.delay_s = 2.0
    nid = queue_one(factory)
    box = run_box(factory, sendgrid(capture, timeout_s=0.5))
    try:
        wait_for(lambda: (box.poll() or True) and row(factory, nid).error, 10, "first attempt timed out")
        first = row(factory, nid)
        assert first.status == "pending" and "timed out" in (first.error or "")
        capture.delay_s = 0.0
        r = settle(factory, nid, box)
        assert r.status == "sent" and r.attempts >= 2
    finally:
        box.stop()


def test_no_recipients_is_a_clear_failure(factory: sessionmaker[Session], capture: CaptureServer) -> None:
    nid = queue_one(factory, recipients=[])
    box = run_box(factory, sendgrid(capture))
    try:
        r = settle(factory, nid, box)
        assert r.status == "failed" and "no recipients" in (r.error or "")
        assert capture.mails() == []
    finally:
        box.stop()


def test_pending_rows_of_a_previous_process_are_sent_once(factory: sessionmaker[Session],
                                                          capture: CaptureServer) -> None:
    # A previous process wrote two rows and died: one before sending, one after sending.
    waiting = queue_one(factory)
    done = queue_one(factory)
    with factory.begin() as db:
        r = db.get(Notification, done)
        assert r is not None
        r.status, r.attempts = "sent", 1
    box = run_box(factory, sendgrid(capture))
    try:
        assert settle(factory, waiting, box).status == "sent"
        time.sleep(0.5)
        box.poll()
        time.sleep(0.5)
        assert [m.body["custom_args"]["vigil_notification_id"] for m in capture.mails()] == [str(waiting)]
    finally:
        box.stop()


def test_console_channel_logs_subject_and_recipients(factory: sessionmaker[Session],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    nid = queue_one(factory, channel="console")
    box = run_box(factory, ConsoleChannel())
    try:
        r = settle(factory, nid, box)
        assert r.status == "logged" and r.delivered_at is not None
        assert "[Vigil] Test e-mail" in caplog.text and "ops@example.org" in caplog.text
    finally:
        box.stop()


def test_webhook_posts_json(factory: sessionmaker[Session], capture: CaptureServer) -> None:
    nid = queue_one(factory, channel="webhook")
    box = run_box(factory, WebhookChannel(f"{capture.url}/hook", 2.0))
    try:
        capture.default = 200
        assert settle(factory, nid, box).status == "sent"
        req = capture.requests[0]
        assert req.path == "/hook" and req.headers["Content-Type"] == "application/json"
        assert req.body["kind"] == "test" and req.body["subject"] == "[Vigil] Test e-mail"
        assert req.body["id"] == nid and req.body["recipients"] == RECIPIENTS
    finally:
        box.stop()


def test_webhook_4xx_is_not_retried(factory: sessionmaker[Session], capture: CaptureServer) -> None:
    capture.default = 404
    nid = queue_one(factory, channel="webhook")
    box = run_box(factory, WebhookChannel(f"{capture.url}/hook", 2.0))
    try:
        r = settle(factory, nid, box)
        assert (r.status, r.attempts) == ("failed", 1)
    finally:
        box.stop()


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def test_smtp_through_aiosmtpd(factory: sessionmaker[Session]) -> None:
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    nid = queue_one(factory, channel="smtp")
    box = run_box(factory, SmtpChannel(f"smtp://127.0.0.1:{port}", SENDER, 5.0))
    try:
        assert settle(factory, nid, box).status == "sent"
        mail_from, rcpts, raw = sink.messages[0]
        assert mail_from == SENDER and rcpts == RECIPIENTS
        msg = message_from_bytes(raw)
        assert msg["Subject"] == "[Vigil] Test e-mail" and msg["X-Vigil-Notification-Id"] == str(nid)
        assert {p.get_content_type() for p in msg.walk()} >= {"text/plain", "text/html"}
    finally:
        box.stop()
        controller.stop()


def test_smtp_unreachable_is_retried(factory: sessionmaker[Session]) -> None:
    from tests.conftest import free_port

    nid = queue_one(factory, channel="smtp")
    box = run_box(factory, SmtpChannel(f"smtp://127.0.0.1:{free_port()}", SENDER, 1.0))
    try:
        wait_for(lambda: (box.poll() or True) and row(factory, nid).attempts >= 2, 10, "two attempts")
        assert row(factory, nid).status == "pending"
    finally:
        box.stop()


def test_sqlite_holds_the_log_and_state(tmp_path: Path, capture: CaptureServer) -> None:
    from vigil_common.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    upgrade(url)
    engine = make_engine(url, sqlite_immediate=True)
    factory = make_sessionmaker(engine)
    nid = queue_one(factory)
    box = run_box(factory, sendgrid(capture))
    try:
        r = settle(factory, nid, box)
        assert r.status == "sent" and json.loads(r.recipients) == RECIPIENTS
        assert r.delivered_at is not None and r.delivered_at.tzinfo is not None
    finally:
        box.stop()
        engine.dispose()


def test_old_settled_rows_are_pruned_pending_ones_kept(factory: sessionmaker[Session]) -> None:
    from datetime import timedelta

    from vigil_common.db.models import utcnow

    old_sent, old_pending, new_sent = queue_one(factory), queue_one(factory), queue_one(factory)
    with factory.begin() as db:
        for nid, status, age in ((old_sent, "sent", 100), (old_pending, "pending", 100), (new_sent, "sent", 1)):
            r = db.get(Notification, nid)
            assert r is not None
            r.status, r.created_at = status, utcnow() - timedelta(days=age)
    assert outbox.prune(factory, 90) == 1
    with factory() as db:
        assert db.get(Notification, old_sent) is None
        assert db.get(Notification, old_pending) is not None and db.get(Notification, new_sent) is not None


def queue_subject(factory: sessionmaker[Session], subject: str) -> int:
    mail = emails.test_email()
    with factory.begin() as db:
        row = outbox.add(db, emails.Email(mail.kind, "cam1", subject, mail.text, mail.html), RECIPIENTS, "smtp")
        db.flush()
        return int(row.id)


def test_smtp_subject_with_line_separators_is_sent_on_one_line(factory: sessionmaker[Session]) -> None:
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    # A row written before subjects were cleaned (or by another writer): U+2028 and NEL inside.
    nid = queue_subject(factory, '[Vigil] Camera "Front\u2028door\x85x" (cam1) is offline')
    box = run_box(factory, SmtpChannel(f"smtp://127.0.0.1:{port}", SENDER, 5.0))
    try:
        r = settle(factory, nid, box)
        assert (r.status, r.attempts) == ("sent", 1)
        msg = message_from_bytes(sink.messages[0][2])
        assert str(msg["Subject"]) == '[Vigil] Camera "Front door x" (cam1) is offline'
    finally:
        box.stop()
        controller.stop()


class Broken:
    name = "smtp"
    needs_recipients = True

    def __init__(self) -> None:
        self.calls = 0

    def send(self, msg: Any) -> None:
        self.calls += 1
        raise ValueError("Header values may not contain linefeed or carriage return characters")


def test_an_unexpected_channel_error_fails_at_once(factory: sessionmaker[Session]) -> None:
    channel = Broken()
    nid = queue_one(factory, channel="smtp")
    box = run_box(factory, channel)
    try:
        r = settle(factory, nid, box)
        assert (r.status, r.attempts) == ("failed", 1)
        assert "ValueError" in (r.error or "")
        for _ in range(3):
            box.poll()
            time.sleep(0.2)
        assert channel.calls == 1
    finally:
        box.stop()


def test_a_row_claimed_max_attempts_times_fails_with_its_last_error(factory: sessionmaker[Session]) -> None:
    channel = Broken()
    nid = queue_one(factory, channel="smtp")
    with factory.begin() as db:
        r = db.get(Notification, nid)
        assert r is not None
        r.attempts, r.error = outbox.MAX_ATTEMPTS, "SMTP failed: TimeoutError"
    box = Outbox(factory, channel, retry_base_s=0.2)
    assert box.deliver(nid) is None
    r = row(factory, nid)
    assert (r.status, r.attempts, r.error) == ("failed", outbox.MAX_ATTEMPTS, "SMTP failed: TimeoutError")
    assert channel.calls == 0
