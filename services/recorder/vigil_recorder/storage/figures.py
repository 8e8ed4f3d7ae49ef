"""What retention and the reconciler report: counters for ``/metrics`` and the storage hash.

Counters go to ``keys.metrics_hash("recorder")`` (HINCRBY; fields: ``vigil_common.contract.metrics``).
Current figures, which a counter cannot carry, go to the hash ``vigil:storage``:

=================== ===========================================================
field               meaning
=================== ===========================================================
``bytes_total``     indexed bytes that count against the cap (segments + snapshots + day videos)
``bytes_free``      free bytes on the data directory's file system
``segments``        indexed segments (not being deleted)
``bytes_segments``  / ``bytes_snapshots`` / ``bytes_day_videos``: the parts of ``bytes_total``
``snapshots``       indexed snapshots
``updated_at``      Unix time of the last retention pass
``bytes_disk``      bytes of the segment files on disk, from the reconciler's walk
``reconciled_at``   Unix time of the last reconciliation
=================== ===========================================================

Per camera, the hash ``vigil:storage:cameras`` maps a camera id to ``"<segments> <bytes>"`` of
its indexed segments (field ``cameras_updated_at`` of ``vigil:storage``: when, Unix time).
A retention pass replaces it whole when it is older than
``CAMERA_TOTALS_EVERY_S`` (the grouped scan costs several times the pass's plain SUM), so the
API's storage page never has to scan the index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import redis

from vigil_common.contract import keys
from vigil_common.runtime import counters

log = logging.getLogger(__name__)

SERVICE = "recorder"
STORAGE_KEY = keys.STORAGE
STORAGE_CAMERAS_KEY = keys.STORAGE_CAMERAS
CAMERA_TOTALS_EVERY_S = 300.0


def publish_counts(client: redis.Redis, deltas: Mapping[str, int]) -> None:
    """HINCRBY each delta (zeros too: a declared counter exists at 0); best effort (a metrics
    hiccup must not fail a pass)."""
    counters.publish(client, SERVICE, deltas, "retention")


def write_storage(client: redis.Redis, fields: Mapping[str, int | float | str]) -> None:
    """Update fields of ``vigil:storage`` (best effort)."""
    try:
        pipe = client.pipeline(transaction=False)
        for name, value in fields.items():
            pipe.hset(STORAGE_KEY, name, value)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not write %s: %s", STORAGE_KEY, exc)


def write_camera_storage(client: redis.Redis, per_camera: Iterable[tuple[str, int, int]], stamp: float) -> None:
    """Replace ``vigil:storage:cameras`` and set ``cameras_updated_at``, in one transaction so
    readers never see a half-written hash (best effort)."""
    try:
        pipe = client.pipeline(transaction=True)
        pipe.delete(STORAGE_CAMERAS_KEY)
        for cam, n, b in per_camera:
            pipe.hset(STORAGE_CAMERAS_KEY, cam, f"{n} {b}")
        pipe.hset(STORAGE_KEY, "cameras_updated_at", f"{stamp:.3f}")
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not write %s: %s", STORAGE_CAMERAS_KEY, exc)


def human(n: int) -> str:
    """``1536`` -> ``1.5 KiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def first_line(exc: BaseException) -> str:
    """An exception's first line (database errors carry the SQL and a link on later lines)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
