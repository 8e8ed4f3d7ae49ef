"""Event webhooks: the outbox rows (``webhook_deliveries``) and the sender thread.

An event becomes one row per configured URL, written ``pending`` in the transaction that
decided it (the e-mails' events: with their notification) or on its own (motion, objects). The
sender claims due rows (counting the attempt and pushing ``next_attempt_at`` past the request's
time-out first, so a crash never sends a row twice in a burst), POSTs the body signed as
``vigil_common.contract.webhooks`` says, and marks it ``delivered`` (2xx) or ``failed`` (a 4xx
other than 408/429: the receiver refuses it), else leaves it ``pending`` with a doubling delay,
up to ``MAX_ATTEMPTS``. Kept as long as the notification log (``VIGIL_NOTIFY_LOG_DAYS``).
"""

from __future__ import annotations

import http.client
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract import webhooks as contract
from vigil_common.db.models import WebhookDelivery, utcnow
from vigil_common.runtime.counters import Counters

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_DELAY_S = 3600.0
BATCH = 50
METRIC = "vigil_notifier_webhooks_total"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (3xx), never followed: urllib would re-send the POST as a GET,
    body dropped, to wherever it points."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


# The URLs are checked to be http(s) when the notifier starts (Settings.webhook_secret).
_OPENER = urllib.request.build_opener(_NoRedirects)


@dataclass(frozen=True, slots=True)
class Event:
    event: str
    camera_id: str | None
    data: dict[str, Any]
    at: datetime = field(default_factory=utcnow)
    event_id: str = field(default_factory=lambda: secrets.token_hex(16))

    def body(self) -> str:
        return json.dumps({"event_id": self.event_id, "event": self.event, "camera_id": self.camera_id,
                           "at": self.at.isoformat(), "data": self.data}, separators=(",", ":"), sort_keys=True)


def retry_delay(attempts: int, base_s: float) -> float:
    """Backoff after the ``attempts``-th failed try: base, 2 base, 4 base, ... capped at an hour."""
    return min(MAX_DELAY_S, base_s * (2 ** max(0, attempts - 1)))


def retryable(status: int) -> bool:
    return status in (408, 425, 429) or status >= 500


def add(db: Session, event: Event, urls: Sequence[str]) -> None:
    """One pending row per URL (the caller commits)."""
    body = event.body()
    for url in urls:
        db.add(WebhookDelivery(event_id=event.event_id, event=event.event, camera_id=event.camera_id, url=url,
                               body=body, status="pending", attempts=0, created_at=event.at))


def prune(factory: sessionmaker[Session], keep_days: float, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    with factory.begin() as db:
        result = db.execute(delete(WebhookDelivery).where(WebhookDelivery.created_at < cutoff)
                            .where(WebhookDelivery.status != "pending"))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    event_id: str
    event: str
    url: str
    body: bytes
    attempts: int


class WebhookSender:
    """The sender thread (``start``/``stop``); ``run_once`` is one pass, for tests."""

    def __init__(self, factory: sessionmaker[Session], secret: bytes, *, timeout_s: float, retry_base_s: float,
                 counters: Counters | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.factory = factory
        self.secret = secret
        self.timeout_s = timeout_s
        self.retry_base_s = retry_base_s
        self.counters = counters or Counters()
        self.clock = clock
        self.healthy = True
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notifier-webhooks", daemon=True)
        for status in ("delivered", "failed", "retried"):  # declared at 0 for dashboards
            self.counters.inc(METRIC, 0, status=status)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def wake(self) -> None:
        """New rows: send them now rather than at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                self.healthy = True
            except SQLAlchemyError as exc:
                self.healthy = False
                log.warning("webhooks: database error (%s); again shortly", type(exc).__name__)
            except Exception:
                log.exception("webhooks: unexpected error")
            self._wake.wait(1.0)
            self._wake.clear()

    def _claim(self) -> list[Claimed]:
        now = self.clock()
        with self.factory.begin() as db:
            # Locked, skipping rows another notifier holds (PostgreSQL; SQLite has one writer).
            rows = db.scalars(select(WebhookDelivery).where(WebhookDelivery.status == "pending")
                              .where((WebhookDelivery.next_attempt_at.is_(None))
                                     | (WebhookDelivery.next_attempt_at <= now))
                              .order_by(WebhookDelivery.id).limit(BATCH)
                              .with_for_update(skip_locked=True)).all()
            out = []
            for row in rows:
                if row.attempts >= MAX_ATTEMPTS:  # claimed that often without an outcome (crashes)
                    row.status, row.next_attempt_at = "failed", None
                    row.error = row.error or f"no outcome after {row.attempts} attempt(s)"
                    self.counters.inc(METRIC, status="failed")
                    continue
                row.attempts += 1
                row.next_attempt_at = now + timedelta(seconds=self.timeout_s + 60)  # not again in this burst
                out.append(Claimed(row.id, row.event_id, row.event, row.url, row.body.encode(), row.attempts))
        return out

    def run_once(self) -> int:
        """Send what is due; returns how many were tried."""
        claimed = self._claim()
        for item in claimed:
            if self._stop.is_set():
                break  # the rest come back after their claim (an attempt counted)
            status, error = self._post(item)
            self._record(item, status, error)
        return len(claimed)

    def _post(self, item: Claimed) -> tuple[int | None, str | None]:
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json", "User-Agent": "vigil-notifier",
            contract.EVENT_HEADER: item.event, contract.EVENT_ID_HEADER: item.event_id,
            contract.DELIVERY_HEADER: str(item.id), contract.TIMESTAMP_HEADER: str(stamp),
            contract.SIGNATURE_HEADER: contract.signature(self.secret, stamp, item.body),
        }
        req = urllib.request.Request(item.url, data=item.body, method="POST", headers=headers)  # noqa: S310
        try:
            with _OPENER.open(req, timeout=self.timeout_s) as resp:
                resp.read(1024)
                return int(resp.status), None
        except urllib.error.HTTPError as exc:  # 3xx too: redirects are not followed
            note = " (redirects are not followed)" if 300 <= exc.code < 400 else ""
            return int(exc.code), f"HTTP {exc.code}{note}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return None, f"unreachable: {type(reason).__name__}"
        except (http.client.HTTPException, ValueError) as exc:  # a broken answer, or a URL urllib refuses
            return None, f"bad response: {type(exc).__name__}"

    def _record(self, item: Claimed, status: int | None, error: str | None) -> None:
        now = self.clock()
        ok = status is not None and 200 <= status < 300
        give_up = not ok and ((status is not None and not retryable(status)) or item.attempts >= MAX_ATTEMPTS)
        with self.factory.begin() as db:
            row = db.get(WebhookDelivery, item.id)
            if row is None:
                return
            row.last_status = status
            row.error = None if ok else error
            if ok:
                row.status, row.delivered_at, row.next_attempt_at = "delivered", now, None
            elif give_up:
                row.status, row.next_attempt_at = "failed", None
            else:
                row.next_attempt_at = now + timedelta(seconds=retry_delay(item.attempts, self.retry_base_s))
        outcome = "delivered" if ok else "failed" if give_up else "retried"
        self.counters.inc(METRIC, status=outcome)
        target = contract.shown_url(item.url)
        if ok:
            log.info("webhook #%d %s delivered to %s", item.id, item.event, target)
        elif give_up:
            log.error("webhook #%d %s to %s failed for good after %d attempt(s): %s", item.id, item.event, target,
                      item.attempts, error)
        else:
            log.warning("webhook #%d %s to %s: %s; retrying", item.id, item.event, target, error)
