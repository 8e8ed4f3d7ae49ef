"""Day videos: one camera's day of segments remuxed into one MP4, and the duty that
schedules them.

``assemble_day(camera_id, date)`` (an RQ job) copies the packets of every segment that
*starts* in the day (``[local midnight, next local midnight)`` in VIGIL_TIMEZONE; each
segment belongs to exactly one day) into ``{data}/days/{camera}/{date}.mp4`` — no re-encode
unless a segment's picture size differs (see :mod:`vigil_recorder.remux.concat`).

Time in a day video is real time since local midnight: the first picture is shown from
position 0 until the footage starts, and a gap in the footage is a held picture of the
gap's length, so position ``p`` seconds is the instant ``day_start + p`` (on DST days the
video may run to 23 or 25 hours). Players use the day's timeline (``covered``) to skip gaps.

The file is written under a temporary name, fsynced and renamed (crash-safe); the
``day_videos`` row tracks status ``queued|running|done|failed``, ``progress`` 0..1 and
``covers_until`` (the newest segment end included). A video older than the day's footage
is rebuilt when asked for (the API enqueues this job again). One assembly per camera-day
runs at a time (a Redis lock); a second returns ``busy``.

The ``days`` duty (:mod:`vigil_recorder.days.schedule`) enqueues, once, the assembly of
each camera's day once the day has ended (plus a settling time for its last segments).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract import keys
from vigil_common.contract.ids import require_camera_id
from vigil_common.db.engine import upsert
from vigil_common.db.models import DayVideo, Segment, utcnow
from vigil_common.runtime.settings import Settings
from vigil_recorder.context import get_context
from vigil_recorder.days import schedule as days_schedule
from vigil_recorder.days.plan import Footage, day_bounds, is_current, parse_day
from vigil_recorder.duties import Duty
from vigil_recorder.media import mp4meta
from vigil_recorder.remux.concat import Piece, Progress, RemuxError, Result, concat, throttled
from vigil_recorder.remux.plan import to_ns
from vigil_recorder.segment.writer import encoder_options
from vigil_recorder.storage import paths as storage
from vigil_recorder.storage.disk import NoSpace, check_space_for, recording_path
from vigil_recorder.storage.reclaim import with_overrides

log = logging.getLogger(__name__)

DAYS = "days"
MAX_ERROR = 500

LOCK_TTL_S = 300  # renewed with each progress report; a killed job's lock lapses soon

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class Lock:
    """One assembly per camera-day: a Redis key with a token, renewed while the job reports
    progress, so a job killed with ``kill -9`` blocks the next one for :data:`LOCK_TTL_S` at most."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client, self.key, self.token = client, key, secrets.token_hex(8)

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, px=LOCK_TTL_S * 1000))

    def renew(self) -> None:
        self.client.eval(_RENEW, 1, self.key, self.token, LOCK_TTL_S * 1000)

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.token)


def day_relpath(camera_id: str, day: date) -> PurePosixPath:
    """``days/{camera}/{YYYY-MM-DD}.mp4``, relative to the data directory."""
    return PurePosixPath(DAYS, require_camera_id(camera_id), f"{day.isoformat()}.mp4")


def lock_key(camera_id: str, day: str) -> str:
    return f"{keys.PREFIX}:days:lock:{require_camera_id(camera_id)}:{parse_day(day).isoformat()}"


@dataclass(frozen=True, slots=True)
class SegmentRef:
    start: datetime
    end: datetime
    path: str
    frames: int


def day_segments(sessions: sessionmaker[Session], camera_id: str, start: datetime, end: datetime) -> list[SegmentRef]:
    """The camera's indexed segments starting in ``[start, end)`` (not being deleted), in order."""
    stmt = (
        select(Segment.start, Segment.end, Segment.path, Segment.frames)
        .where(Segment.camera_id == camera_id, Segment.start >= start, Segment.start < end,
               Segment.deleting.is_(False))
        .order_by(Segment.start)
    )
    with sessions() as db:
        return [SegmentRef(r.start, r.end, r.path, r.frames) for r in db.execute(stmt)]


def _save(sessions: sessionmaker[Session], camera_id: str, day: str, **values: Any) -> None:
    row = {"camera_id": camera_id, "date": day, "updated_at": utcnow(), **values}
    with sessions.begin() as db:
        changed = [k for k in row if k not in ("camera_id", "date")]
        upsert(db, DayVideo, row, conflict=["camera_id", "date"], update=changed)


def assemble_day(camera_id: str, date: str) -> dict[str, Any]:
    """RQ job: build (or confirm current) the day video of ``camera_id`` for ``date``
    (``YYYY-MM-DD`` in VIGIL_TIMEZONE). Enqueued as ``"vigil_recorder.days.assemble_day"``."""
    ctx = get_context()
    return build_day_video(ctx.settings, ctx.redis, ctx.sessions, camera_id, date)


