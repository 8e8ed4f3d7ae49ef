"""Motion-only recording: should a camera's segment window be recorded, skipped, or decided
later?

A camera with ``record_mode == "motion"`` keeps only footage within
``[event.start - pre_roll, event.end + post_roll]`` of some motion event (an ongoing event
has no end yet). A window can be skipped only once the detector has looked at frames up to
``window end + pre_roll`` (an event starting then still wants this window as its pre-roll);
until then the answer is WAIT and the segment job runs again later (its frames stay in the
Redis buffer, ``VIGIL_STREAM_BUFFER_S``). If the detector falls behind (not running, Redis
trouble, an undecodable camera) the window is KEPT once ``max_wait_ms`` has passed: losing
footage is worse than keeping some.

Clocks: windows are cut on Redis arrival time, events are stamped with capture time. The
motion duty publishes per camera the capture and arrival times of its newest sample
(:class:`Progress`), which gives the offset between the two; :func:`keep_window` converts the
window with it, then calls the pure :func:`decide`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import cast

import redis
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract import keys
from vigil_common.contract.ids import require_camera_id
from vigil_common.contract.streams import redis_now_ms
from vigil_common.contract.windows import motion_max_wait_ms
from vigil_common.db.models import Camera, MotionEvent
from vigil_common.runtime.settings import Settings

log = logging.getLogger(__name__)

MOTION_MODE = "motion"
PROGRESS_TTL_S = 300
MIN_WAIT_MS = 1_000
UNKNOWN_PROGRESS_WAIT_MS = 5_000
# Events of one camera follow each other; a few more cover the rare overlap left by a
# leadership change.
EVENTS_CHECKED = 4


class Action(StrEnum):
    KEEP = "keep"
    SKIP = "skip"
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    until_ms: int | None = None  # WAIT: when to ask again (Redis clock, ms since the epoch)

    def delay_ms(self, now_ms: int) -> int:
        """How long a WAIT should sleep from ``now_ms`` (at least a second)."""
        return max(MIN_WAIT_MS, (self.until_ms or now_ms) - now_ms)


@dataclass(frozen=True, slots=True)
class Span:
    """A motion event in capture time (ms); ``end_ms`` None while it goes on."""

    start_ms: int
    end_ms: int | None


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the motion detector got with one camera (written by the motion duty)."""

    arrival_ms: int  # newest sample's arrival time (Redis clock)
    capture_ms: int  # ... and capture time
    settled_ms: int  # capture time up to which motion or its absence is final
    event_id: int | None = None  # the open event, if any
    last_hot_ms: int | None = None  # its latest hot sample's capture time

    @property
    def offset_ms(self) -> int:
        """capture time - arrival time for this camera (its latency, and clock skew)."""
        return self.capture_ms - self.arrival_ms

    def dumps(self) -> str:
        return json.dumps([self.arrival_ms, self.capture_ms, self.settled_ms, self.event_id, self.last_hot_ms])

    @classmethod
    def loads(cls, raw: bytes | str) -> Progress:
        a, c, s, e, h = json.loads(raw)
        return cls(int(a), int(c), int(s), None if e is None else int(e), None if h is None else int(h))


def progress_key(camera_id: str) -> str:
    return f"{keys.PREFIX}:motion:progress:{require_camera_id(camera_id)}"


def read_progress(client: redis.Redis, camera_id: str) -> Progress | None:
    raw = cast("bytes | None", client.get(progress_key(camera_id)))
    if raw is None:
        return None
    try:
        return Progress.loads(raw)
    except (ValueError, TypeError) as exc:
        log.warning("camera %s: unreadable motion progress (%s)", camera_id, exc)
        return None


def max_wait_ms(settings: Settings) -> int:
    """How long after a window's (arrival) end a decision may be put off: the pre-roll plus
    some slack for the detector, but never so long that Redis trims the window's frames (the
    rule is shared with the recording watchdog: :func:`vigil_common.contract.windows.motion_max_wait_ms`)."""
    return motion_max_wait_ms(settings.motion_pre_roll_s, settings.stream_buffer_s, settings.segment_seconds)


def overlaps(span: Span, start_ms: int, end_ms: int, pre_roll_ms: int, post_roll_ms: int) -> bool:
    """Does ``[start_ms, end_ms)`` meet ``[span.start - pre_roll, span.end + post_roll]``?"""
    if span.start_ms - pre_roll_ms >= end_ms:
        return False
    return span.end_ms is None or span.end_ms + post_roll_ms >= start_ms


