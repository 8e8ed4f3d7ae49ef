"""The indexed footage as the listing routes read it: snapshots, motion events (pages with a
bounded total, see :mod:`vigil_api.paging`) and the file a row names."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Row, Select, or_, select
from sqlalchemy.orm import Session

from vigil_api.paging import capped_count
from vigil_common.db.models import MotionEvent, Snapshot

Order = Literal["asc", "desc"]


def snapshot_page(db: Session, camera_id: str, t0: datetime | None, t1: datetime | None, order: Order,
                  limit: int, offset: int) -> tuple[Sequence[Row[Any]], int, bool]:
    """(rows, total, whether total is exact) of a camera's snapshots in ``[t0, t1)``."""
    stmt: Select[Any] = select(Snapshot.id, Snapshot.time, Snapshot.width, Snapshot.height, Snapshot.bytes).where(
        Snapshot.camera_id == camera_id
    )
    if t0 is not None:
        stmt = stmt.where(Snapshot.time >= t0)
    if t1 is not None:
        stmt = stmt.where(Snapshot.time < t1)
    ordering = Snapshot.time.asc() if order == "asc" else Snapshot.time.desc()
    rows = db.execute(stmt.order_by(ordering).limit(limit).offset(offset)).all()
    total, exact = capped_count(db, stmt, len(rows), limit, offset)
    return rows, total, exact


def snapshot_path(db: Session, camera_id: str, snapshot_id: int) -> str | None:
    return db.scalar(select(Snapshot.path).where(Snapshot.id == snapshot_id, Snapshot.camera_id == camera_id))


def event_page(db: Session, camera_id: str | None, t0: datetime | None, t1: datetime | None, order: Order,
               limit: int, offset: int) -> tuple[Sequence[Row[Any]], int, bool]:
    """(rows, total, exact) of the motion events overlapping ``[t0, t1)`` (ongoing ones too)."""
    stmt: Select[Any] = select(
        MotionEvent.id, MotionEvent.camera_id, MotionEvent.start, MotionEvent.end, MotionEvent.score,
        MotionEvent.thumbnail_path,
    )
    if camera_id is not None:
        stmt = stmt.where(MotionEvent.camera_id == camera_id)
    if t0 is not None:
        stmt = stmt.where(or_(MotionEvent.end.is_(None), MotionEvent.end > t0))
    if t1 is not None:
        stmt = stmt.where(MotionEvent.start < t1)
    if order == "asc":
        ordering = (MotionEvent.start.asc(), MotionEvent.id.asc())
    else:
        ordering = (MotionEvent.start.desc(), MotionEvent.id.desc())
    rows = db.execute(stmt.order_by(*ordering).limit(limit).offset(offset)).all()
    total, exact = capped_count(db, stmt, len(rows), limit, offset)
    return rows, total, exact


def event_thumbnail(db: Session, event_id: int) -> Row[Any] | None:
    """(thumbnail_path, end) of an event, or None."""
    return db.execute(
        select(MotionEvent.thumbnail_path, MotionEvent.end).where(MotionEvent.id == event_id)
    ).one_or_none()
