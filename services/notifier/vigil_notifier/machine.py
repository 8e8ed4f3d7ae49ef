"""Pure outage decisions: per-camera/service state machines, grace, grouping and reminders.

Everything here is a plain function of the state and ``now`` (seconds since the epoch, the
*arrival* time of messages, never a camera's own clock), so it is unit-tested over simulated
time. The service feeds it MQTT messages and a 1 s tick and persists what changed.

A camera moves unknown → online → suspect → offline → online. ``suspect`` is silence without a
Last Will (one heartbeat missed); three missed heartbeats or an ``offline`` status make it
``offline``. An outage e-mail is written once the outage (counted from the last sign of life)
has lasted the grace period; exactly one per outage. A recovery is reported only for an outage
that was reported. Outages starting within the group window are reported as one summary when
there are ``group_min`` or more of them, recoveries likewise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

ONLINE, SUSPECT, OFFLINE, UNKNOWN = "online", "suspect", "offline", "unknown"
CAMERA, SERVICE = "camera", "service"


@dataclass(frozen=True, slots=True)
class Policy:
    heartbeat_s: float = 5.0
    grace_s: float = 60.0
    reminder_after_s: float | None = 3600.0
    reminder_every_s: float | None = 86400.0
    group_min: int = 3
    group_window_s: float = 30.0
    recovery_hold_s: float = 5.0

    @property
    def suspect_after_s(self) -> float:
        return 1.5 * self.heartbeat_s

    @property
    def offline_after_s(self) -> float:
        return 3.0 * self.heartbeat_s


@dataclass(slots=True)
class Watch:
    """What the notifier knows about one camera or service."""

    kind: str  # CAMERA | SERVICE
    ident: str
    phase: str = UNKNOWN
    name: str = ""
    location: str = ""
    registered: bool = False  # the new-camera e-mail was written
    listed: bool = False  # a camera seen in the registry (once deleted from it, it is forgotten)
    last_seen: float | None = None  # arrival time of the last sign of life
    down_since: float | None = None  # start of the current outage (the last sign of life)
    grace_from: float | None = None  # grace counted from here (later after our own broker loss)
    notified: bool = False  # this outage's e-mail was written
    reminders: int = 0
    last_reminder_at: float | None = None
    recovered_at: float | None = None  # a reported outage ended here; recovery not yet written
    recovered_after: float | None = None  # ... after this many seconds

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ident}"

    @property
    def label(self) -> str:
        return self.name or self.ident

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Watch:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in names})

    def durable(self) -> dict[str, Any]:
        """The part worth writing to the database (``last_seen`` changes on every heartbeat
        and is rebuilt after a restart, so it alone never makes a write)."""
        doc = asdict(self)
        doc.pop("last_seen")
        return doc


@dataclass(frozen=True, slots=True)
class Alert:
    """Something to tell people. ``watches`` are snapshots (several for a summary)."""

    kind: str  # camera_offline, camera_online, camera_new, camera_reminder, cameras_summary, ...
    at: float
    watches: tuple[Watch, ...] = ()
    duration_s: float | None = None
    going: str = ""  # for summaries: "offline" or "online"
    detail: dict[str, Any] = field(default_factory=dict)


def _snap(w: Watch) -> Watch:
    return replace(w)


def _end_outage(w: Watch, now: float) -> None:
    if w.notified and w.down_since is not None:
        w.recovered_at = now
        w.recovered_after = max(0.0, now - w.down_since)
    w.down_since = w.grace_from = w.last_reminder_at = None
    w.notified = False
    w.reminders = 0


def on_heartbeat(w: Watch, now: float, *, name: str = "", location: str = "") -> list[Alert]:
    """A valid heartbeat arrived (for a camera) or an ``online`` status (for a service)."""
    alerts: list[Alert] = []
    if name:
        w.name = name
    if location:
        w.location = location
    if w.phase in (SUSPECT, OFFLINE):
        _end_outage(w, now)
    w.phase = ONLINE
    w.last_seen = now if w.last_seen is None else max(w.last_seen, now)
    if not w.registered:
        w.registered = True
        if w.kind == CAMERA:
            alerts.append(Alert("camera_new", now, (_snap(w),)))
    return alerts


def on_status(w: Watch, now: float, online: bool) -> list[Alert]:
    """A (possibly retained, possibly replayed) ``online``/``offline`` status.

    For a camera ``online`` proves nothing (a retained copy is replayed after every broker
    restart): only heartbeats end an outage. For a service, ``online`` is its sign of life.
    """
    if online:
        if w.kind == SERVICE:
            return on_heartbeat(w, now)
        return []
    if w.phase in (ONLINE, SUSPECT):
        start = w.down_since if w.down_since is not None else (w.last_seen if w.last_seen is not None else now)
        w.phase = OFFLINE
        w.down_since = start
        w.grace_from = w.grace_from if w.grace_from is not None else start
    return []


def advance(w: Watch, now: float, p: Policy) -> list[Alert]:
    """Silence timers and reminders of one watch (outage e-mails are decided in :func:`plan`)."""
    if w.kind == CAMERA and w.last_seen is not None:
        silent = now - w.last_seen
        if w.phase == ONLINE and silent >= p.suspect_after_s:
            w.phase = SUSPECT
            w.down_since = w.grace_from = w.last_seen
        if w.phase == SUSPECT and silent >= p.offline_after_s:
            w.phase = OFFLINE
    if w.phase == OFFLINE and w.notified and w.down_since is not None and w.kind == CAMERA:
        lasted = now - w.down_since
        due = False
        if w.reminders == 0:
            due = p.reminder_after_s is not None and lasted >= p.reminder_after_s
        elif p.reminder_every_s is not None and w.last_reminder_at is not None:
            due = now - w.last_reminder_at >= p.reminder_every_s
        if due:
            w.reminders += 1
            w.last_reminder_at = now
            return [Alert("camera_reminder", now, (_snap(w),), duration_s=lasted)]
    return []


def outage_due(w: Watch, now: float, p: Policy) -> bool:
    return (w.phase == OFFLINE and not w.notified and w.grace_from is not None
            and now - w.grace_from >= p.grace_s)


def plan(watches: dict[str, Watch], now: float, p: Policy) -> list[Alert]:
    """One tick: advance every watch, then decide the outage and recovery e-mails."""
    alerts: list[Alert] = []
    for w in watches.values():
        alerts += advance(w, now, p)
    cams = [w for w in watches.values() if w.kind == CAMERA]
    ready = sorted((w for w in cams if outage_due(w, now, p)), key=lambda w: w.ident)
    if ready:
        alerts += _outages(ready, cams, now, p)
    for w in watches.values():
        if w.kind == SERVICE and outage_due(w, now, p):
            w.notified = True
            alerts.append(Alert("service_offline", now, (_snap(w),), duration_s=now - (w.down_since or now)))
    alerts += _recoveries(watches, now, p)
    return alerts


def _outages(ready: list[Watch], cams: list[Watch], now: float, p: Policy) -> list[Alert]:
    if len(ready) < p.group_min:
        # Wait (at most a group window) for cameras that went dark with these to be due too.
        starts = [w.down_since for w in ready if w.down_since is not None]
        companions = [w for w in cams if w.phase in (SUSPECT, OFFLINE) and not w.notified and w not in ready
                      and w.down_since is not None
                      and any(abs(w.down_since - s) <= p.group_window_s for s in starts)]
        oldest_due = min((w.grace_from or now) + p.grace_s for w in ready)
        waited = now - oldest_due
        if len(ready) + len(companions) >= p.group_min and waited < p.group_window_s + p.offline_after_s:
            return []
    for w in ready:
        w.notified = True
    if len(ready) >= p.group_min:
        return [Alert("cameras_summary", now, tuple(_snap(w) for w in ready), going=OFFLINE)]
    return [Alert("camera_offline", now, (_snap(w),), duration_s=now - (w.down_since or now)) for w in ready]


def _recoveries(watches: dict[str, Watch], now: float, p: Policy) -> list[Alert]:
    alerts: list[Alert] = []
    for w in watches.values():
        if w.kind == SERVICE and w.recovered_at is not None:
            alerts.append(Alert("service_online", now, (_snap(w),), duration_s=w.recovered_after))
            w.recovered_at = w.recovered_after = None
    pending = sorted((w for w in watches.values() if w.kind == CAMERA and w.recovered_at is not None),
                     key=lambda w: w.ident)
    if not pending or all(now - (w.recovered_at or now) < p.recovery_hold_s for w in pending):
        return alerts
    if len(pending) >= p.group_min:
        alerts.append(Alert("cameras_summary", now, tuple(_snap(w) for w in pending), going=ONLINE))
    else:
        alerts += [Alert("camera_online", now, (_snap(w),), duration_s=w.recovered_after) for w in pending]
    for w in pending:
        w.recovered_at = w.recovered_after = None
    return alerts


def rebase(watches: dict[str, Watch], now: float) -> None:
    """After the notifier itself could not hear (start-up, or its broker connection was lost):
    silence so far proves nothing, so every live watch gets a fresh window and every outage
    not yet reported a fresh grace period."""
    for w in watches.values():
        if w.phase in (ONLINE, SUSPECT):
            w.phase = ONLINE
            w.last_seen = now
            w.down_since = w.grace_from = None
        elif w.phase == OFFLINE and not w.notified:
            w.grace_from = now
            if w.last_seen is None:
                w.last_seen = w.down_since


def shift(watches: dict[str, Watch], conds: dict[str, Condition], offset: float) -> None:
    """The wall clock jumped by ``offset`` seconds: move every remembered time with it, so
    outage lengths, reminders and condition windows keep counting real elapsed time."""
    for w in watches.values():
        for name in ("last_seen", "down_since", "grace_from", "last_reminder_at", "recovered_at"):
            value = getattr(w, name)
            if value is not None:
                setattr(w, name, value + offset)
    for c in conds.values():
        if c.bad_since is not None:
            c.bad_since += offset
        if c.good_since is not None:
            c.good_since += offset


STALL, JUMP = "stall", "jump"


def clock_check(prev_wall: float | None, prev_mono: float | None, wall: float, mono: float, *,
                stall_s: float, jump_s: float) -> tuple[str | None, float]:
    """Compare this tick with the previous one (wall clock and monotonic clock).

    Returns ``(STALL, 0)`` when the loop did not tick for longer than ``stall_s`` (a database
    outage, a paused process: heartbeats may not have been handled, so silence proves
    nothing), ``(JUMP, offset)`` when the wall clock moved ``offset`` seconds more (or less)
    than the monotonic clock (an NTP step, a manual change), else ``(None, 0)``. A jump wins
    over a stall (both rebase; a jump also shifts the remembered times).
    """
    if prev_wall is None or prev_mono is None:
        return None, 0.0
    mono_delta = mono - prev_mono
    offset = (wall - prev_wall) - mono_delta
    if abs(offset) > jump_s:
        return JUMP, offset
    if mono_delta > stall_s:
        return STALL, 0.0
    return None, 0.0


def forgotten_cameras(watches: list[Watch], registry: set[str], now: float, grace_s: float) -> list[str]:
    """Camera watches to forget: those deleted from the registry (``listed`` before, missing
    now), and those never in it that have not been heard for ``grace_s`` (a brand-new camera
    is heard before ingest writes its registry row). Marks the listed ones on the way."""
    out = []
    for w in watches:
        if w.kind != CAMERA:
            continue
        if w.ident in registry:
            w.listed = True
        elif w.listed or w.last_seen is None or now - w.last_seen >= grace_s:
            out.append(w.ident)
    return sorted(out)


# Conditions: recorder failing, disk low, ingest dropping -----------------------------------


@dataclass(slots=True)
class Condition:
    """A condition that is raised once it has held ``raise_after`` and cleared once it has
    been absent ``clear_after`` (one e-mail each way)."""

    key: str
    bad_since: float | None = None
    good_since: float | None = None
    notified: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Condition:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in names})


def update_condition(c: Condition, bad: bool, now: float, *, raise_after: float, clear_after: float) -> str | None:
    """Feed one observation; returns ``"raised"``, ``"cleared"`` or None."""
    if bad:
        c.good_since = None
        if c.bad_since is None:
            c.bad_since = now
        if not c.notified and now - c.bad_since >= raise_after:
            c.notified = True
            return "raised"
        return None
    c.bad_since = None if not c.notified else c.bad_since
    if not c.notified:
        return None
    if c.good_since is None:
        c.good_since = now
    if now - c.good_since >= clear_after:
        c.notified = False
        c.bad_since = c.good_since = None
        return "cleared"
    return None


def recent_failures(history: list[float], now: float, window_s: float) -> list[float]:
    """Failure times within the window (oldest dropped): bounded by the window."""
    return [t for t in history if now - t <= window_s]
