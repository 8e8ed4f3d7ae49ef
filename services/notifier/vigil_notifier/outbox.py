"""The notification log as an outbox, and the delivery worker thread.

A notification is written ``pending`` in the same transaction as the state change that caused
it (so a crash loses neither). The worker (its own thread, bounded queue: the state machine
never waits for a mail server) claims a row by counting the attempt and pushing its
``next_attempt_at`` forward before sending, then marks it ``sent`` / ``logged`` / ``failed``,
or leaves it ``pending`` with a backoff for a transient error (429, 5xx, time-out). Pending
rows left by a previous process are picked up on start. The one window in which a message can
go out twice is a crash between the provider accepting it and our commit; every message
carries its row id (SendGrid custom arg ``vigil_notification_id``, header
``X-Vigil-Notification-Id``) so a receiver can tell.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.db.models import Notification, utcnow
from vigil_common.runtime.counters import Counters
from vigil_common.runtime.lifecycle import retry
from vigil_notifier.channels import Channel, DeliveryError, Outgoing
from vigil_notifier.emails import Email

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
MAX_DELAY_S = 600.0
CLAIM_S = 120.0  # a claimed row is not picked up again before this (a slow send)
QUEUE_MAX = 1000


def retry_delay(attempts: int, base_s: float) -> float:
    """Backoff after the ``attempts``-th failed try: base, 2 base, 4 base, ... capped."""
    return min(MAX_DELAY_S, base_s * (2 ** max(0, attempts - 1)))


def add(db: Session, email: Email, recipients: list[str], channel: str) -> Notification:
    """Write a pending notification (the caller commits, together with its state change)."""
    row = Notification(kind=email.kind, camera_id=email.camera_id, subject=email.subject[:998],
                       body_text=email.text, body_html=email.html, channel=channel,
                       recipients=json.dumps(recipients), status="pending", attempts=0)
    db.add(row)
    return row


def prune(factory: sessionmaker[Session], keep_days: float, now: datetime | None = None) -> int:
    """Delete settled notifications older than ``keep_days`` (the log must not grow forever)."""
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    with factory.begin() as db:
        result = db.execute(delete(Notification).where(Notification.created_at < cutoff)
                            .where(Notification.status != "pending"))
    removed = int(getattr(result, "rowcount", 0) or 0)
    if removed:
        log.info("pruned %d notification(s) older than %g days", removed, keep_days)
    return removed


class Outbox:
    def __init__(self, factory: sessionmaker[Session], channel: Channel, *, retry_base_s: float,
                 clock: Callable[[], datetime] = utcnow, counters: Counters | None = None) -> None:
        self.factory = factory
        self.counters = counters or Counters()
        self.channel = channel
        for status in ("sent", "failed"):  # declared at 0, so a dashboard's rate() reads 0
            self.counters.inc("vigil_notifier_deliveries_total", 0, channel=channel.name, status=status)
        self.retry_base_s = retry_base_s
        self.clock = clock
        self._queue: queue.Queue[int | None] = queue.Queue(QUEUE_MAX)
        self._queued: set[int] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="notifier-delivery", daemon=True)
        self.healthy = True

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        try:
            self._queue.put(None, timeout=1.0)
        except queue.Full:
            pass
        self._thread.join(timeout)

    def poll(self) -> int:
        """Queue the pending rows that are due (new ones, retries, and a previous process's)."""
        now = self.clock()
        try:
            with self.factory() as db:
                ids = list(db.scalars(
                    select(Notification.id)
                    .where(Notification.status == "pending")
                    .where((Notification.next_attempt_at.is_(None)) | (Notification.next_attempt_at <= now))
                    .order_by(Notification.id).limit(200)))
        except SQLAlchemyError as exc:
            log.warning("could not read the outbox: %s", type(exc).__name__)
            self.healthy = False
            return 0
        n = 0
        for nid in ids:
            with self._lock:
                if nid in self._queued:
                    continue
                self._queued.add(nid)
            try:
                self._queue.put_nowait(nid)
                n += 1
            except queue.Full:
                with self._lock:
                    self._queued.discard(nid)
                break
        return n

    def _run(self) -> None:
        while True:
            nid = self._queue.get()
            if nid is None:
                return
            try:
                self.deliver(nid)
            except SQLAlchemyError as exc:
                self.healthy = False
                log.warning("notification #%d: database error (%s); will retry", nid, type(exc).__name__)
            except Exception:
                log.exception("notification #%d: unexpected error", nid)
            finally:
                with self._lock:
                    self._queued.discard(nid)

    def _claim(self, nid: int) -> Outgoing | None:
        now = self.clock()
        with self.factory.begin() as db:
            row = db.get(Notification, nid, with_for_update=True)
            if row is None or row.status != "pending":
                return None
            if row.next_attempt_at is not None and row.next_attempt_at > now:
                return None
            if row.attempts >= MAX_ATTEMPTS:
                # Claimed that often without an outcome (each claim crashed or was lost): give up.
                row.status = "failed"
                row.error = row.error or f"no outcome after {row.attempts} attempt(s)"
                row.next_attempt_at = None
                log.error("notification #%d failed for good after %d attempt(s): %s", nid, row.attempts, row.error)
                self.counters.inc("vigil_notifier_deliveries_total", channel=self.channel.name, status="failed")
                return None
            row.attempts += 1
            row.next_attempt_at = now + timedelta(seconds=CLAIM_S)
            return Outgoing(row.id, row.kind, row.camera_id, row.subject, row.body_text, row.body_html,
                            list(json.loads(row.recipients)))

    def deliver(self, nid: int) -> str | None:
        """Try to deliver one row; returns its new status (None when it was not ours to send)."""
        msg = self._claim(nid)
        if msg is None:
            return None
        status, error, retry_at = "sent", None, None
        if self.channel.needs_recipients and not msg.recipients:
            status, error = "failed", "no recipients configured (VIGIL_ALERT_EMAILS or the settings API)"
        else:
            try:
                try:
                    self.channel.send(msg)
                except DeliveryError:
                    raise
                except Exception as exc:  # a bug or unforeseen input: the same again would fail again
                    log.exception("notification #%d via %s: unexpected error", nid, self.channel.name)
                    raise DeliveryError(f"unexpected error in the {self.channel.name} channel: "
                                        f"{type(exc).__name__}", retry=False) from exc
                status = "logged" if self.channel.name == "console" else "sent"
            except DeliveryError as exc:
                error = str(exc)
                attempts = self._attempts(nid)
                if exc.retry and attempts < MAX_ATTEMPTS:
                    status = "pending"
                    retry_at = self.clock() + timedelta(seconds=retry_delay(attempts, self.retry_base_s))
                    log.warning("notification #%d via %s failed (%s); retry %d in %.0fs", nid, self.channel.name,
                                error, attempts, (retry_at - self.clock()).total_seconds())
                else:
                    status = "failed"
                    log.error("notification #%d via %s failed for good after %d attempt(s): %s", nid,
                              self.channel.name, attempts, error)
        def record() -> None:
            with self.factory.begin() as db:
                row = db.get(Notification, nid, with_for_update=True)
                if row is None:
                    return
                row.status = status
                row.error = error
                row.channel = self.channel.name
                row.next_attempt_at = retry_at
                if status in ("sent", "logged"):
                    row.delivered_at = self.clock()

        # Once sent, recording it matters most (else it would go out again after the claim
        # expires): keep trying through a short database outage.
        retry(record, what=f"recording notification #{nid}", attempts=8, initial=0.5, maximum=15.0,
              exceptions=(SQLAlchemyError,))
        if status in ("sent", "logged"):
            log.info("notification #%d %s via %s: %s", nid, status, self.channel.name, msg.subject)
        self.healthy = True
        self.counters.inc("vigil_notifier_deliveries_total", channel=self.channel.name, status=status)
        return status

    def _attempts(self, nid: int) -> int:
        with self.factory() as db:
            row = db.get(Notification, nid)
            return row.attempts if row is not None else MAX_ATTEMPTS
