"""The storage counts the recorder's retention pass publishes in Redis (``keys.STORAGE`` and
``keys.STORAGE_CAMERAS``, written by ``vigil_recorder.storage.figures`` every
``VIGIL_RETENTION_INTERVAL_S``), read by the storage page and ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from redis import Redis as SyncRedis

from vigil_common.contract import keys
from vigil_common.contract.ids import is_valid_camera_id

STORAGE_KEY = keys.STORAGE
STORAGE_CAMERAS_KEY = keys.STORAGE_CAMERAS


@dataclass(frozen=True, slots=True)
class Counted:
    """Byte and segment counts of the index at one moment."""

    source: Literal["recorder", "index"]
    updated_at: datetime
    cameras_updated_at: datetime | None
    bytes_segments: int
    bytes_snapshots: int
    bytes_day_videos: int
    per_camera: dict[str, tuple[int, int]]  # camera_id -> (segments, bytes)


def _int(value: bytes | None) -> int:
    try:
        return int(float(value)) if value is not None else 0
    except ValueError:
        return 0


def _stamp(value: bytes | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC) if value is not None else None
    except (ValueError, OverflowError, OSError):
        return None


def published(client: SyncRedis) -> Counted | None:
    """What the recorder's retention pass published, if it has (one HGETALL of two hashes)."""
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(STORAGE_KEY)
    pipe.hgetall(STORAGE_CAMERAS_KEY)
    storage, cams = pipe.execute()
    updated = _stamp(storage.get(b"updated_at"))
    if updated is None or b"bytes_segments" not in storage:
        return None
    per: dict[str, tuple[int, int]] = {}
    for cam, value in cams.items():
        name = cam.decode(errors="replace")
        parts = value.split()
        if is_valid_camera_id(name) and len(parts) == 2:
            per[name] = (_int(parts[0]), _int(parts[1]))
    return Counted("recorder", updated, _stamp(storage.get(b"cameras_updated_at")),
                   _int(storage.get(b"bytes_segments")), _int(storage.get(b"bytes_snapshots")),
                   _int(storage.get(b"bytes_day_videos")), per)
