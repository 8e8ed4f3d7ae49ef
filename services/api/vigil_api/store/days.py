"""A camera's day as the days routes read it: footage, motion, state changes, the day video."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from vigil_api.timeline import MotionSpan, SegmentSpan, StateEvent
from vigil_common.contract.windows import MAX_SEGMENT_SPAN
from vigil_common.db.engine import upsert
from vigil_common.db.models import Camera, CameraEvent, DayVideo, MotionEvent, ObjectEvent, Segment

MAX_MOTION_EVENTS = 10_000  # on one day's timeline
MAX_OBJECT_EVENTS = 10_000


def segment_spans(db: Session, camera_id: str, start: datetime, end: datetime) -> list[SegmentSpan]:
    """The camera's listed segments overlapping ``[start, end)``, by start."""
    return [SegmentSpan(r.start, r.end, r.bytes) for r in db.execute(
        select(Segment.start, Segment.end, Segment.bytes).where(
            Segment.camera_id == camera_id, Segment.start < end, Segment.end > start,
            Segment.start > start - MAX_SEGMENT_SPAN, Segment.deleting.is_(False),
        ).order_by(Segment.start))]


def motion_spans(db: Session, camera_id: str, start: datetime, end: datetime) -> list[MotionSpan]:
    """The camera's motion events overlapping ``[start, end)`` (ongoing ones too), by start."""
    return [MotionSpan(r.id, r.start, r.end, r.score, r.thumbnail_path is not None) for r in db.execute(
        select(MotionEvent.id, MotionEvent.start, MotionEvent.end, MotionEvent.score, MotionEvent.thumbnail_path)
        .where(MotionEvent.camera_id == camera_id, MotionEvent.start < end,
               or_(MotionEvent.end.is_(None), MotionEvent.end > start))
        .order_by(MotionEvent.start).limit(MAX_MOTION_EVENTS))]


def object_events(db: Session, camera_id: str, start: datetime, end: datetime) -> list[ObjectEvent]:
    """The camera's object events overlapping ``[start, end)`` (ongoing ones too), by start."""
    return list(db.execute(
        select(ObjectEvent).where(ObjectEvent.camera_id == camera_id, ObjectEvent.start < end,
                                  or_(ObjectEvent.end.is_(None), ObjectEvent.end > start))
        .order_by(ObjectEvent.start, ObjectEvent.id).limit(MAX_OBJECT_EVENTS)).scalars())


def state_events(db: Session, camera_id: str, start: datetime, end: datetime) -> list[StateEvent]:
    """The day's camera events, plus the last status and streaming events before it (the
    state the day starts in)."""
    in_day = select(CameraEvent.time, CameraEvent.kind).where(
        CameraEvent.camera_id == camera_id, CameraEvent.time >= start, CameraEvent.time < end)
    out = [StateEvent(r.time, r.kind) for r in db.execute(in_day)]
    for kinds in (("online", "offline"), ("streaming", "stopped")):
        before = db.execute(
            select(CameraEvent.time, CameraEvent.kind)
            .where(CameraEvent.camera_id == camera_id, CameraEvent.time < start, CameraEvent.kind.in_(kinds))
            .order_by(CameraEvent.time.desc()).limit(1)
        ).first()
        if before is not None:
            out.append(StateEvent(before.time, before.kind))
    return out


def first_seen(db: Session, camera_id: str) -> datetime | None:
    return db.scalar(select(Camera.first_seen).where(Camera.id == camera_id))


def day_video(db: Session, camera_id: str, day: str) -> DayVideo | None:
    return db.get(DayVideo, (camera_id, day))


def footage_started_in(db: Session, camera_id: str, start: datetime, end: datetime) -> tuple[int, datetime | None]:
    """(segments, newest end) of the camera's footage starting in ``[start, end)``: a day's."""
    count, newest = db.execute(
        select(func.count(), func.max(Segment.end)).where(and_(
            Segment.camera_id == camera_id, Segment.start >= start, Segment.start < end,
            Segment.deleting.is_(False)))
    ).one()
    return int(count), newest


def mark_day_video_queued(db: Session, camera_id: str, day: str, now: datetime) -> None:
    values = {"camera_id": camera_id, "date": day, "status": "queued", "progress": 0.0, "error": None,
              "updated_at": now}
    upsert(db, DayVideo, values, conflict=["camera_id", "date"], update=["status", "progress", "error", "updated_at"])
