"""Recorder counters for the API's ``/metrics``: HINCRBY into ``keys.metrics_hash("recorder")``
(field = Prometheus sample name), once per job, from the job's summary."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis

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


def metric_deltas(summary: Mapping[str, Any]) -> dict[str, int]:
    """Counter increments for one job's summary (see :func:`segment.write_segment`)."""
    cam = str(summary.get("camera_id", ""))
    status = str(summary.get("status", "unknown"))
    out = {sample_name("vigil_recorder_segments_total", camera=cam, status=status): 1}
    if status == "written":
        out[sample_name("vigil_recorder_frames_total", camera=cam)] = int(summary.get("frames", 0))
        out[sample_name("vigil_recorder_bytes_total", camera=cam)] = int(summary.get("bytes", 0))
    for key, reason in _DROP_REASONS.items():
        n = int(summary.get(key, 0) or 0)
        if n:
            out[sample_name("vigil_recorder_frames_dropped_total", camera=cam, reason=reason)] = n
    return out


def publish(client: redis.Redis, summary: Mapping[str, Any]) -> None:
    """Best effort: the segment is already safe, a metrics hiccup must not fail the job."""
    counters.publish(client, SERVICE, metric_deltas(summary), "recorder")
