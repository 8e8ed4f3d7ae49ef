"""Reads the recording watchdog's inputs (:mod:`vigil_common.contract.recording_watch`) from the camera
registry, Redis and RQ's public API, and assesses them. Server side only (needs ``rq`` and the
database extra); synchronous: the API runs it in a thread, the notifier in its loop.

Cost per call: one registry query and two pipelined rounds (three Redis commands per enabled
camera), plus RQ's worker list, the recorders' liveness keys, ``CLIENT LIST`` and a few keys:
cheap enough every few seconds for hundreds of cameras. ``CLIENT LIST`` tells a stopped recorder
(its liveness connection stays open) from a dead one; where the Redis ACL forbids it, both read
as ``recorder_down``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil_common.contract import keys, recorder_jobs, storage_figures
from vigil_common.contract.recording_watch import (
    CameraProgress,
    Policy,
    RecorderState,
    WatchReport,
    WorkerInfo,
    assess,
)
from vigil_common.contract.streams import redis_now_ms
from vigil_common.contract.windows import motion_max_wait_ms, stream_id_ms
from vigil_common.db.models import Camera
from vigil_common.runtime.settings import Settings

MOTION_MODE = "motion"


def policy_for(settings: Settings) -> Policy:
    return Policy(
        segment_seconds=settings.segment_seconds,
        stall_segments=settings.recording_stall_segments,
        motion_wait_s=motion_max_wait_ms(settings.motion_pre_roll_s, settings.stream_buffer_s,
                                         settings.segment_seconds) / 1000,
        stream_buffer_s=settings.stream_buffer_s,
    )


def _first_id_ms(entries: Any) -> int | None:
    if not entries:
        return None
    return stream_id_ms(entries[0][0])


def read_progress(db: Session, client: redis.Redis) -> list[CameraProgress]:
    """Each enabled camera's newest frame, recorded-through mark and first unrecorded frame."""
    cams = db.execute(select(Camera.id, Camera.record_mode).where(Camera.enabled.is_(True))
                      .order_by(Camera.id)).all()
    if not cams:
        return []
    pipe = client.pipeline(transaction=False)
    for cam in cams:
        pipe.xrevrange(keys.frames_stream(cam.id), count=1)
        pipe.zscore(keys.RECORDED_THROUGH, cam.id)
    first = pipe.execute()
    pipe = client.pipeline(transaction=False)
    throughs: list[int | None] = []
    for i, cam in enumerate(cams):
        score = first[2 * i + 1]
        through = None if score is None else int(score)
        throughs.append(through)
        pipe.xrange(keys.frames_stream(cam.id), min="-" if through is None else f"{through}-0", count=1)
    unrecorded = pipe.execute()
    return [CameraProgress(cam.id, cam.record_mode == MOTION_MODE, _first_id_ms(first[2 * i]), throughs[i],
                           _first_id_ms(unrecorded[i])) for i, cam in enumerate(cams)]


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ("" if value is None else str(value))


def read_recorder(client: redis.Redis, now: float) -> RecorderState:
    """The recorder's workers (RQ's registry), its reported failures, queue and disk."""
    from rq import Worker

    queue = recorder_jobs.queue(client)
    prefix = keys.recorder_alive("")
    alive = {_text(k)[len(prefix):] for k in client.scan_iter(match=keys.RECORDER_ALIVE_PATTERN, count=200)}
    stopped: int | None
    try:
        connected = {name[len(keys.RECORDER_CLIENT_PREFIX):] for c in client.client_list()
                     if (name := str(c.get("name", ""))).startswith(keys.RECORDER_CLIENT_PREFIX)}
        stopped = len(connected - alive)
    except redis.ResponseError:  # CLIENT LIST forbidden by the ACL
        stopped = None
    workers = [WorkerInfo(w.name, _epoch(w.last_heartbeat), w.get_state() == "busy") for w in Worker.all(queue=queue)]
    scored = cast("list[tuple[bytes, float]]",
                  client.zrangebyscore(keys.RECORDER_CRASHES, now - 3600, "+inf", withscores=True))
    crashes = [score for _member, score in scored]
    queued = queue.count
    oldest: float | None = None
    if queued:
        head = queue.get_job_ids(0, 1)  # (offset, length)
        if head:
            job = recorder_jobs.fetch(client, head[0])
            enqueued = _epoch(job.enqueued_at)
            oldest = None if enqueued is None else max(0.0, now - enqueued)
    raw_full = client.get(keys.RECORDER_DISK_FULL)
    return RecorderState(
        processes_alive=len(alive),
        processes_stopped=stopped,
        workers=workers,
        crashes=crashes,
        last_crash=_text(client.get(keys.RECORDER_LAST_CRASH))[:80],
        queued=queued,
        oldest_queued_s=oldest,
        disk_full_at=float(raw_full) if raw_full else None,
        bytes_free=storage_figures.read(client, now).free,
    )


def check(settings: Settings, db: Session, client: redis.Redis, now: float | None = None) -> WatchReport:
    """Assess recording now (Redis's clock, the one stream ids are cut on). Raises on Redis or
    database errors (the caller reports "unknown")."""
    if now is None:
        now = redis_now_ms(client) / 1000
    progress = read_progress(db, client)
    return assess(progress, read_recorder(client, now), now, policy_for(settings))
