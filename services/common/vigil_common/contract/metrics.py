"""Every metric ``GET /metrics`` exposes, and how services hand theirs to the API.

The one place for the metrics contract: docs/operations.md#metrics lists :data:`CATALOG` (a
test keeps them equal) and the Grafana dashboard in ``deploy/grafana/`` plots only names from it
(a test checks that too).

Services that are not the API keep counts in Redis: ``HINCRBY`` into ``keys.metrics_hash``, and
gauges into ``keys.metrics_gauges`` (one hash per process, with a TTL, summed over processes).
A hash field is a JSON array, :func:`metric_field` — ``[name, {label: value}]`` for a counter or gauge,
``[name, {labels}, part]`` for a histogram, where ``part`` is a bucket's upper bound as
:func:`bucket_labels` spells it (counts per bucket, not cumulative; ``"+Inf"`` above them all)
or ``"sum_us"`` (the sum in whole microseconds, so every field stays an integer for
``HINCRBY``). Storing the bound, not a position, keeps old counts honest when the catalog's
buckets change: a bound no longer in the catalog is dropped, never read as another one. :func:`parse_field` reads one
back; the API exposes only names in the catalog with exactly the catalog's labels, so a stray
or hostile field never reaches the exposition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]
SUM_PART = "sum_us"

# Latency buckets, seconds.
SEGMENT_WRITE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
INFERENCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True, slots=True)
class Metric:
    name: str  # as exposed (a counter's ends in _total)
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    source: str = "api"  # the service that counts it
    buckets: tuple[float, ...] = ()


def _m(name: str, kind: Kind, help_: str, labels: tuple[str, ...] = (), source: str = "api",
       buckets: tuple[float, ...] = ()) -> Metric:
    return Metric(name, kind, help_, labels, source, buckets)


_CAM = ("camera",)

CATALOG: dict[str, Metric] = {m.name: m for m in (
    # ingest (counted in Redis)
    _m("vigil_ingest_frames_total", "counter", "Frames written to the camera's Redis stream.", _CAM, "ingest"),
    _m("vigil_ingest_bytes_total", "counter", "Frame payload bytes written to Redis.", _CAM, "ingest"),
    _m("vigil_ingest_rejected_total", "counter", "MQTT messages dropped as invalid, by reason.", ("reason",),
       "ingest"),
    _m("vigil_ingest_dropped_total", "counter", "Valid frames or motion samples not stored, by reason "
       "(overload, disabled, shutdown, ...).", ("camera", "reason"), "ingest"),
    _m("vigil_ingest_retimed_total", "counter", "Frames stamped with their arrival time (bad camera clock).",
       _CAM, "ingest"),
    _m("vigil_ingest_jobs_enqueued_total", "counter", "Segment jobs enqueued for closed windows.", _CAM,
       "ingest"),
    _m("vigil_ingest_heartbeats_total", "counter", "Valid camera heartbeats.", _CAM, "ingest"),
    _m("vigil_ingest_motion_scores_total", "counter", "Motion samples measured at the edge and stored.", _CAM,
       "ingest"),
    _m("vigil_ingest_queue_frames", "gauge", "Frames waiting in ingest's writer queues (all ingest processes).",
       (), "ingest"),
    # recorder (counted in Redis)
    _m("vigil_recorder_segments_total", "counter", "Segment jobs finished, by outcome.", ("camera", "status"),
       "recorder"),
    _m("vigil_recorder_frames_total", "counter", "Frames written into segments.", _CAM, "recorder"),
    _m("vigil_recorder_bytes_total", "counter", "Bytes of segments written (rate x 3600 = bytes per hour).",
       _CAM, "recorder"),
    _m("vigil_recorder_frames_dropped_total", "counter", "Frames a segment job left out, by reason.",
       ("camera", "reason"), "recorder"),
    _m("vigil_recorder_segment_write_seconds", "histogram", "Time a segment job took to read its window, "
       "write and index the file.", (), "recorder", SEGMENT_WRITE_BUCKETS),
    _m("vigil_recorder_reconcile_runs_total", "counter", "Reconcile passes (full: a whole-disk walk).",
       ("full",), "recorder"),
    _m("vigil_recorder_reconcile_indexed_total", "counter", "Files on disk the reconcile pass indexed.", (),
       "recorder"),
    _m("vigil_recorder_reconcile_dropped_total", "counter", "Index rows without a file, dropped.", (),
       "recorder"),
    _m("vigil_recorder_reconcile_partials_removed_total", "counter", "Half-written files removed.", (),
       "recorder"),
    _m("vigil_recorder_reconcile_unindexable_total", "counter", "Files that could not be indexed.", (),
       "recorder"),
    _m("vigil_recorder_reconcile_stills_removed_total", "counter", "Snapshot files without a row removed.", (),
       "recorder"),
    _m("vigil_recorder_retention_deleted_total", "counter", "Items deleted by retention, by kind and reason.",
       ("kind", "reason"), "recorder"),
    _m("vigil_recorder_retention_freed_bytes_total", "counter", "Bytes freed by retention.", ("kind", "reason"),
       "recorder"),
    # detector (counted in Redis)
    _m("vigil_detector_frames_total", "counter", "Frames run through the object model.", _CAM, "detector"),
    _m("vigil_detector_undecodable_total", "counter", "Frames the detector could not decode.", _CAM,
       "detector"),
    _m("vigil_detector_frame_seconds", "histogram", "Time to look at one frame: detection, tracking, events, "
       "close-ups and faces (decoding excluded).",
       (), "detector", INFERENCE_BUCKETS),
    # notifier (counted in Redis)
    _m("vigil_notifier_deliveries_total", "counter", "Notifications by channel and outcome (sent, failed, ...).",
       ("channel", "status"), "notifier"),
    _m("vigil_notifier_webhooks_total", "counter", "Event webhook attempts by outcome (delivered, retried, failed).",
       ("status",), "notifier"),
    _m("vigil_notifier_rejected_total", "counter", "Messages the notifier dropped as invalid.", ("reason",),
       "notifier"),
    # the API's own
    _m("vigil_api_requests_total", "counter", "HTTP requests handled, by route template and status.",
       ("method", "route", "status")),
    _m("vigil_api_request_duration_seconds", "histogram", "Time to handle a request (streams: until closed).",
       ("route",), buckets=REQUEST_BUCKETS),
    _m("vigil_api_live_viewers", "gauge", "Connected live viewers (live.mjpeg and live.mp4)."),
    _m("vigil_api_live_readers", "gauge", "Redis stream readers serving live viewers."),
    _m("vigil_api_live_frames_total", "counter", "JPEG frames handed to live viewers."),
    _m("vigil_api_dependency_up", "gauge", "1 if the dependency answered its health check.", ("dependency",)),
    _m("vigil_api_cameras", "gauge", "Cameras in the registry by effective status.", ("status",)),
    _m("vigil_camera_online", "gauge", "1 while the camera is online.", _CAM),
    _m("vigil_camera_fps", "gauge", "Frames per second the camera last reported.", _CAM),
    _m("vigil_camera_capture_dropped_frames", "gauge", "Frames the camera reports it dropped since its capture "
       "started (back-pressure at the edge).", _CAM),
    _m("vigil_recording_lag_seconds", "gauge", "Age of the oldest frame of a streaming camera that is not yet "
       "recorded.", _CAM),
    _m("vigil_recording_stalled", "gauge", "1 while a streaming camera's recording lag exceeds the watchdog's "
       "threshold.", _CAM),
    _m("vigil_recording_stall_threshold_seconds", "gauge", "The recording watchdog's lag threshold."),
    _m("vigil_recorder_workers_alive", "gauge", "Recorder workers that sent a heartbeat recently."),
    _m("vigil_recorder_queue_jobs", "gauge", "Jobs waiting in a recorder queue.", ("queue",)),
    _m("vigil_api_segments", "gauge", "Segments in the recording index (as of the last retention pass)."),
    _m("vigil_api_segment_bytes", "gauge", "Bytes of indexed segments (as of the last retention pass)."),
    _m("vigil_storage_bytes", "gauge", "Bytes stored, by kind, as of the last retention pass.", ("kind",)),
    _m("vigil_storage_free_bytes", "gauge", "Free bytes on the recordings disk (last retention pass)."),
    _m("vigil_storage_camera_bytes", "gauge", "Bytes of a camera's segments (last retention pass).", _CAM),
    _m("vigil_storage_camera_segments", "gauge", "A camera's indexed segments (last retention pass).", _CAM),
)}


def metric_field(name: str, labels: dict[str, str] | None = None, part: str | None = None) -> str:
    """The Redis hash field of one sample (see the module's docstring)."""
    doc: list[object] = [name, dict(sorted((labels or {}).items()))]
    if part is not None:
        doc.append(part)
    return json.dumps(doc, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Sample:
    metric: Metric
    labels: tuple[tuple[str, str], ...]  # in the catalog's label order
    part: str | None


def parse_field(raw: str) -> Sample | None:
    """A hash field back as a :class:`Sample` of a catalog metric; None for anything else
    (unknown name, labels other than the catalog's, a part a counter cannot have, not JSON)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(doc, list) or len(doc) not in (2, 3):
        return None
    name, labels = doc[0], doc[1]
    metric = CATALOG.get(name) if isinstance(name, str) else None
    if metric is None or not isinstance(labels, dict) or set(labels) != set(metric.labels):
        return None
    if not all(isinstance(v, str) for v in labels.values()):
        return None
    part = doc[2] if len(doc) == 3 else None
    if metric.kind == "histogram":
        if part != SUM_PART and part not in bucket_labels(metric):
            return None
    elif part is not None:
        return None
    return Sample(metric, tuple((k, labels[k]) for k in metric.labels), part)


def bucket_labels(metric: Metric) -> tuple[str, ...]:
    """A histogram's bucket bounds as its fields and the exposition spell them, ``+Inf`` last."""
    return (*(str(float(b)) for b in metric.buckets), "+Inf")


def bucket_label(metric: Metric, value: float) -> str:
    """The bucket a histogram observation falls in (``+Inf``: above them all)."""
    for bound, label in zip(metric.buckets, bucket_labels(metric), strict=False):
        if value <= bound:
            return label
    return "+Inf"
