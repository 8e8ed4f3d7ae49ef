"""RQ job entry points of the fast queue (enqueued by dotted name by ingest and the API, so
keep the names stable; see :mod:`vigil_common.contract.recorder_jobs`)."""

from __future__ import annotations

import errno
import logging
import time
from datetime import timedelta
from typing import Any

from vigil_common.contract.ids import require_camera_id
from vigil_common.contract.recorder_jobs import enqueue_footage_deletion, enqueue_segment
from vigil_common.contract.streams import redis_now_ms
from vigil_recorder import metrics, progress
from vigil_recorder.context import get_context
from vigil_recorder.segment.writer import write_segment
from vigil_recorder.storage.delete import delete_camera_footage, storage_lock

log = logging.getLogger(__name__)

# A motion-only window waits at most this many times for the detector's verdict.
MAX_MOTION_WAITS = 60


def record_segment(camera_id: str, start_ms: int, end_ms: int, waits: int = 0) -> dict[str, Any]:
    """Record ``camera_id``'s arrival window ``[start_ms, end_ms)`` as one indexed MP4 segment.

    Enqueued as ``"vigil_recorder.jobs.record_segment"`` with ``job_id=Window.job_id``.
    Returns a summary dict whose ``status`` is ``written``, ``exists`` (an earlier run
    committed the file; re-indexed idempotently), ``empty`` (nothing to write: no file, no
    row), ``conflict``, ``expired``, ``skipped`` (motion-only camera, no motion near it) or
    ``waiting`` (motion-only camera, verdict not final: re-enqueued with a delay).
    Raises on Redis or database errors so RQ retries.
    """
    cam = require_camera_id(camera_id)
    ctx = get_context()
    started = time.perf_counter()
    try:
        summary = write_segment(ctx.settings, ctx.redis, ctx.sessions, cam, start_ms, end_ms,
                                motion_gate=waits < MAX_MOTION_WAITS)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            progress.mark_disk_full(ctx.redis)
        raise
    if summary["status"] == "waiting":
        delay_ms = max(1000, int(summary["until_ms"]) - redis_now_ms(ctx.redis))
        enqueue_segment(ctx.redis, cam, start_ms, end_ms, segment_seconds=ctx.settings.segment_seconds,
                        waits=waits + 1, delay=timedelta(milliseconds=delay_ms))
        return summary
    progress.mark_finished(ctx.redis, summary)
    metrics.publish(ctx.redis, summary, time.perf_counter() - started)
    return summary


def delete_footage(camera_id: str) -> dict[str, Any]:
    """Delete one camera's footage (``DELETE /cameras/{id}?footage=true``), a chunk per job:
    while more is left the job enqueues its continuation, so no job holds a worker or the
    storage lock for long. Enqueued as ``"vigil_recorder.jobs.delete_footage"``."""
    cam = require_camera_id(camera_id)
    ctx = get_context()
    with storage_lock(ctx.redis):
        removed, done = delete_camera_footage(ctx.settings.data_dir, ctx.sessions, cam)
    if not done:
        enqueue_footage_deletion(ctx.redis, cam)
    log.info("camera %s: %d footage files removed (%s)", cam, removed.files, "done" if done else "more to go")
    return {"status": "done" if done else "continued", "files": removed.files, "rows": removed.rows,
            "bytes": removed.bytes}
