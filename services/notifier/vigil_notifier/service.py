"""Notifier composition root: MQTT in (heartbeats, statuses, object events); decisions in
vigil_notifier.machine and vigil_notifier.objects;
the notification outbox and delivery worker out; decision state kept in the database."""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import redis
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from vigil_common.bus.presence import Presence
from vigil_common.contract import object_alerts
from vigil_common.contract import webhooks as wh_contract
from vigil_common.contract.ids import is_valid_camera_id
from vigil_common.contract.messages import ONLINE, Heartbeat, ObjectEventMessage, ObjectPhase, parse_status
from vigil_common.contract.sizes import format_size
from vigil_common.contract.topics import CameraTopic, TopicError, Topics
from vigil_common.db import notifier_settings, recording_probe
from vigil_common.db.app_settings import get_setting, set_setting
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Camera, NotifierState, utcnow
from vigil_common.runtime import counters
from vigil_common.runtime.counters import Counters
from vigil_common.runtime.lifecycle import StopSignal, backoff_delays
from vigil_common.runtime.logsetup import RateLimitedLog
from vigil_common.runtime.settings import Settings
from vigil_notifier import conditions, emails, machine, outbox, webhooks
from vigil_notifier.channels import make_channel
from vigil_notifier.machine import CAMERA, SERVICE, Condition, Policy, Watch
from vigil_notifier.objects import ObjectAlerts

log = logging.getLogger(__name__)
SERVICE_NAME = "notifier"
INBOX_MAX = 10_000
MAX_UNSAVED_EVENTS = 10_000  # webhook events held while the database is away
# A camera first heard of by the notifier is not "new" when the registry shows it sent
# heartbeats before the notifier was installed (installing the notifier on a running system
# must not e-mail about every camera; a camera provisioned with `vigil camera add` long before
# its Pi is installed is new all the same). The install time is kept in app_settings.
INSTALLED_AT_KEY = f"{notifier_settings.PREFIX}.installed_at"
MAX_WATCHES = 4096  # cameras + services watched; ids beyond are dropped (bounded memory)
PRUNE_EVERY_S = 3600.0
# The loop did not tick for this long (database outage, paused process), or the wall clock
# moved this much more or less than the monotonic clock (NTP step): silence proves nothing.
STALL_S = 5.0
JUMP_S = 5.0
# A camera heard of but never in the registry is forgotten after this long without a
# heartbeat (a brand-new camera's row is written by ingest within seconds of its first one).
ORPHAN_GRACE_S = 300.0


@dataclass(frozen=True, slots=True)
class Intervals:
    tick_s: float = 1.0
    poll_s: float = 1.0  # outbox (new rows, retries, the API's test e-mails)
    config_s: float = 10.0  # recipients/grace from the database, disabled cameras
    conditions_s: float = 10.0  # Redis samples: recorder failures, disk, ingest drops


@dataclass(frozen=True, slots=True)
class Inbound:
    kind: str  # heartbeat | status | service | object
    ident: str
    payload: bytes
    at: float


