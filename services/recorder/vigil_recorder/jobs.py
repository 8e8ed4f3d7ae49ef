"""RQ job entry points (enqueued by ingest by dotted name, so keep the names stable)."""

from __future__ import annotations

import errno
from datetime import timedelta
from typing import Any

from vigil_common.ids import require_camera_id
from vigil_common.recorder_jobs import enqueue_segment
from vigil_recorder import metrics, progress
from vigil_recorder.context import get_context
from vigil_recorder.segment import write_segment
from vigil_recorder.snapshot_source import redis_now_ms

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
    metrics.publish(ctx.redis, summary)
    return summary