def build_day_video(
    settings: Settings,
    client: redis.Redis,
    sessions: sessionmaker[Session],
    camera_id: str,
    day: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The job's body with its dependencies passed in. Returns a summary whose ``status`` is
    ``done``, ``current`` (nothing to do), ``empty`` (no footage that day) or ``busy``
    (another assembly of this camera-day is running). Raises (after marking the row
    ``failed``) if the video cannot be written."""
    cam = require_camera_id(camera_id)
    the_day = parse_day(day)
    day = the_day.isoformat()
    summary: dict[str, Any] = {"camera_id": cam, "date": day}
    lock = Lock(client, lock_key(cam, day))
    if not lock.acquire():
        log.info("day video %s %s: another assembly is running", cam, day)
        return {**summary, "status": "busy"}
    try:
        return _build_locked(settings, sessions, lock, cam, the_day, now or utcnow(), summary)
    finally:
        lock.release()


def _build_locked(
    settings: Settings, sessions: sessionmaker[Session], lock: Lock, cam: str, the_day: date, now: datetime,
    summary: dict[str, Any],
) -> dict[str, Any]:
    day = the_day.isoformat()
    start, end = day_bounds(the_day, settings.tz)
    segments = day_segments(sessions, cam, start, end)
    if not segments:
        _save(sessions, cam, day, status="failed", progress=0.0, error="no recordings on this day")
        return {**summary, "status": "empty"}
    footage = Footage(len(segments), max(s.end for s in segments))
    relpath = day_relpath(cam, the_day)
    final = settings.data_dir / relpath
    with sessions() as db:
        row = db.get(DayVideo, (cam, day))
        if (row is not None and row.status == "done" and final.is_file()
                and is_current(row.covers_until, footage, day_end=end, now=now, tolerance_s=0, segments=row.segments)):
            return {**summary, "status": "current", "path": relpath.as_posix()}
    _save(sessions, cam, day, status="running", progress=0.0, error=None)
    try:
        def report(fraction: float) -> None:
            lock.renew()
            _save(sessions, cam, day, progress=fraction)

        # with the retention settings as changed at run time (the free-space floor)
        result, size = _write(with_overrides(settings, sessions), cam, the_day, segments, final, start,
                              throttled(report))
    except NoSpace as exc:  # not worth retrying until retention has made room: no traceback, no retry
        _save(sessions, cam, day, status="failed", error=str(exc)[:MAX_ERROR])
        log.warning("day video %s %s not built: %s", cam, day, exc)
        return {**summary, "status": "no_space", "error": str(exc)}
    except Exception as exc:
        _save(sessions, cam, day, status="failed", error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
        log.exception("day video %s %s failed", cam, day)
        raise
    note = f"{len(result.skipped)} unreadable segment(s) left out" if result.skipped else None
    _save(sessions, cam, day, status="done", progress=1.0, path=relpath.as_posix(), bytes=size,
          segments=len(segments), covers_until=footage.newest_end, error=note)
    log.info("day video %s %s: %d segments, %d frames, %d bytes%s", cam, day, result.pieces, result.frames, size,
             f", {note}" if note else "")
    return {**summary, "status": "done", "path": relpath.as_posix(), "bytes": size, "frames": result.frames,
            "segments": len(segments), "skipped": len(result.skipped), "reencoded": result.reencoded,
            "inband_parameter_sets": result.inband}


def _write(
    settings: Settings, cam: str, the_day: date, segments: list[SegmentRef], final: Path, day_start: datetime,
    progress: Progress,
) -> tuple[Result, int]:
    """Remux into a temporary file, append the metadata box, commit; returns (result, bytes)."""
    pieces = [Piece(path, to_ns(s.start)) for s in segments
              if (path := recording_path(settings.data_dir, s.path)) is not None]
    # A day video copies footage: it may not push the disk below VIGIL_MIN_FREE_BYTES, and it
    # never makes room by deleting recordings (the same rule as exports).
    check_space_for(settings, pieces)
    storage.ensure_dir(final.parent)
    storage.sweep_slow_partials(final.parent)  # left by killed jobs
    tmp = storage.partial_path(final)
    try:
        result = concat(pieces, tmp, encoder_options(settings), origin_ns=to_ns(day_start), hold_first=True,
                        progress=progress)
        if result.frames == 0:
            raise RemuxError("no frame could be written")
        mp4meta.append_box(tmp, {
            "kind": "day", "camera_id": cam, "date": the_day.isoformat(), "origin_ns": to_ns(day_start),
            "covers_until_ns": to_ns(max(s.end for s in segments)), "segments": len(segments),
            "frames": result.frames,
        })
        storage.commit(tmp, final)
    except BaseException:
        storage.discard(tmp)
        raise
    return result, final.stat().st_size


def duties(settings: Settings) -> list[Duty]:
    """The ``days`` duty (:mod:`vigil_recorder.days.schedule`): schedule finished days' videos."""
    return [Duty("days", days_schedule.DUTY_INTERVAL_S, days_schedule.run_duty)]
