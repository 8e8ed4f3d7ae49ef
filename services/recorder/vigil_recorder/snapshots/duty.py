"""Periodic snapshots: every ``VIGIL_SNAPSHOT_INTERVAL_S``, each enabled camera's newest
frame is saved as a JPEG and indexed.

Per camera and run: the newest stream entry (one pipelined ``XREVRANGE`` for all cameras);
skipped if it arrived more than two intervals ago (the camera is not streaming) or is the
entry saved last time. JPEG payloads are saved as they are; H.264 cameras give their newest
IDR picture (decoded with PyAV and encoded as JPEG, a few ms at 720p; a camera that never
sends SPS/PPS in band gets no snapshots). The file is written crash-safely to
``snapshots/{camera}/{date}/HH_MM_SS.jpg`` (capture time in ``VIGIL_TIMEZONE``) and only then
indexed, idempotently on (camera_id, time). Snapshot times are whole seconds: at most one
snapshot per camera per second whatever the interval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract.envelope import Codec
from vigil_common.contract.streams import redis_now_ms
from vigil_common.contract.topics import CameraTopic, Topics
from vigil_common.db.engine import upsert
from vigil_common.db.models import Camera, Snapshot
from vigil_common.media.frame_buffer import Latest, newest_entries, newest_keyframe
from vigil_common.runtime.settings import Settings
from vigil_recorder.duties import Duty, DutyContext
from vigil_recorder.media.images import ImageError, still_jpeg
from vigil_recorder.storage.stills import snapshot_relpath, sweep_partials, write_atomic

log = logging.getLogger(__name__)

STATE_KEY = "snapshots"
STALE_INTERVALS = 2.0
MIN_STALE_MS = 2_000


@dataclass
class SnapshotState:
    """What the snapshot duty remembers while this recorder leads."""

    swept: bool = False
    last_entry: dict[str, str] = field(default_factory=dict)  # camera -> stream entry id saved
    last_time: dict[str, datetime] = field(default_factory=dict)  # camera -> snapshot time saved
    scanned: dict[str, str] = field(default_factory=dict)  # H.264 camera -> newest entry examined


def _state(ctx: DutyContext) -> SnapshotState:
    state = ctx.state.get(STATE_KEY)
    if not isinstance(state, SnapshotState):
        state = SnapshotState()
        ctx.state[STATE_KEY] = state
    return state


def enabled_cameras(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as db:
        return list(db.scalars(select(Camera.id).where(Camera.enabled.is_(True)).order_by(Camera.id)))


def snapshot_time(capture_ns: int) -> datetime:
    """A frame's capture time as the snapshot's time: aware UTC, whole seconds."""
    return datetime.fromtimestamp(capture_ns // 1_000_000_000, UTC)


def stale(arrival_ms: int, now_ms: int, interval_s: float) -> bool:
    """True if a frame that arrived at ``arrival_ms`` is too old to be a snapshot now."""
    return now_ms - arrival_ms > max(MIN_STALE_MS, STALE_INTERVALS * interval_s * 1000)


def save_snapshot(settings: Settings, sessions: sessionmaker[Session], camera_id: str, latest: Latest,
                  on_saved: Callable[[bytes], None] | None = None) -> str:
    """Write and index one snapshot of ``latest``; returns ``saved`` (``on_saved`` gets the
    JPEG) or ``exists``.

    A row already indexed for that second is left alone (its file is not rewritten). A file
    without a row (a crash between the two) is overwritten, then indexed.
    """
    when = snapshot_time(latest.frame.capture_ns)
    with sessions() as db:
        exists = db.scalar(select(Snapshot.id).where(Snapshot.camera_id == camera_id, Snapshot.time == when))
    if exists is not None:
        return "exists"
    jpeg, width, height = still_jpeg(latest.frame)
    relpath = snapshot_relpath(camera_id, when, settings.tz)
    size = write_atomic(settings.data_dir / relpath, jpeg)
    row = {
        "camera_id": camera_id,
        "time": when,
        "path": relpath.as_posix(),
        "bytes": size,
        "width": width,
        "height": height,
    }
    with sessions.begin() as db:
        upsert(db, Snapshot, row, conflict=["camera_id", "time"])
    if on_saved is not None:
        on_saved(jpeg)
    return "saved"


def _pick(ctx: DutyContext, state: SnapshotState, camera_id: str, newest: Latest | None, now_ms: int) -> Latest | None:
    """The entry to save for this camera now, or None."""
    if newest is None or stale(newest.arrival_ms, now_ms, ctx.settings.snapshot_interval_s):
        return None
    if newest.frame.codec == Codec.H264:
        # Walk back to the newest keyframe, but never past the entries the last run examined.
        after, state.scanned[camera_id] = state.scanned.get(camera_id), newest.entry_id
        if after == newest.entry_id:
            return None
        newest = newest_keyframe(ctx.redis, camera_id, newest_id=newest.entry_id, after_id=after)
        if newest is None:
            return None
    if state.last_entry.get(camera_id) == newest.entry_id:
        return None
    if state.last_time.get(camera_id) == snapshot_time(newest.frame.capture_ns):
        return None
    return newest


def _publisher(ctx: DutyContext, camera_id: str) -> Callable[[bytes], None] | None:
    """With Home Assistant discovery on, each saved snapshot also goes to the camera's retained
    ``snapshot`` topic (its camera entity's picture)."""
    if not ctx.settings.ha_discovery:
        return None
    topic = Topics(ctx.settings.topic_prefix).camera(camera_id, CameraTopic.SNAPSHOT)
    return lambda jpeg: ctx.publish(topic, jpeg, 0, True)


def take_snapshots(ctx: DutyContext) -> dict[str, str]:
    """One run of the duty; returns what happened per camera (for logs and tests)."""
    state = _state(ctx)
    if not state.swept:
        sweep_partials(ctx.settings.data_dir)
        state.swept = True
    cameras = enabled_cameras(ctx.sessions)
    if not cameras:
        return {}
    now_ms = redis_now_ms(ctx.redis)
    results: dict[str, str] = {}
    for cam, newest in newest_entries(ctx.redis, cameras).items():
        entry = _pick(ctx, state, cam, newest, now_ms)
        if entry is None:
            results[cam] = "skipped"
            continue
        try:
            results[cam] = save_snapshot(ctx.settings, ctx.sessions, cam, entry, on_saved=_publisher(ctx, cam))
        except ImageError as exc:
            results[cam] = "undecodable"
            log.warning("camera %s: no snapshot, the frame cannot be decoded (%s)", cam, exc)
        except OSError as exc:
            results[cam] = "failed"
            log.error("camera %s: snapshot not written: %s", cam, exc)
            continue
        state.last_entry[cam] = entry.entry_id
        state.last_time[cam] = snapshot_time(entry.frame.capture_ns)
    saved = sum(1 for r in results.values() if r == "saved")
    if saved:
        log.debug("snapshots: %d saved of %d cameras", saved, len(cameras))
    return results


def duties(settings: Settings) -> list[Duty]:
    return [Duty("snapshots", settings.snapshot_interval_s, take_snapshots)]
