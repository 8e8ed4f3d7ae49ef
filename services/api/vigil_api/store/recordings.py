"""The recording index as ``/recordings`` lists it: filters, a page, a segment's file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Row, Select, exists, or_, select
from sqlalchemy.orm import Session

from vigil_api.paging import capped_count
from vigil_common.contract.windows import MAX_SEGMENT_SPAN
from vigil_common.db.models import Camera, ObjectEvent, Segment

_T = TypeVar("_T", bound=tuple[Any, ...])

# The listed columns only (no ORM entities: cheaper, and `path` never leaves the server).
LISTED = (
    Segment.id,
    Segment.camera_id,
    Segment.start,
    Segment.end,
    Segment.duration_s,
    Segment.frames,
    Segment.bytes,
    Segment.width,
    Segment.height,
    Segment.codec,
)


@dataclass(frozen=True, slots=True)
class RecordingFilter:
    """A recordings query's filters (validated); ``None`` means "any"."""

    camera_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    location: str | None = None
    label: str | None = None  # only segments during an object event of this label ("has a person")

    def apply(self, stmt: Select[_T]) -> Select[_T]:
        """Add the WHERE clauses (bound parameters only; overlap semantics for the range).
        Rows that retention is deleting are never listed."""
        stmt = stmt.where(Segment.deleting.is_(False))
        if self.camera_id is not None:
            stmt = stmt.where(Segment.camera_id == self.camera_id)
        if self.start is not None:
            stmt = stmt.where(Segment.end > self.start)
            if self.start - datetime.min.replace(tzinfo=UTC) > MAX_SEGMENT_SPAN:
                stmt = stmt.where(Segment.start > self.start - MAX_SEGMENT_SPAN)
        if self.end is not None:
            stmt = stmt.where(Segment.start < self.end)
        if self.min_duration is not None:
            stmt = stmt.where(Segment.duration_s >= self.min_duration)
        if self.max_duration is not None:
            stmt = stmt.where(Segment.duration_s <= self.max_duration)
        if self.location is not None:
            stmt = stmt.where(Segment.camera_id.in_(select(Camera.id).where(Camera.location == self.location)))
        if self.label is not None:
            # The camera saw such an object while the segment was recorded (an event still going
            # on has no end yet). Correlated on (camera_id, label, start): ix_object_events_camera_label_start.
            stmt = stmt.where(exists().where(
                ObjectEvent.camera_id == Segment.camera_id, ObjectEvent.label == self.label,
                ObjectEvent.start < Segment.end, or_(ObjectEvent.end.is_(None), ObjectEvent.end > Segment.start)))
        return stmt


def recording_page(db: Session, filters: RecordingFilter, order: Literal["asc", "desc"], limit: int,
                   offset: int) -> tuple[Sequence[Row[Any]], int, bool]:
    """(rows, total, whether total is exact), by start time then id."""
    ordering = (Segment.start.asc(), Segment.id.asc()) if order == "asc" else (Segment.start.desc(), Segment.id.desc())
    page: Select[Any] = filters.apply(select(*LISTED)).order_by(*ordering).limit(limit).offset(offset)
    rows: Sequence[Row[Any]] = db.execute(page).all()
    total, exact = capped_count(db, filters.apply(select(Segment.id)), len(rows), limit, offset)
    return rows, total, exact


def recording_path(db: Session, recording_id: int) -> str | None:
    """The file a listed segment row names (relative to the data directory)."""
    return db.scalar(select(Segment.path).where(Segment.id == recording_id, Segment.deleting.is_(False)))