def decide(
    start_ms: int,
    end_ms: int,
    *,
    events: Sequence[Span],
    settled_ms: int | None,
    now_ms: int,
    deadline_ms: int,
    pre_roll_ms: int,
    post_roll_ms: int,
) -> Decision:
    """Keep, skip or wait for the window ``[start_ms, end_ms)`` (capture time).

    ``events``: the camera's events near the window; ``settled_ms``: capture time up to which
    the detector's verdict is final (None: unknown); ``now_ms`` and ``deadline_ms`` (after which
    waiting is over and the window is kept) on the Redis clock.
    """
    if any(overlaps(e, start_ms, end_ms, pre_roll_ms, post_roll_ms) for e in events):
        return Decision(Action.KEEP, "motion")
    needed = end_ms + pre_roll_ms
    if settled_ms is not None and settled_ms >= needed:
        return Decision(Action.SKIP, "no motion")
    if now_ms >= deadline_ms:
        return Decision(Action.KEEP, "motion detector behind; kept to be safe")
    wait = UNKNOWN_PROGRESS_WAIT_MS if settled_ms is None else needed - settled_ms + MIN_WAIT_MS
    until = min(deadline_ms, now_ms + max(MIN_WAIT_MS, wait))
    return Decision(Action.WAIT, "waiting for the motion detector", until)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def events_near(session: Session, camera_id: str, start_ms: int, end_ms: int, pre_roll_ms: int) -> list[Span]:
    """The camera's latest events that start before ``end_ms + pre_roll_ms`` (capture time)."""
    upper = datetime.fromtimestamp((end_ms + pre_roll_ms) / 1000, UTC)
    rows = session.execute(
        select(MotionEvent.start, MotionEvent.end)
        .where(MotionEvent.camera_id == camera_id, MotionEvent.start < upper)
        .order_by(MotionEvent.start.desc())
        .limit(EVENTS_CHECKED)
    ).all()
    return [Span(_ms(s), None if e is None else _ms(e)) for s, e in rows]


def keep_window(
    sessions: sessionmaker[Session],
    client: redis.Redis,
    settings: Settings,
    camera_id: str,
    start_ms: int,
    end_ms: int,
    *,
    now_ms: int | None = None,
) -> Decision:
    """The decision for ``camera_id``'s arrival window ``[start_ms, end_ms)``.

    KEEP for cameras not in motion mode (or unknown to the registry) and when motion
    detection is off (``VIGIL_MOTION_ENABLED=false``: nothing could ever be kept otherwise).
    Costs one or two indexed queries and two Redis round trips. Never raises for a database
    or Redis failure: the answer is then KEEP, so the segment is written while its frames are
    still in Redis (indexing it fails the job and RQ retries, as without this gate).
    """
    cam = require_camera_id(camera_id)
    try:
        return _keep_window(sessions, client, settings, cam, start_ms, end_ms, now_ms)
    except (SQLAlchemyError, redis.RedisError) as exc:
        log.warning("camera %s window %d: motion-only decision failed (%s); recording it", cam, start_ms, exc)
        return Decision(Action.KEEP, "could not decide; kept to be safe")


def _keep_window(
    sessions: sessionmaker[Session],
    client: redis.Redis,
    settings: Settings,
    cam: str,
    start_ms: int,
    end_ms: int,
    now_ms: int | None,
) -> Decision:
    with sessions() as db:
        mode = db.scalar(select(Camera.record_mode).where(Camera.id == cam))
        if mode != MOTION_MODE:
            return Decision(Action.KEEP, "continuous recording")
        if not settings.motion_enabled:
            return Decision(Action.KEEP, "motion detection disabled")
        progress = read_progress(client, cam)
        offset = progress.offset_ms if progress is not None else 0
        pre_ms = int(settings.motion_pre_roll_s * 1000)
        post_ms = int(settings.motion_post_roll_s * 1000)
        events = events_near(db, cam, start_ms + offset, end_ms + offset, pre_ms)
    now = redis_now_ms(client) if now_ms is None else now_ms
    return decide(
        start_ms + offset,
        end_ms + offset,
        events=events,
        settled_ms=None if progress is None else progress.settled_ms,
        now_ms=now,
        deadline_ms=end_ms + max_wait_ms(settings),
        pre_roll_ms=pre_ms,
        post_roll_ms=post_ms,
    )
