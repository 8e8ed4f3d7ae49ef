"""Where stills live, and writing them crash-safely.

- snapshots:  ``snapshots/{camera}/{YYYY-MM-DD}/HH_MM_SS.jpg``
- thumbnails: ``thumbnails/{camera}/{YYYY-MM-DD}/HH_MM_SS_mmm.jpg`` (the event's start)

Paths are relative to the data directory, built from a validated camera id and a time only;
date and time are local to ``VIGIL_TIMEZONE``. In the hour a DST change repeats, the second
occurrence gets a ``_dst2`` suffix so it never overwrites the first. Files are written like
segments (:mod:`vigil_recorder.storage.paths`): temporary name, fsync, rename, fsync the directory.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from vigil_common.contract.ids import require_camera_id
from vigil_common.contract.paths import CLOSEUPS_DIR
from vigil_recorder.storage import paths as storage

log = logging.getLogger(__name__)

SNAPSHOTS = "snapshots"
THUMBNAILS = "thumbnails"


def _local(when: datetime, tz: ZoneInfo) -> tuple[str, str]:
    if when.tzinfo is None:
        raise ValueError("naive datetime")
    local = when.astimezone(UTC).astimezone(tz)
    stamp = local.strftime("%H_%M_%S") + ("_dst2" if local.fold else "")
    return local.strftime("%Y-%m-%d"), stamp


def snapshot_relpath(camera_id: str, when: datetime, tz: ZoneInfo) -> PurePosixPath:
    """``snapshots/{cam}/{date}/HH_MM_SS.jpg`` for a snapshot taken at ``when`` (whole seconds)."""
    cam = require_camera_id(camera_id)
    day, stamp = _local(when, tz)
    return PurePosixPath(SNAPSHOTS, cam, day, f"{stamp}.jpg")


def thumbnail_relpath(camera_id: str, start: datetime, tz: ZoneInfo) -> PurePosixPath:
    """``thumbnails/{cam}/{date}/HH_MM_SS_mmm.jpg`` for a motion event that began at ``start``."""
    cam = require_camera_id(camera_id)
    day, stamp = _local(start, tz)
    return PurePosixPath(THUMBNAILS, cam, day, f"{stamp}_{start.microsecond // 1000:03d}.jpg")


def write_atomic(final: Path, data: bytes) -> int:
    """Write ``data`` to ``final`` crash-safely (a reader sees the old file, or the complete new
    one, never part of it). Returns the size."""
    storage.ensure_dir(final.parent)
    tmp = storage.partial_path(final)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        storage.commit(tmp, final)
    except BaseException:
        storage.discard(tmp)
        raise
    return len(data)


def sweep_partials(data_dir: Path, older_than_s: float = 600.0, now: float | None = None) -> int:
    """Remove temporary files killed writers left under snapshots/, thumbnails/ and the
    detector's closeups/ (in each camera's two newest day folders). Returns how many went."""
    now = time.time() if now is None else now
    removed = 0
    for sub in (SNAPSHOTS, THUMBNAILS, CLOSEUPS_DIR):
        try:
            removed += storage.sweep_partials(data_dir / sub, older_than_s, now)
        except OSError as exc:  # best effort: an unusable data directory is reported by the writes
            log.warning("could not sweep %s: %s", data_dir / sub, exc)
    return removed
