"""What the storage routes read from the index: totals, spans, the calendar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil_api.timeline import SegmentSpan
from vigil_common.db.models import Camera, DayVideo, Export, Segment, Snapshot


def index_totals(db: Session) -> tuple[dict[str, tuple[int, int]], int, int]:
    """(per camera (segments, bytes), snapshot bytes, day video bytes) by full scans: only when
    the recorder has published nothing, and cached by the caller."""
    per = {str(r[0]): (int(r[1]), int(r[2])) for r in db.execute(
        select(Segment.camera_id, func.count(), func.coalesce(func.sum(Segment.bytes), 0))
        .where(Segment.deleting.is_(False)).group_by(Segment.camera_id))}
    snaps = int(db.scalar(select(func.coalesce(func.sum(Snapshot.bytes), 0))) or 0)
    days = int(db.scalar(select(func.coalesce(func.sum(DayVideo.bytes), 0))) or 0)
    return per, snaps, days


def oldest_newest(db: Session, camera_id: str) -> tuple[datetime | None, datetime | None]:
    """Two index-ordered LIMIT 1 reads ((camera_id, start) and (camera_id, end) indexes)."""
    live = Segment.deleting.is_(False)
    oldest = db.scalar(select(Segment.start).where(Segment.camera_id == camera_id, live)
                       .order_by(Segment.start).limit(1))
    newest = db.scalar(select(Segment.end).where(Segment.camera_id == camera_id, live)
                       .order_by(Segment.end.desc()).limit(1))
    return oldest, newest


def registered_ids(db: Session) -> set[str]:
    return set(db.scalars(select(Camera.id)))


def export_bytes(db: Session) -> int:
    return int(db.scalar(select(func.coalesce(func.sum(Export.bytes), 0))) or 0)


def spans_between(db: Session, start: datetime, end: datetime,
                  max_span: timedelta) -> Iterator[tuple[str, SegmentSpan]]:
    """(camera, span) of every listed segment overlapping ``[start, end)`` (``max_span``: the
    longest a segment can be, so the overlap test range-scans the start index)."""
    for r in db.execute(select(Segment.camera_id, Segment.start, Segment.end, Segment.bytes).where(
            Segment.start < end, Segment.end > start, Segment.deleting.is_(False),
            Segment.start > start - max_span)):
        yield r.camera_id, SegmentSpan(r.start, r.end, r.bytes)


def footage_started_in(db: Session, camera_id: str, start: datetime, end: datetime) -> tuple[int, int]:
    """(segments, bytes) of the camera's footage starting in ``[start, end)``."""
    count, size = db.execute(select(func.count(), func.coalesce(func.sum(Segment.bytes), 0)).where(
        Segment.camera_id == camera_id, Segment.start >= start, Segment.start < end,
        Segment.deleting.is_(False))).one()
    return int(count), int(size)
