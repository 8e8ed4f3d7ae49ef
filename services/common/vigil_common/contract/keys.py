"""Redis key names shared by ingest, recorder and api. Ids are validated before use."""

from __future__ import annotations

from vigil_common.contract.ids import require_camera_id

PREFIX = "vigil"

# Stream entry fields (bytes keys as redis-py returns them).
F_CAPTURE_NS = b"t"
F_SEQ = b"seq"
F_CODEC = b"codec"
F_KEYFRAME = b"kf"
F_WIDTH = b"w"
F_HEIGHT = b"h"
F_DATA = b"data"

PENDING_WINDOWS = f"{PREFIX}:windows:pending"
RECORDER_QUEUE = "vigil-recorder"
# Long jobs (day videos, exports). Workers serve RECORDER_QUEUE first, so a segment job never
# waits behind more than the slow jobs already running (each well under the Redis buffer).
RECORDER_SLOW_QUEUE = "vigil-recorder-slow"
# Storage figures the recorder's retention pass publishes (free bytes, totals; see
# vigil_recorder.storage.figures) for the api's /storage and the notifier's disk alert;
# per camera "<segments> <bytes>" in STORAGE_CAMERAS.
STORAGE = f"{PREFIX}:storage"
STORAGE_CAMERAS = f"{STORAGE}:cameras"
# The recording watchdog's inputs (vigil_common.contract.recording_watch), written by the recorder:
# per camera the end (arrival ms) of the newest finished window (sorted set, ZADD GT);
# worker-loop failures (sorted set "instance:time" scored by time) and the last one's exception
# type; the time of the last segment write that failed with ENOSPC.
RECORDED_THROUGH = f"{PREFIX}:recorder:through"
RECORDER_CRASHES = f"{PREFIX}:recorder:crashes"
RECORDER_LAST_CRASH = f"{PREFIX}:recorder:last-crash"
RECORDER_DISK_FULL = f"{PREFIX}:recorder:disk-full"
# Each recorder process refreshes its own short-lived key every second from a thread of its own,
# on a Redis connection named RECORDER_CLIENT_PREFIX + instance: a key gone with the connection
# still open is a stopped (hung) process, both gone a dead one.
RECORDER_ALIVE_PATTERN = f"{PREFIX}:recorder:alive:*"
RECORDER_CLIENT_PREFIX = "vigil-recorder-"


def recorder_alive(instance: str) -> str:
    return f"{PREFIX}:recorder:alive:{instance}"


def frames_stream(camera_id: str) -> str:
    """One Redis stream per camera; entry ids are Redis arrival times, trimmed by MINID."""
    return f"{PREFIX}:frames:{require_camera_id(camera_id)}"


def motion_stream(camera_id: str) -> str:
    """A camera's motion scores measured at the edge (ingest appends, the recorder's motion duty
    reads); short: trimmed by length and expiring when the camera stops sending them."""
    return f"{PREFIX}:motion:{require_camera_id(camera_id)}"


def metrics_hash(service: str) -> str:
    """Counters a service publishes for the API's /metrics (HINCRBY; fields:
    ``vigil_common.contract.metrics.metric_field``)."""
    return f"{PREFIX}:metrics:{require_camera_id(service)}"


# Home Assistant discovery: camera -> JSON list of the discovery topics published for it.
HA_PUBLISHED = f"{PREFIX}:ha:published"
METRICS_PATTERN = f"{PREFIX}:metrics:*"
GAUGES_PATTERN = f"{PREFIX}:gauges:*"


def metrics_gauges(service: str, instance: str) -> str:
    """Gauges one service process publishes for /metrics (HSET with a TTL; summed over processes)."""
    return f"{PREFIX}:gauges:{require_camera_id(service)}:{instance}"


def window_member(camera_id: str, start_ms: int) -> str:
    return f"{require_camera_id(camera_id)}:{start_ms}"


def window_claim(member: str) -> str:
    """Short-lived claim of the ingest process enqueueing a window."""
    return f"{PREFIX}:windows:claim:{member}"


# The detector processes sharing the cameras (vigil_detector.sharing): a sorted set of instance
# names scored by when each last said it was alive.
DETECTOR_MEMBERS = f"{PREFIX}:detector:members"


def service_health(service: str, instance: str) -> str:
    """Liveness key a service instance refreshes with a TTL."""
    return f"{PREFIX}:health:{require_camera_id(service)}:{instance}"


def parse_window_member(member: str) -> tuple[str, int]:
    camera_id, _, start = member.rpartition(":")
    return require_camera_id(camera_id), int(start)
