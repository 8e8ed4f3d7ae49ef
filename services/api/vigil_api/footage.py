"""Deleting all of one camera's footage (``DELETE /cameras/{id}?footage=true``).

Segments are marked ``deleting`` first (they vanish from listings and retention finishes any
that a crash leaves behind), then each file is unlinked and its row dropped. Paths come from
the index rows only and must resolve inside their folder of the data directory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from vigil_api.files import resolve_under
from vigil_common.db.models import CameraEvent, DayVideo, MotionEvent, Segment, Snapshot

log = logging.getLogger(__name__)

CHUNK = 500


def _unlink(data_dir: Path, folder: str, relative: str | None) -> bool:
    found = resolve_under(data_dir, folder, relative)
    if found is None:
        return False
    try:
        found[0].unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s: %s", found[0], exc)
        return False
    return True


def _drain(factory: sessionmaker[Session], select_rows: Callable[[Session], Sequence[Any]],
           on_row: Callable[[Any], None], delete_ids: Callable[[Session, list[Any]], object]) -> None:
    while True:
        with factory() as db:
            rows = select_rows(db)
        if not rows:
            return
        for row in rows:
            on_row(row)
        with factory.begin() as db:
            delete_ids(db, [r[0] for r in rows])


def delete_footage(data_dir: Path, factory: sessionmaker[Session], camera_id: str) -> int:
    """Delete the camera's segments, snapshots, motion events (thumbnails) and day videos;
    returns how many files were removed."""
    removed = 0

    def counted(folder: str) -> Callable[[Any], None]:
        def on_row(row: Any) -> None:
            nonlocal removed
            removed += _unlink(data_dir, folder, row[1])
        return on_row

    def drain_table(model: Any, path_col: Any, folder: str) -> None:
        """Rows of a table keyed by ``id`` whose ``path_col`` names a file under ``folder``."""
        _drain(factory,
               lambda db: db.execute(select(model.id, path_col).where(model.camera_id == camera_id)
                                     .limit(CHUNK)).all(),
               counted(folder),
               lambda db, ids: db.execute(delete(model).where(model.id.in_(ids))))

    with factory.begin() as db:
        db.execute(update(Segment).where(Segment.camera_id == camera_id).values(deleting=True))
    drain_table(Segment, Segment.path, "recordings")
    drain_table(Snapshot, Snapshot.path, "snapshots")
    drain_table(MotionEvent, MotionEvent.thumbnail_path, "thumbnails")
    _drain(factory,
           lambda db: db.execute(select(DayVideo.date, DayVideo.path).where(DayVideo.camera_id == camera_id)
                                 .limit(CHUNK)).all(),
           counted("days"),
           lambda db, ids: db.execute(delete(DayVideo).where(DayVideo.camera_id == camera_id,
                                                             DayVideo.date.in_(ids))))
    with factory.begin() as db:
        db.execute(delete(CameraEvent).where(CameraEvent.camera_id == camera_id))
    return removed
