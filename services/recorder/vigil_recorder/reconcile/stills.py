"""Unindexed stills past retention: snapshot and thumbnail files that no row names.

Retention deletes stills by their index rows. A still whose row was never written (the file was
committed, then the database was away) has no row, so retention never sees it. This sweep
removes such leftovers once their whole day folder is past retention: a day folder of
``snapshots/`` (or ``thumbnails/``) dated more than a day before the retention horizon, for
which the index holds no row of that camera and day, is emptied and removed. Folders that still
have rows are retention's business and are left alone, so nothing indexed is ever deleted here.
Runs with the reconciler's daily full sweep.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract.days import day_bounds, local_day
from vigil_common.db.models import MotionEvent, Snapshot
from vigil_recorder.storage import disk
from vigil_recorder.storage.stills import SNAPSHOTS, THUMBNAILS

log = logging.getLogger(__name__)


@dataclass
class StillsSwept:
    files: int = 0
    bytes: int = 0
    dirs: int = 0


def expired_before(now: datetime, keep: timedelta, tz: ZoneInfo) -> date:
    """Day folders dated before this are past retention by at least a whole day."""
    return local_day(now - keep, tz) - timedelta(days=1)


def _has_rows(sessions: sessionmaker[Session], query: Select[tuple[bool]]) -> bool:
    with sessions() as db:
        return bool(db.scalar(query))


def _snapshot_rows(camera_id: str, start: datetime, end: datetime) -> Select[tuple[bool]]:
    return select(exists().where(Snapshot.camera_id == camera_id, Snapshot.time >= start, Snapshot.time < end))


def _thumbnail_rows(camera_id: str, start: datetime, end: datetime) -> Select[tuple[bool]]:
    return select(exists().where(MotionEvent.camera_id == camera_id, MotionEvent.start >= start,
                                 MotionEvent.start < end))


def _empty_dir(path: Path, out: StillsSwept) -> None:
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for entry in entries:
        if not entry.is_file(follow_symlinks=False):
            continue  # never descend or follow links: only plain files of this folder go
        try:
            size = entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            continue
        if disk.unlink(Path(entry.path)):
            out.files += 1
            out.bytes += size
    try:
        path.rmdir()
    except OSError:
        return  # something other than files is in there: leave it
    out.dirs += 1
    disk.sync_dirs({path.parent})


def sweep_unindexed_stills(data_dir: Path, sessions: sessionmaker[Session], tz: ZoneInfo, now: datetime, *,
                           snapshot_keep: timedelta, thumbnail_keep: timedelta) -> StillsSwept:
    """Remove expired day folders of stills that the index no longer knows (see the module)."""
    out = StillsSwept()
    for folder, keep, rows in ((SNAPSHOTS, snapshot_keep, _snapshot_rows),
                               (THUMBNAILS, thumbnail_keep, _thumbnail_rows)):
        before = expired_before(now, keep, tz)
        for d in disk.day_dirs(data_dir / folder):
            if d.day >= before:
                continue
            start, end = day_bounds(d.day, tz)
            if _has_rows(sessions, rows(d.camera_id, start, end)):
                continue
            _empty_dir(d.path, out)
    if out.files or out.dirs:
        log.warning("removed %d unindexed still(s) (%d bytes) in %d expired day folder(s)", out.files, out.bytes,
                    out.dirs)
    return out
