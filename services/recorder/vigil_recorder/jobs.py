"""RQ job entry points (enqueued by ingest by dotted name, so keep the names stable)."""

from __future__ import annotations

from typing import Any

from vigil_common.ids import require_camera_id
from vigil_recorder import metrics
from vigil_recorder.context import get_context
from vigil_recorder.segment import write_segment


def record_segment(camera_id: str, start_ms: int, end_ms: int) -> dict[str, Any]:
    """Record ``camera_id``'s arrival window ``[start_ms, end_ms)`` as one indexed MP4 segment.

    Enqueued as ``"vigil_recorder.jobs.record_segment"`` with ``job_id=Window.job_id``.
    Returns a summary dict whose ``status`` is ``written``, ``exists`` (an earlier run
    committed the file; re-indexed idempotently), ``empty`` (nothing to write: no file, no
    row) or ``conflict``. Raises on Redis or database errors so RQ retries.
    """
    cam = require_camera_id(camera_id)
    ctx = get_context()
    summary = write_segment(ctx.settings, ctx.redis, ctx.sessions, cam, start_ms, end_ms)
    metrics.publish(ctx.redis, summary)
    return summary
