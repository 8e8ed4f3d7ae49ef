"""Crash-safe removal of stored files and their index rows.

Segments (listed by the API, read by exports and day videos) are removed in three durable
steps: mark the rows ``deleting`` (commit), unlink the files and fsync their directories,
delete the rows (commit). A crash anywhere leaves either untouched rows or marked rows;
:func:`finish_marked` (run first by every retention pass and by the reconciler) completes
them. Readers must skip marked rows.

Snapshots, day videos and motion thumbnails have no mark: their file goes first, then the
row. A crash in between leaves a row whose file is gone, which the next pass selects again
by the same rule and finishes (the unlink finds nothing, the row goes).

Every function takes the storage lock's holder's word that nobody else is deciding
deletions right now (see :func:`storage_lock`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.exceptions import LockError, LockNotOwnedError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract import keys
from vigil_common.contract.exports import export_relpath
from vigil_common.contract.paths import resolve_under
from vigil_common.db.models import CameraEvent, DayVideo, Export, MotionEvent, ObjectEvent, Segment, Snapshot
from vigil_recorder.storage import disk

log = logging.getLogger(__name__)

STORAGE_LOCK_KEY = f"{keys.PREFIX}:storage:lock"
CHUNK = 500


@contextmanager
def storage_lock(client: redis.Redis, *, timeout_s: float = 300.0, blocking_timeout_s: float = 30.0) -> Iterator[None]:
    """Held by every deletion pass (and by the reconciler, per directory), so two processes
    never pick the same victims nor resurrect a row being deleted. Raises
    ``redis.exceptions.LockError`` if not acquired within ``blocking_timeout_s``. A pass that
    outlives ``timeout_s`` loses the lock (logged); its work stays idempotent."""
    lock = client.lock(STORAGE_LOCK_KEY, timeout=timeout_s, blocking_timeout=blocking_timeout_s)
    if not lock.acquire():
        raise LockError(f"{STORAGE_LOCK_KEY} is busy")
    try:
        yield
    finally:
        try:
            lock.release()
        except LockNotOwnedError:
            log.warning("the storage lock expired during a pass longer than %.0fs", timeout_s)


@dataclass(slots=True)
class Removed:
    """What a removal did: rows deleted, their indexed bytes, directories touched."""

    rows: int = 0
    bytes: int = 0
    files: int = 0
    dirs: set[Path] = field(default_factory=set)

    def add(self, other: Removed) -> None:
        self.rows += other.rows
        self.bytes += other.bytes
        self.files += other.files
        self.dirs |= other.dirs


def _chunks(items: Sequence[object], size: int = CHUNK) -> Iterable[Sequence[object]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _unlink_all(data_dir: Path, paths: Iterable[str | None], out: Removed) -> list[bool]:
    """Remove each file; per path, whether it is gone now (removed, already missing, or no
    file to remove). A file that could not be removed (read-only disk, permissions) is *not*
    gone: its row must stay, or the index would lose track of a file still on disk."""
    gone: list[bool] = []
    for rel in paths:
        path = resolve_under(data_dir, rel)
        if path is None:
            if rel:
                log.error("refusing to delete %r: not a path inside the data directory", rel)
            gone.append(True)
            continue
        try:
            path.unlink()
            out.files += 1
            gone.append(True)
        except FileNotFoundError:
            gone.append(True)
        except OSError as exc:
            log.warning("could not remove %s: %s; its row is kept for the next pass", path, exc)
            gone.append(False)
        out.dirs.add(path.parent)
    disk.sync_dirs(out.dirs)
    return gone


def mark_segments(sessions: sessionmaker[Session], ids: Sequence[int]) -> None:
    """Step 1: mark the rows (committed before any file is touched)."""
    for chunk in _chunks(ids):
        with sessions.begin() as s:
            s.execute(update(Segment).where(Segment.id.in_(chunk)).values(deleting=True))


def finish_marked(data_dir: Path, sessions: sessionmaker[Session], ids: Sequence[int] | None = None) -> Removed:
    """Steps 2 and 3 for marked rows (``ids`` only, or every marked row)."""
    out = Removed()
    last = -1
    while True:
        q = select(Segment.id, Segment.path, Segment.bytes).where(Segment.deleting.is_(True), Segment.id > last)
        if ids is not None:
            if not ids:
                break
            q = q.where(Segment.id.in_(ids))
        with sessions() as s:
            rows = s.execute(q.order_by(Segment.id).limit(CHUNK)).all()
        if not rows:
            break
        step = Removed()
        gone = [r for r, ok in zip(rows, _unlink_all(data_dir, (r.path for r in rows), step), strict=True) if ok]
        with sessions.begin() as s:  # rows whose file is still there stay marked for the next pass
            s.execute(delete(Segment).where(Segment.id.in_([r.id for r in gone]), Segment.deleting.is_(True)))
        step.rows = len(gone)
        step.bytes = sum(int(r.bytes) for r in gone)
        out.add(step)
        last = rows[-1].id
        if len(rows) < CHUNK:
            break
    return out


def delete_segments(data_dir: Path, sessions: sessionmaker[Session], ids: Sequence[int]) -> Removed:
    """Mark, unlink, delete (see the module docstring)."""
    if not ids:
        return Removed()
    mark_segments(sessions, ids)
    return finish_marked(data_dir, sessions, ids)


def delete_snapshots(data_dir: Path, sessions: sessionmaker[Session], ids: Sequence[int]) -> Removed:
    out = Removed()
    for chunk in _chunks(ids):
        with sessions() as s:
            rows = s.execute(select(Snapshot.id, Snapshot.path, Snapshot.bytes).where(Snapshot.id.in_(chunk))).all()
        step = Removed()
        gone = [r for r, ok in zip(rows, _unlink_all(data_dir, (r.path for r in rows), step), strict=True) if ok]
        with sessions.begin() as s:
            s.execute(delete(Snapshot).where(Snapshot.id.in_([r.id for r in gone])))
        step.rows, step.bytes = len(gone), sum(int(r.bytes) for r in gone)
        out.add(step)
    return out


def delete_day_videos(data_dir: Path, sessions: sessionmaker[Session], keys_: Sequence[tuple[str, str]]) -> Removed:
    """Day videos by ``(camera_id, date)``."""
    out = Removed()
    for cam, day in keys_:
        with sessions() as s:
            row = s.get(DayVideo, (cam, day))
            if row is None:
                continue
            path, size = row.path, int(row.bytes or 0)
        step = Removed()
        if not _unlink_all(data_dir, [path], step)[0]:
            continue
        with sessions.begin() as s:
            s.execute(delete(DayVideo).where(DayVideo.camera_id == cam, DayVideo.date == day))
        step.rows, step.bytes = 1, size
        out.add(step)
    return out


def _delete_events(data_dir: Path, sessions: sessionmaker[Session], ids: Sequence[int], model: Any,
                   *images: Any) -> Removed:
    """Event rows and the images each names (images are not counted in bytes: unknown); a row
    one of whose images could not be removed stays for the next pass."""
    out = Removed()
    for chunk in _chunks(ids):
        with sessions() as s:
            rows = s.execute(select(model.id, *images).where(model.id.in_(chunk))).all()
        step = Removed()
        n = len(images)
        ok = _unlink_all(data_dir, [path for r in rows for path in tuple(r)[1:]], step)  # one sync per chunk
        gone = [r.id for i, r in enumerate(rows) if all(ok[i * n:(i + 1) * n])]
        with sessions.begin() as s:
            s.execute(delete(model).where(model.id.in_(gone)))
        step.rows = len(gone)
        out.add(step)
    return out


def delete_motion_events(data_dir: Path, sessions: sessionmaker[Session], ids: Sequence[int]) -> Removed:
    """Motion events and their thumbnails."""
    return _delete_events(data_dir, sessions, ids, MotionEvent, MotionEvent.thumbnail_path)


def delete_object_events(data_dir: Path, sessions: sessionmaker[Session], ids: Sequence[int]) -> Removed:
    """The detector's object events, their close-ups and face close-ups."""
    return _delete_events(data_dir, sessions, ids, ObjectEvent, ObjectEvent.closeup_path, ObjectEvent.face_path)


