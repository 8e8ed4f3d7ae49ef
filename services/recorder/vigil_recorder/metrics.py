"""Recorder counters for the API's ``/metrics``: HINCRBY into ``keys.metrics_hash("recorder")``
(fields: ``vigil_common.contract.metrics``), once per job, from the job's summary."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis

from vigil_common.contract.metrics import CATALOG, SUM_PART, bucket_label, metric_field
from vigil_common.runtime import counters
from vigil_common.runtime.counters import sample_name

log = logging.getLogger(__name__)

SERVICE = "recorder"
# summary key -> reason label of vigil_recorder_frames_dropped_total
_DROP_REASONS = {
    "malformed": "malformed_entry",
    "duplicates": "duplicate",
    "other_codec": "other_codec",
    "decode_errors": "decode_error",
    "skipped": "before_keyframe",
}


WRITE_SECONDS = "vigil_recorder_segment_write_seconds"


def metric_deltas(summary: Mapping[str, Any], seconds: float | None = None) -> dict[str, int]:
    """Counter increments for one job's summary (see :func:`segment.write_segment`); a job that
    wrote a file in ``seconds`` is also an observation of the write-time histogram."""
    cam = str(summary.get("camera_id", ""))
    status = str(summary.get("status", "unknown"))
    out = {sample_name("vigil_recorder_segments_total", camera=cam, status=status): 1}
    if status == "written":
        out[sample_name("vigil_recorder_frames_total", camera=cam)] = int(summary.get("frames", 0))
        out[sample_name("vigil_recorder_bytes_total", camera=cam)] = int(summary.get("bytes", 0))
        if seconds is not None:
            out[metric_field(WRITE_SECONDS, part=bucket_label(CATALOG[WRITE_SECONDS], seconds))] = 1
            out[metric_field(WRITE_SECONDS, part=SUM_PART)] = round(seconds * 1e6)
    for key, reason in _DROP_REASONS.items():
        n = int(summary.get(key, 0) or 0)
        if n:
            out[sample_name("vigil_recorder_frames_dropped_total", camera=cam, reason=reason)] = n
    return out


def publish(client: redis.Redis, summary: Mapping[str, Any], seconds: float | None = None) -> None:
    """Best effort: the segment is already safe, a metrics hiccup must not fail the job."""
    counters.publish(client, SERVICE, metric_deltas(summary, seconds), "recorder")
