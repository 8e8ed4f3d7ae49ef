"""The runner of the recorder's periodic duties (snapshots, motion detection, retention,
reconciliation, day-video scheduling). It knows no feature: each feature package offers
``duties(settings)`` and the composition root (:mod:`vigil_recorder.main`) hands the list in.

Every recorder process runs a :class:`DutyRunner` thread, but only the one holding the
leader lease (a Redis key renewed every few seconds) runs the duties, so they happen once
per deployment however many workers there are, and move to another worker within the
lease time if the leader dies. Heavy work (day videos, exports) is enqueued as RQ jobs;
duties themselves stay short. A duty that raises is logged and runs again next interval.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract import keys
from vigil_common.runtime.settings import Settings

log = logging.getLogger(__name__)

LEADER_KEY = f"{keys.PREFIX}:recorder:leader"
LAST_RUN_KEY = f"{keys.PREFIX}:recorder:duties"
LEASE_MS = 15_000
RENEW_EVERY_S = 5.0

# Extend the lease only if we still hold it (compare-and-set).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

Publish = Callable[[str, bytes, int, bool], None]


@dataclass
class DutyContext:
    """What a duty gets: settings, Redis (bytes replies), the database, and an MQTT publish."""

    settings: Settings
    redis: redis.Redis
    sessions: sessionmaker[Session]
    publish: Publish
    state: dict[str, object] = field(default_factory=dict)  # per-duty memory while leader


@dataclass
class Duty:
    name: str
    interval_s: float
    run: Callable[[DutyContext], None]
    next_at: float = 0.0  # monotonic; 0 = run at once


class Leader:
    """A renewable lease on one Redis key."""

    def __init__(self, client: redis.Redis, key: str = LEADER_KEY, lease_ms: int = LEASE_MS) -> None:
        self._client = client
        self._key = key
        self._lease_ms = lease_ms
        self.token = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self.held = False

    def refresh(self) -> bool:
        """Acquire or renew the lease; returns whether we hold it now."""
        if self.held:
            self.held = bool(self._renew(keys=[self._key], args=[self.token, self._lease_ms]))
        if not self.held:
            self.held = bool(self._client.set(self._key, self.token, nx=True, px=self._lease_ms))
        return self.held

    def release(self) -> None:
        if self.held:
            self._release(keys=[self._key], args=[self.token])  # delete only if still ours
            self.held = False


class DutyRunner:
    def __init__(self, ctx: DutyContext, duties: list[Duty], *, tick_s: float = 0.1,
                 lease_key: str = LEADER_KEY, name: str = "duties", lease_ms: int = LEASE_MS) -> None:
        self.ctx = ctx
        self.duties = duties
        self.leader = Leader(ctx.redis, key=lease_key, lease_ms=lease_ms)
        self._tick = tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        # The lease is renewed from its own thread too, so a duty running longer than the lease
        # (a first retention pass over weeks of footage) never lets a second leader start.
        self._lease_lock = threading.Lock()
        self._renewer = threading.Thread(target=self._keep_lease, name=f"{name}-lease", daemon=True)

    def start(self) -> None:
        if self.duties:
            log.info("duties: %s", ", ".join(f"{d.name} every {d.interval_s:g}s" for d in self.duties))
            self._thread.start()
            self._renewer.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in (self._thread, self._renewer):
            if thread.is_alive():
                thread.join(timeout)
        try:
            self.leader.release()
        except redis.RedisError:
            pass

    def run_due(self, now: float | None = None) -> list[str]:
        """Run every duty whose time has come (the leader only); returns the names run."""
        ran: list[str] = []
        for duty in self.duties:
            at = time.monotonic() if now is None else now
            if at < duty.next_at or self._stop.is_set():
                continue
            duty.next_at = at + duty.interval_s
            started = time.monotonic()
            try:
                duty.run(self.ctx)
                self.ctx.redis.hset(LAST_RUN_KEY, duty.name, str(time.time()))
            except Exception:
                log.exception("duty %s failed; it runs again in %.0fs", duty.name, duty.interval_s)
            took = time.monotonic() - started
            if took > duty.interval_s:
                log.warning("duty %s took %.1fs, longer than its interval %.1fs", duty.name, took, duty.interval_s)
            ran.append(duty.name)
        return ran

    def _keep_lease(self) -> None:
        while not self._stop.wait(RENEW_EVERY_S):
            with self._lease_lock:
                if not self.leader.held:
                    continue
                try:
                    if not self.leader.refresh():
                        log.warning("lost the duties lease while a duty was running")
                except redis.RedisError as exc:
                    log.warning("duties: could not renew the lease (%s)", exc)

    def _loop(self) -> None:
        next_renew = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_renew:
                    with self._lease_lock:
                        was = self.leader.held
                        now_held = self.leader.refresh()
                    if now_held and not was:
                        log.info("this recorder now runs the periodic duties")
                        self.ctx.state.clear()
                        for duty in self.duties:
                            duty.next_at = 0.0
                    elif was and not self.leader.held:
                        log.warning("lost the duties lease to another recorder")
                    next_renew = time.monotonic() + RENEW_EVERY_S
                if self.leader.held:
                    self.run_due()
            except redis.RedisError as exc:
                log.warning("duties: Redis unavailable (%s)", exc)
                self.leader.held = False
                self._stop.wait(2.0)
            self._stop.wait(self._tick)


# Duties that must keep a steady pace get their own thread and lease, so a long retention or
# reconcile pass never delays them (motion needs consecutive samples).
FAST_DUTIES = frozenset({"motion"})
FAST_LEADER_KEY = f"{LEADER_KEY}:fast"


def split_duties(duties: list[Duty]) -> tuple[list[Duty], list[Duty]]:
    """(steady-paced duties, the others)."""
    return [d for d in duties if d.name in FAST_DUTIES], [d for d in duties if d.name not in FAST_DUTIES]