def delete_exports(data_dir: Path, sessions: sessionmaker[Session], victims: Sequence[tuple[str, int]]) -> int:
    """Unlink the files, then drop the rows (a crash between leaves rows whose file is gone,
    which the next pass drops); returns the bytes the rows held."""
    for export_id, _size in victims:
        try:
            (data_dir / export_relpath(export_id)).unlink(missing_ok=True)  # the id is checked first
        except ValueError:
            log.warning("retention: export row %r has a malformed id: its row goes, no file is touched", export_id)
    with sessions.begin() as s:
        s.execute(delete(Export).where(Export.id.in_([export_id for export_id, _ in victims])))
    return sum(size for _, size in victims)


def _camera_ids(sessions: sessionmaker[Session], column: Any, camera: Any, camera_id: str, after: Any,
                extra: Sequence[Any] = ()) -> list[Any]:
    """The next chunk of keys (``column`` > ``after``) of one camera's rows, in key order."""
    with sessions() as s:
        q = select(column).where(camera == camera_id, *extra)
        if after is not None:
            q = q.where(column > after)
        return list(s.scalars(q.order_by(column).limit(CHUNK)))


def delete_camera_footage(data_dir: Path, sessions: sessionmaker[Session], camera_id: str, *,
                          max_rows: int = 10 * CHUNK) -> tuple[Removed, bool]:
    """One camera's recordings, snapshots, motion and object events (with their thumbnails and
    close-ups) and day videos,
    files and rows, and its online/offline history: a camera deleted "with its footage"
    (``DELETE /cameras/{id}?footage=true`` enqueues this as a recorder job). Exports are kept.

    Segments are marked first (they vanish from listings at once, and a crash leaves marked
    rows that retention finishes). At most about ``max_rows`` rows per call, so one call never
    holds a worker or the storage lock for long; returns what went and whether the camera has
    nothing left (False: call again). A file that cannot be removed keeps its row (logged) and
    is not retried by this call."""
    out = Removed()
    budget = max_rows
    with sessions.begin() as s:
        s.execute(update(Segment).where(Segment.camera_id == camera_id, Segment.deleting.is_(False))
                  .values(deleting=True))

    def drain(column: Any, camera: Any, remove: Any, extra: Sequence[Any] = ()) -> bool:
        nonlocal budget
        after = None
        while budget > 0:
            keys_ = _camera_ids(sessions, column, camera, camera_id, after, extra)
            if not keys_:
                return True
            out.add(remove(keys_))
            budget -= len(keys_)
            after = keys_[-1]
            if len(keys_) < CHUNK:
                return True
        return False

    done = (drain(Segment.id, Segment.camera_id, lambda ids: finish_marked(data_dir, sessions, ids),
                  [Segment.deleting.is_(True)])
            and drain(Snapshot.id, Snapshot.camera_id, lambda ids: delete_snapshots(data_dir, sessions, ids))
            and drain(MotionEvent.id, MotionEvent.camera_id, lambda ids: delete_motion_events(data_dir, sessions, ids))
            and drain(ObjectEvent.id, ObjectEvent.camera_id, lambda ids: delete_object_events(data_dir, sessions, ids))
            and drain(DayVideo.date, DayVideo.camera_id,
                      lambda days: delete_day_videos(data_dir, sessions, [(camera_id, d) for d in days])))
    if done:
        with sessions.begin() as s:
            s.execute(delete(CameraEvent).where(CameraEvent.camera_id == camera_id))
    return out, done
