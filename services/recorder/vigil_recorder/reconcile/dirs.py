"""Reconcile one day directory of segments with the index.

``recordings/{camera}/{YYYY-MM-DD}/`` is listed once, and the index rows that may live in it
(the camera's segments starting that day, widened by the clock-skew allowance and two
segment lengths) are read with one range query on ``(camera_id, start)``. Then:

- a complete MP4 with no row is indexed from its metadata box (the same idempotent insert a
  retried job does, so racing a job that is indexing it right now is harmless);
- a temporary ``.*.partial`` older than ``partial_age_s`` is removed (a live writer's file is
  younger than the job timeout);
- a row whose file is gone is dropped and logged, unless it is marked ``deleting`` (retention
  finishes those). A row is only dropped after a ``stat`` of its own path confirms the file
  is missing, so a job that commits a file and its row while the directory is being listed
  never loses its row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePosixPath

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract.paths import resolve_under
from vigil_common.db.models import Segment
from vigil_common.runtime.settings import Settings
from vigil_recorder.media import mp4meta
from vigil_recorder.segment.index import insert_segment
from vigil_recorder.segment.writer import row_from_meta
from vigil_recorder.storage import disk
from vigil_recorder.storage import paths as storage
from vigil_recorder.storage.query import day_bounds

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DirResult:
    indexed: int = 0
    conflicts: int = 0
    unindexable: int = 0
    dropped: int = 0
    partials_removed: int = 0
    partials_pending: int = 0  # too young to judge: check this directory again
    bytes: int = 0  # complete files on disk
    files: int = 0
    dropped_paths: list[str] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        return self.partials_pending == 0

    def add(self, other: DirResult) -> None:
        for name in ("indexed", "conflicts", "unindexable", "dropped", "partials_removed", "partials_pending",
                     "bytes", "files"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.dropped_paths += other.dropped_paths


def rel_dir(d: disk.DayDir) -> str:
    return f"{storage.RECORDINGS}/{d.camera_id}/{d.name}"


def _index_orphan(settings: Settings, sessions: sessionmaker[Session], d: disk.DayDir, name: str, size: int,
                  out: DirResult) -> None:
    relpath = PurePosixPath(rel_dir(d), name)
    meta = mp4meta.read_meta(settings.data_dir / relpath)
    if meta is None or meta.get("camera_id") != d.camera_id:
        out.unindexable += 1
        log.warning("segment file %s has no usable metadata for camera %s; left alone", relpath, d.camera_id)
        return
    try:
        row = row_from_meta(d.camera_id, relpath, meta, size)
    except ValueError as exc:
        out.unindexable += 1
        log.warning("segment file %s: %s; left alone", relpath, exc)
        return
    if insert_segment(sessions, row):
        out.indexed += 1
        log.info("indexed orphan segment %s (frames=%d, %.1fs)", relpath, row.frames, row.duration_s)
    else:
        out.conflicts += 1
        log.warning("orphan segment %s not indexed: another segment of %s starts at %s", relpath, d.camera_id,
                    row.start)


def check_day(settings: Settings, sessions: sessionmaker[Session], d: disk.DayDir, *, partial_age_s: float,
              allow_drop: bool, now: float | None = None) -> DirResult:
    """Reconcile one day directory (which may no longer exist) with its index rows."""
    now = time.time() if now is None else now
    out = DirResult()
    listing = disk.list_dir(d.path)
    here = rel_dir(d)
    lo, hi = day_bounds(d.day, settings.tz)
    margin = timedelta(seconds=settings.clock_skew_s + 2 * settings.segment_seconds)
    with sessions() as s:
        rows = s.execute(
            select(Segment.id, Segment.path, Segment.deleting).where(
                Segment.camera_id == d.camera_id, Segment.start >= lo - margin, Segment.start < hi + margin
            )
        ).all()
    indexed_here: set[str] = set()
    missing: list[tuple[int, str]] = []
    for row in rows:
        parent, _, name = row.path.rpartition("/")
        if parent == here:
            indexed_here.add(name)
            if name in listing.files:
                continue
        elif parent.startswith(f"{storage.RECORDINGS}/{d.camera_id}/"):
            continue  # another day's row (near midnight), checked with its own directory
        if row.deleting:
            continue  # retention finishes it
        path = resolve_under(settings.data_dir, row.path)
        if path is None or not path.exists():  # stat its own path: it may have appeared since the listing
            missing.append((row.id, row.path))
    if missing and allow_drop:
        with sessions.begin() as s:
            s.execute(delete(Segment).where(Segment.id.in_([i for i, _ in missing]), Segment.deleting.is_(False)))
        for _, path in missing:
            log.warning("segment %s is indexed but its file is gone: row dropped", path)
        out.dropped = len(missing)
        out.dropped_paths = [p for _, p in missing]
    for name, size in sorted(listing.files.items()):
        out.files += 1
        out.bytes += size
        if name.endswith(".mp4") and name not in indexed_here:
            _index_orphan(settings, sessions, d, name, size, out)
    for name, mtime in listing.partials.items():
        if now - mtime >= partial_age_s:
            if disk.unlink(d.path / name):
                out.partials_removed += 1
                log.info("removed stale temporary %s/%s", here, name)
        else:
            out.partials_pending += 1
    if out.partials_removed:
        disk.sync_dirs({d.path})
    return out
