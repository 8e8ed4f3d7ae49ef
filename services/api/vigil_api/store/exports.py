"""Exports as the exports routes read and change them (their files are written by the
recorder's export job)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from vigil_common.contract.windows import MAX_SEGMENT_SPAN
from vigil_common.db.models import Export, Segment
from vigil_common.db.models import User as UserRow

IN_PROGRESS = ("queued", "running")


def footage_in_range(db: Session, camera_id: str, start: datetime, end: datetime) -> tuple[int, int]:
    """(segments, bytes) of the camera's footage overlapping ``[start, end)``."""
    count, size = db.execute(select(func.count(), func.coalesce(func.sum(Segment.bytes), 0)).where(
        Segment.camera_id == camera_id, Segment.start < end, Segment.end > start,
        Segment.start > start - MAX_SEGMENT_SPAN, Segment.deleting.is_(False))).one()
    return int(count), int(size)


def lock_user(db: Session, user_id: int) -> None:
    """Serialise one user's export requests (their row, FOR UPDATE; IMMEDIATE does it on SQLite)."""
    db.get(UserRow, user_id, with_for_update=True)


def in_progress_count(db: Session, user_id: int | None = None) -> int:
    """Exports queued or running (of one user, or everyone's)."""
    stmt = select(func.count()).select_from(Export).where(Export.status.in_(IN_PROGRESS))
    if user_id is not None:
        stmt = stmt.where(Export.created_by == user_id)
    return int(db.scalar(stmt) or 0)


def bytes_held(db: Session, user_id: int) -> int:
    """Bytes of the user's finished exports."""
    return int(db.scalar(select(func.coalesce(func.sum(Export.bytes), 0))
                         .where(Export.created_by == user_id, Export.status == "done")) or 0)


def export_page(db: Session, camera_id: str | None, limit: int, offset: int) -> tuple[list[Export], int]:
    """Exports, newest first, and how many there are."""
    stmt = select(Export)
    count = select(func.count()).select_from(Export)
    if camera_id is not None:
        stmt, count = stmt.where(Export.camera_id == camera_id), count.where(Export.camera_id == camera_id)
    rows = list(db.scalars(stmt.order_by(Export.created_at.desc(), Export.id).limit(limit).offset(offset)))
    return rows, int(db.scalar(count) or 0)


def export_row(db: Session, export_id: str) -> Export | None:
    return db.get(Export, export_id)


def delete_export_row(db: Session, export_id: str) -> None:
    db.execute(delete(Export).where(Export.id == export_id))


def mark_failed_if_unfinished(db: Session, export_id: str, error: str, now: datetime) -> None:
    db.execute(update(Export).where(Export.id == export_id, Export.status.in_(IN_PROGRESS))
               .values(status="failed", error=error, finished_at=now))