class NotifierService:
    def __init__(self, settings: Settings, *, intervals: Intervals | None = None) -> None:
        self.settings = settings
        self.intervals = intervals or Intervals()
        self.topics = Topics(settings.topic_prefix)
        self.counters = Counters()
        self.bad_input_log = RateLimitedLog(log, 60.0)
        self.instance = f"{socket.gethostname()}-{os.getpid()}"
        self.engine = make_engine(settings.effective_database_url(), sqlite_immediate=True)
        self.factory = make_sessionmaker(self.engine)
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=3)
        self.channel = make_channel(settings)
        self.outbox = outbox.Outbox(self.factory, self.channel, retry_base_s=settings.notify_retry_base_s,
                                    counters=self.counters)
        # Event webhooks (VIGIL_EVENT_WEBHOOK_URLS): every e-mail's event, and motion and objects.
        self.webhook_urls = list(settings.event_webhook_urls)
        secret = settings.webhook_secret()
        self.webhooks = (webhooks.WebhookSender(self.factory, secret, timeout_s=settings.notify_timeout_s,
                                                retry_base_s=settings.notify_retry_base_s, counters=self.counters)
                         if secret is not None else None)
        self._unsaved_events: list[webhooks.Event] = []
        self.motion_state: dict[str, bool] = {}  # camera -> moving, as last heard (webhooks)
        self.ctx = emails.Context(settings.tz, settings.public_url)
        self.config = notifier_settings.from_stored(settings, {})
        self.policy = self._policy()
        self.inbox: queue.Queue[Inbound] = queue.Queue(INBOX_MAX)
        self.watches: dict[str, Watch] = {}
        self.conds: dict[str, Condition] = {}
        self._persisted: dict[str, str] = {}
        self.disabled: set[str] = set()
        # id -> name, location, last heartbeat (as the registry knows it), name locked
        self.registry: dict[str, tuple[str, str, float | None, bool]] = {}
        self.notify_objects: dict[str, frozenset[str]] = {}  # camera -> labels it e-mails about
        self.object_alerts = ObjectAlerts(cooldown_s=settings.notify_object_cooldown_s)
        self._config_loaded = False
        self._drops: set[str] = set()  # notifier_state keys to delete
        self._rearm: set[str] = set()  # cameras that left `disabled`
        self._installed_at: float | None = None
        self._tick_wall: float | None = None
        self._tick_mono: float | None = None
        self._unsaved: list[emails.Email] = []
        self.min_free: int | None = settings.min_free_bytes
        self._failures: list[float] = []
        self._failed_total: int | None = None
        self._dropped: dict[str, int] | None = None
        self._ever_connected = False
        self._lost_at: float | None = None
        # (Presence republishes ``online`` every 15 s, as every service does.)
        self.presence = Presence(settings, SERVICE_NAME, client_id=f"vigil-notifier-{self.instance}")
        self.bus = self.presence.bus
        self.bus.subscribe(self.topics.all_cameras(CameraTopic.HEARTBEAT), 1, self._on_camera)
        self.bus.subscribe(self.topics.all_cameras(CameraTopic.STATUS), 1, self._on_camera)
        self.bus.subscribe(self.topics.all_cameras(CameraTopic.OBJECT_EVENT), 1, self._on_camera)
        self.bus.subscribe(self.topics.all_service_status(), 1, self._on_service)
        if self.webhooks is not None:
            self.bus.subscribe(self.topics.all_cameras(CameraTopic.MOTION), 1, self._on_camera)

    def _policy(self) -> Policy:
        s, c = self.settings, self.config
        return Policy(heartbeat_s=s.heartbeat_interval_s, grace_s=c.offline_grace_s,
                      reminder_after_s=c.reminder_after_s, reminder_every_s=c.reminder_every_s,
                      group_min=s.notify_group_min, group_window_s=s.notify_group_window_s,
                      recovery_hold_s=s.notify_recovery_hold_s)

    # paho's network thread: parse the topic, hand off ------------------------------------
    def _reject(self, reason: str, topic: str, detail: str) -> None:
        self.counters.inc("vigil_notifier_rejected_total", reason=reason)
        self.bad_input_log.warning(reason, "dropped message on %r: %s", topic[:200], detail)

    def _put(self, item: Inbound) -> None:
        try:
            self.inbox.put_nowait(item)
        except queue.Full:
            self._reject("overload", item.ident, "inbox full")

    def _on_camera(self, msg: mqtt.MQTTMessage) -> None:
        try:
            parsed = self.topics.parse(msg.topic)
        except TopicError as exc:
            self._reject("bad_topic", msg.topic, str(exc))
            return
        kind = {CameraTopic.HEARTBEAT: "heartbeat", CameraTopic.OBJECT_EVENT: "object",
                CameraTopic.MOTION: "motion_retained" if msg.retain else "motion"}.get(parsed.kind, "status")
        self._put(Inbound(kind, parsed.camera_id, bytes(msg.payload), time.time()))

    def _on_service(self, msg: mqtt.MQTTMessage) -> None:
        try:
            name = self.topics.parse_service_status(msg.topic)
        except TopicError as exc:
            self._reject("bad_topic", msg.topic, str(exc))
            return
        if name != SERVICE_NAME:
            self._put(Inbound("service", name, bytes(msg.payload), time.time()))

    # decisions (main thread only) ----------------------------------------------------------
    def _watch(self, kind: str, ident: str, now: float) -> Watch:
        key = f"{kind}:{ident}"
        w = self.watches.get(key)
        if w is None:
            if len(self.watches) >= MAX_WATCHES:
                raise OverflowError("too many cameras/services watched")
            known = self.registry.get(ident)
            old = (kind == CAMERA and known is not None and known[2] is not None and self._installed_at is not None
                   and known[2] < self._installed_at)
            w = self.watches[key] = Watch(kind, ident, registered=(kind == SERVICE or old), listed=known is not None)
        return w

    def _names(self, ident: str, name: str, location: str) -> tuple[str, str]:
        """An admin's rename (registry, name locked) wins over what the camera says."""
        known = self.registry.get(ident)
        if known is not None and known[3]:
            return known[0] or name, known[1] or location
        return name, location

    def handle(self, item: Inbound) -> list[machine.Alert]:
        try:
            return self._handle(item)
        except OverflowError as exc:
            self._reject("too_many", item.ident, str(exc))
            return []

    def _handle(self, item: Inbound) -> list[machine.Alert]:
        if item.kind == "object":
            return []  # e-mails of their own (object_mails), no state machine
        if item.kind == "heartbeat":
            try:
                hb = Heartbeat.model_validate_json(item.payload)
            except ValidationError as exc:
                self._reject("bad_heartbeat", item.ident, f"{exc.error_count()} invalid field(s)")
                return []
            if hb.camera_id != item.ident:
                self._reject("id_mismatch", item.ident, "camera_id differs from the topic's")
                return []
            if item.ident in self.disabled:
                return []
            # Liveness is the arrival time: a camera's clock (sent_at) can neither fake nor hide it.
            name, location = self._names(item.ident, hb.name, hb.location)
            return machine.on_heartbeat(self._watch(CAMERA, item.ident, item.at), item.at, name=name,
                                        location=location)
        try:
            status = parse_status(item.payload)
        except ValueError as exc:
            self._reject("bad_status", item.ident, str(exc))
            return []
        if item.kind == "status":
            if item.ident in self.disabled or f"{CAMERA}:{item.ident}" not in self.watches:
                return []  # a camera we never saw alive: nothing to report
            return machine.on_status(self.watches[f"{CAMERA}:{item.ident}"], item.at, status == ONLINE)
        return machine.on_status(self._watch(SERVICE, item.ident, item.at), item.at, status == ONLINE)

    def _emails(self, alert: machine.Alert) -> list[emails.Email]:
        return [emails.compose(alert, self.ctx)]

    def object_mails(self, item: Inbound) -> list[emails.Email]:
        """An object event's start, for a camera that notifies about its label (once per event,
        at most once per camera and label per ``VIGIL_NOTIFY_OBJECT_COOLDOWN_S``)."""
        try:
            message = ObjectEventMessage.model_validate_json(item.payload)
        except ValidationError as exc:
            self._reject("bad_object_event", item.ident, f"{exc.error_count()} invalid field(s)")
            return []
        if message.camera_id != item.ident:
            self._reject("id_mismatch", item.ident, "camera_id differs from the topic's")
            return []
        if item.ident in self.disabled:
            return []
        if not self.object_alerts.decide(message, self.notify_objects.get(item.ident, frozenset()), item.at):
            return []
        known = self.registry.get(item.ident)
        name, location = (known[0], known[1]) if known is not None else (item.ident, "")
        return [emails.object_detected(message, name, location, self.ctx)]

    def commit(self, mails: list[emails.Email], events: list[webhooks.Event] | None = None) -> None:
        """Write new notifications and changed state in one transaction (no e-mail without its
        state change, no state change without its e-mail). If the database is away, the
        e-mails wait in memory and the next call writes them."""
        if self.webhooks is not None:
            # Every e-mail is an event too (same kind), and the caller's own events; like the
            # e-mails they wait in memory while the database is away.
            self._unsaved_events += [webhooks.Event(m.kind, m.camera_id, {"subject": m.subject, "text": m.text}
                                                    | ({"state": m.state} if m.state else {}))
                                     for m in mails]
            self._unsaved_events += events or []
            del self._unsaved_events[:-MAX_UNSAVED_EVENTS]  # bounded: the oldest go first
        self._unsaved += mails
        mails = list(self._unsaved)
        pending_events = list(self._unsaved_events)
        changed: dict[str, str] = {}
        for key, w in self.watches.items():
            doc = json.dumps(w.durable() | {"last_seen": w.last_seen if w.phase != machine.ONLINE else None},
                             sort_keys=True)
            if self._persisted.get(key) != doc:
                changed[key] = doc
        for key, c in self.conds.items():
            doc = json.dumps(c.to_json(), sort_keys=True)
            if self._persisted.get(f"condition:{key}") != doc:
                changed[f"condition:{key}"] = doc
        drops = set(self._drops)
        if not changed and not mails and not drops and not pending_events:
            return
        with self.factory.begin() as db:
            for key in sorted(drops):
                gone = db.get(NotifierState, key)
                if gone is not None:
                    db.delete(gone)
            for key, doc in changed.items():
                row = db.get(NotifierState, key)
                if row is None:
                    db.add(NotifierState(key=key, value=doc))
                else:
                    row.value = doc
                    row.updated_at = utcnow()
            for mail in mails:
                outbox.add(db, mail, self.config.recipients, self.channel.name)
            for event in pending_events:
                webhooks.add(db, event, self.webhook_urls)
        self._persisted.update(changed)
        for key in drops:
            self._persisted.pop(key, None)
        self._drops -= drops
        self._unsaved.clear()
        del self._unsaved_events[:len(pending_events)]
        if pending_events and self.webhooks is not None:
            self.webhooks.wake()
        for mail in mails:
            log.info("notification queued: %s", mail.subject)

    def load_state(self) -> None:
        with self.factory() as db:
            for row in db.scalars(select(NotifierState)):
                doc: dict[str, Any] = json.loads(row.value)
                self._persisted[row.key] = row.value
                if row.key.startswith("condition:"):
                    name = row.key[len("condition:"):]
                    self.conds[name] = Condition.from_json(doc)
                else:
                    w = Watch.from_json(doc)
                    self.watches[w.key] = w
        log.info("notifier state loaded: %d camera(s)/service(s), %d condition(s)",
                 len(self.watches), len(self.conds))

    def reload_config(self) -> None:
        with self.factory() as db:
            self.config = notifier_settings.load(db, self.settings)
            cams = db.execute(select(Camera.id, Camera.name, Camera.location, Camera.last_heartbeat_at,
                                     Camera.name_locked, Camera.enabled, Camera.notify_objects)).all()
            disabled = {c.id for c in cams if not c.enabled}
            registry = {c.id: (c.name, c.location,
                               c.last_heartbeat_at.timestamp() if c.last_heartbeat_at is not None else None,
                               bool(c.name_locked)) for c in cams}
            self.min_free = self._min_free(db)
        if self._config_loaded:
            self._rearm |= self.disabled - disabled
        self._config_loaded = True
        self.disabled, self.registry = disabled, registry
        self.notify_objects = {c.id: frozenset(labels) for c in cams
                               if (labels := object_alerts.parse(c.notify_objects))}
        self.policy = self._policy()

    def publish_identity(self) -> None:
        """Remember when the notifier was first installed, and tell the API which delivery
        channel is active (the API's own environment usually lacks the notifier's secrets)."""
        with self.factory.begin() as db:
            installed = get_setting(db, INSTALLED_AT_KEY, None)
            if not isinstance(installed, (int, float)) or isinstance(installed, bool):
                installed = time.time()
                set_setting(db, INSTALLED_AT_KEY, installed, by=SERVICE_NAME)
            if get_setting(db, notifier_settings.ACTIVE_CHANNEL_KEY, None) != self.channel.name:
                set_setting(db, notifier_settings.ACTIVE_CHANNEL_KEY, self.channel.name, by=SERVICE_NAME)
        self._installed_at = float(installed)

    def _forget_deleted(self, now: float) -> None:
        gone = machine.forgotten_cameras(list(self.watches.values()), set(self.registry), now, ORPHAN_GRACE_S)
        for ident in gone:
            key = f"{CAMERA}:{ident}"
            del self.watches[key]
            self._drops.add(key)
            log.info("camera %s is not in the registry (deleted): no longer watched", ident)

    def _clock(self, now: float, mono: float) -> None:
        """Rebase every watch after a loop stall or a wall-clock jump (see machine.clock_check)."""
        stall_s = max(STALL_S, 3 * self.intervals.tick_s)
        what, offset = machine.clock_check(self._tick_wall, self._tick_mono, now, mono, stall_s=stall_s,
                                           jump_s=JUMP_S)
        if what == machine.JUMP:
            log.warning("wall clock jumped by %+.0fs: remembered times moved with it, fresh window for every camera",
                        offset)
            machine.shift(self.watches, self.conds, offset)
            if self._lost_at is not None:
                self._lost_at += offset
            self._failures = [t + offset for t in self._failures]
        elif what == machine.STALL:
            log.warning("notifier loop stalled for %.0fs (database outage?): fresh window for every camera",
                        mono - (self._tick_mono or mono))
        self._tick_wall, self._tick_mono = now, mono
        if what is not None and self._lost_at is None and self._ever_connected:
            machine.rebase(self.watches, now)

    def _min_free(self, db: Session) -> int | None:
        stored = get_setting(db, "retention.min_free_bytes", self.settings.min_free_bytes)
        return int(stored) if isinstance(stored, (int, float)) and not isinstance(stored, bool) else None

    # conditions ------------------------------------------------------------------------------
    def check_conditions(self, now: float) -> list[emails.Email]:
        try:
            smp = conditions.sample(self.redis, now)
        except redis.RedisError as exc:
            log.warning("could not read service conditions from Redis: %s", type(exc).__name__)
            return []
        out: list[emails.Email] = []
        s = self.settings
        if smp.failed_jobs is not None:
            if self._failed_total is not None and smp.failed_jobs > self._failed_total:
                self._failures += [now] * min(100, smp.failed_jobs - self._failed_total)
            self._failed_total = smp.failed_jobs
            self._failures = machine.recent_failures(self._failures, now, s.recorder_fail_window_s)[-100:]
            bad = len(self._failures) >= s.recorder_fail_threshold
            c = self.conds.setdefault("recorder_failing", Condition("recorder_failing"))
            c.detail = {"failed_jobs_in_window": len(self._failures),
                        "window": emails.duration(s.recorder_fail_window_s)}
            out += self._condition_mail(c, "recorder_failing", bad, now, 0.0, s.recorder_fail_window_s)
        c = self.conds.setdefault("disk_low", Condition("disk_low"))
        c.detail = {"free_bytes": smp.bytes_free, "floor_bytes": self.min_free}
        out += self._condition_mail(c, "disk_low", conditions.disk_low(smp.bytes_free, self.min_free), now,
                                    0.0, 300.0)
        c = self.conds.setdefault("redis_memory_high", Condition("redis_memory_high"))
        c.detail = {"used": format_size(smp.redis_used), "limit": format_size(smp.redis_max),
                    "alert_at": f"{s.notify_redis_memory_pct:g} % of the limit"}
        out += self._condition_mail(c, "redis_memory_high",
                                    conditions.redis_memory_high(smp.redis_used, smp.redis_max,
                                                                 s.notify_redis_memory_pct), now, 0.0, 300.0)
        out += self.check_recording(now)
        if self._dropped is not None:
            for camera, total in smp.dropped.items():
                if not is_valid_camera_id(camera):
                    continue
                bad = total > self._dropped.get(camera, total)
                c = self.conds.setdefault(f"ingest_dropping.{camera}", Condition(f"ingest_dropping.{camera}"))
                c.detail = {"frames_dropped_total": total}
                out += self._condition_mail(c, "ingest_dropping", bad, now, s.ingest_drop_sustain_s,
                                            s.ingest_drop_sustain_s, camera)
        self._dropped = smp.dropped
        return out

    def check_recording(self, now: float) -> list[emails.Email]:
        """The recording watchdog (vigil_common.contract.recording_watch): one alert when streaming cameras
        stop being recorded, one when every camera is recorded again (held for two thresholds, so
        a crash-looping recorder that records a segment now and then stays one episode)."""
        try:
            with self.factory() as db:
                report = recording_probe.check(self.settings, db, self.redis)
        except Exception as exc:  # noqa: BLE001 - the watchdog must never stop the notifier
            log.warning("could not check recording progress: %s", type(exc).__name__)
            return []
        c = self.conds.setdefault("recording_stalled", Condition("recording_stalled"))
        if report.stalled:
            names = [self._label(cam.camera_id) for cam in report.stalled]
            c.detail = {"cameras": ", ".join(names), "reason": report.reason, "detail": report.detail,
                        "lag": emails.duration(max(cam.lag_s for cam in report.stalled)),
                        "threshold": emails.duration(report.threshold_s)}
        elif c.notified and "stalled_for" not in c.detail:  # the first good check ends the stall
            c.detail = dict(c.detail) | {"stalled_for": emails.duration(now - (c.bad_since or now))}
        return self._condition_mail(c, "recording_stalled", bool(report.stalled), now, 0.0, 2 * report.threshold_s)

    def _label(self, camera_id: str) -> str:
        known = self.registry.get(camera_id)
        name = known[0] if known is not None else ""
        return f"{name} ({camera_id})" if name and name != camera_id else camera_id

    def _condition_mail(self, c: Condition, kind: str, bad: bool, now: float, raise_after: float,
                        clear_after: float, camera: str | None = None) -> list[emails.Email]:
        change = machine.update_condition(c, bad, now, raise_after=raise_after, clear_after=clear_after)
        if change is None:
            return []
        return [emails.condition(kind, change == "raised", dict(c.detail), camera)]

    # the loop ----------------------------------------------------------------------------------
    def tick(self, now: float, mono: float | None = None) -> None:
        mails: list[emails.Email] = []
        self._clock(now, time.monotonic() if mono is None else mono)
        if not self.bus.connected.is_set():
            if self._ever_connected and self._lost_at is None:
                self._lost_at = now
                log.warning("lost the MQTT broker: camera timers frozen until it is back")
            return  # freeze: our own outage is not the cameras'
        if not self._ever_connected or self._lost_at is not None:
            if self._lost_at is not None:
                lost_for = now - self._lost_at
                log.info("MQTT broker back after %.0fs: fresh grace period for every camera", lost_for)
                if lost_for > self.policy.grace_s:
                    mails.append(emails.broker_lost(lost_for, self._lost_at, self.ctx))
            machine.rebase(self.watches, now)
            self._ever_connected = True
            self._lost_at = None
        for ident in sorted(self._rearm):
            w = self.watches.get(f"{CAMERA}:{ident}")
            if w is not None and ident not in self.disabled:
                log.info("camera %s enabled again: fresh window", ident)
                machine.rebase({w.key: w}, now)
        self._rearm.clear()
        self._forget_deleted(now)
        # Disabled cameras are not watched (their state is kept for when they are enabled).
        active = {k: w for k, w in self.watches.items() if not (w.kind == CAMERA and w.ident in self.disabled)}
        for alert in machine.plan(active, now, self.policy):
            mails += self._emails(alert)
        self.commit(mails)

    def drain(self, until: float) -> None:
        """Handle what is queued already (always: after a stall the next tick must not run on
        stale heartbeats), then what arrives until ``until`` (monotonic)."""
        for _ in range(INBOX_MAX):
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                break
            self._dispatch(item)
        while True:
            timeout = until - time.monotonic()
            if timeout <= 0:
                return
            try:
                item = self.inbox.get(timeout=timeout)
            except queue.Empty:
                return
            self._dispatch(item)

    def _dispatch(self, item: Inbound) -> None:
        events: list[webhooks.Event] = []
        if item.kind in ("motion", "motion_retained"):
            mails, events = [], self.motion_events(item)
        elif item.kind == "object":
            mails, events = self.object_mails(item), self.object_events(item)
        else:
            mails = [m for a in self.handle(item) for m in self._emails(a)]
        if mails or events:
            self.commit(mails, events)

    def motion_events(self, item: Inbound) -> list[webhooks.Event]:
        """A camera's motion turning ON or OFF (the recorder's retained ``motion`` topic): only a
        change is an event. A retained state (from before) only sets what is known; so does an
        OFF for a camera never seen moving (the recorder announces OFF when it takes a camera on)."""
        if self.webhooks is None:
            return []
        if item.payload not in (b"ON", b"OFF"):
            if item.payload:  # an empty message clears the retained state
                self._reject("bad_motion", item.ident, "motion must be ON or OFF")
            return []
        moving = item.payload == b"ON"
        before = self.motion_state.get(item.ident)
        if before is None and len(self.motion_state) >= MAX_WATCHES:
            return []  # bounded memory: as many cameras as are watched
        self.motion_state[item.ident] = moving
        if item.kind == "motion_retained" or item.ident in self.disabled or before == moving:
            return []
        if before is None and not moving:
            return []
        kind = wh_contract.MOTION_START if moving else wh_contract.MOTION_END
        return [webhooks.Event(kind, item.ident, {})]

    def object_events(self, item: Inbound) -> list[webhooks.Event]:
        """An object event's start and end (updates are not sent)."""
        if self.webhooks is None or item.ident in self.disabled:
            return []
        try:
            message = ObjectEventMessage.model_validate_json(item.payload)
        except ValidationError:
            return []  # counted and logged by object_mails
        if message.camera_id != item.ident or message.type is ObjectPhase.UPDATE:
            return []
        kind = wh_contract.OBJECT_START if message.type is ObjectPhase.START else wh_contract.OBJECT_END
        data = message.model_dump(mode="json", include={"id", "label", "score", "start", "end", "closeup_url",
                                                        "zones"})
        return [webhooks.Event(kind, item.ident, data)]

    def healthy(self) -> bool:
        return (self.bus.connected.is_set() and self.outbox.healthy
                and (self.webhooks is None or self.webhooks.healthy))

    def _health(self) -> None:
        # (Counts are kept for the next flush while Redis is away, as every service does.)
        counters.flush(self.redis, SERVICE_NAME, self.counters, alive_instance=self.instance)

    def run(self, stop: StopSignal) -> None:
        from vigil_common.runtime.lifecycle import retry

        def _load() -> None:
            self.reload_config()
            self.load_state()
            self.publish_identity()

        try:
            retry(_load, what="notifier start (database)", stop=stop, exceptions=(SQLAlchemyError,))
        except SQLAlchemyError:
            if not stop.is_set():
                raise
            self.redis.close()
            self.engine.dispose()
            return
        self.outbox.start()
        if self.webhooks is not None:
            self.webhooks.start()
        self.bus.start()
        log.info("notifier running: channel %s, grace %.0fs, %d recipient(s)", self.channel.name,
                 self.policy.grace_s, len(self.config.recipients))
        iv = self.intervals
        next_tick = next_poll = time.monotonic()
        next_config = next_cond = time.monotonic() + iv.config_s
        next_prune = time.monotonic()
        delays = backoff_delays(1.0, 30.0)
        while not stop.is_set():
            try:
                self.drain(min(next_tick, next_poll))
                mono, now = time.monotonic(), time.time()
                if mono >= next_config:
                    next_config = mono + iv.config_s
                    self.reload_config()
                    self._health()
                if mono >= next_tick:
                    next_tick = mono + iv.tick_s
                    self.tick(now, mono)
                if mono >= next_cond:
                    next_cond = mono + iv.conditions_s
                    self.commit(self.check_conditions(now))
                if mono >= next_prune:
                    next_prune = mono + PRUNE_EVERY_S
                    outbox.prune(self.factory, self.settings.notify_log_days)
                    webhooks.prune(self.factory, self.settings.notify_log_days)
                if mono >= next_poll:
                    next_poll = mono + iv.poll_s
                    self.outbox.poll()
                if not self._unsaved:
                    delays = backoff_delays(1.0, 30.0)
            except SQLAlchemyError as exc:
                delay = delays()
                log.warning("database error in the notifier loop (%s); %d e-mail(s) held; retrying in %.0fs",
                            type(exc).__name__, len(self._unsaved), delay)
                stop.wait(delay)
        self.stop()

    def stop(self) -> None:
        log.info("stopping notifier")
        self.presence.stop()
        self.outbox.stop()
        if self.webhooks is not None:
            self.webhooks.stop()
        self._health()
        self.redis.close()
        self.engine.dispose()
