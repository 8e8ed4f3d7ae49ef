"""/api/v1/storage: disk use, bytes per camera and per hour; ``/cameras/{id}/days?month=``:
the days of a month that have footage (the web app's calendar)."""

from __future__ import annotations

import calendar
import re
import shutil
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from vigil_api.deps import API_PREFIX, CameraId, State, require_user
from vigil_api.routes.days import camera_known
from vigil_api.routes.settings import RetentionOut, read_retention
from vigil_api.schemas import ErrorOut
from vigil_api.timeline import SegmentSpan, bytes_per_hour
from vigil_common.days import DATE_PATTERN, day_bounds, local_day, parse_day
from vigil_common.db.models import DayVideo, Export, Segment, Snapshot, utcnow

router = APIRouter(prefix=f"{API_PREFIX}", tags=["storage"], dependencies=[Depends(require_user)])

MONTH_PATTERN = r"^\d{4}-\d{2}$"
MAX_SEGMENT_SPAN = timedelta(hours=1)  # as routes/recordings.py


class DiskOut(BaseModel):
    total: int
    used: int
    free: int


class CameraBytes(BaseModel):
    camera_id: str
    segments: int
    bytes: int
    oldest: datetime | None
    newest: datetime | None


class StorageOut(BaseModel):
    disk: DiskOut | None = Field(description="the data directory's file system; null if unreadable")
    bytes_total: int = Field(description="segments + snapshots + day videos + exports")
    bytes_segments: int
    bytes_snapshots: int
    bytes_day_videos: int
    bytes_exports: int
    cameras: list[CameraBytes]
    retention: RetentionOut


class CameraHours(BaseModel):
    camera_id: str
    bytes_per_hour: list[int] = Field(description="24 values by local clock hour")


class HoursOut(BaseModel):
    date: str
    cameras: list[CameraHours]


class DayCount(BaseModel):
    date: str
    segments: int
    bytes: int


class MonthOut(BaseModel):
    camera_id: str
    month: str
    days: list[DayCount] = Field(description="only the days that have footage")


_errors: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not authenticated"},
    404: {"model": ErrorOut, "description": "Unknown camera"},
    422: {"model": ErrorOut, "description": "Invalid query"},
}


def _disk(state: State) -> DiskOut | None:
    path = state.settings.data_dir
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return DiskOut(total=usage.total, used=usage.used, free=usage.free)


@router.get("/storage", response_model=StorageOut, responses=_errors)
def storage(state: State) -> StorageOut:
    """Disk use of the data directory's file system, stored bytes by kind and per camera,
    and the retention settings in force."""
    with state.factory() as db:
        rows = db.execute(
            select(Segment.camera_id, func.count(), func.coalesce(func.sum(Segment.bytes), 0),
                   func.min(Segment.start), func.max(Segment.end))
            .where(Segment.deleting.is_(False)).group_by(Segment.camera_id).order_by(Segment.camera_id)).all()
        snaps = int(db.scalar(select(func.coalesce(func.sum(Snapshot.bytes), 0))) or 0)
        days = int(db.scalar(select(func.coalesce(func.sum(DayVideo.bytes), 0))) or 0)
        exports = int(db.scalar(select(func.coalesce(func.sum(Export.bytes), 0))) or 0)
    cams = [CameraBytes(camera_id=r[0], segments=int(r[1]), bytes=int(r[2]), oldest=r[3], newest=r[4]) for r in rows]
    segs = sum(c.bytes for c in cams)
    return StorageOut(disk=_disk(state), bytes_total=segs + snaps + days + exports, bytes_segments=segs,
                      bytes_snapshots=snaps, bytes_day_videos=days, bytes_exports=exports, cameras=cams,
                      retention=read_retention(state))


def _parse_day(value: str, name: str) -> date:
    try:
        return parse_day(value)
    except ValueError as exc:
        raise HTTPException(422, f"query parameter '{name}': {exc}") from None


@router.get("/storage/hours", response_model=HoursOut, responses=_errors)
def storage_hours(
    state: State,
    date: Annotated[str | None, Query(pattern=DATE_PATTERN, max_length=10,
                                      description="YYYY-MM-DD in the server's zone; default today")] = None,
) -> HoursOut:
    """Bytes recorded per local clock hour of a day, per camera (cameras without footage that
    day are left out)."""
    tz = state.settings.tz
    day = _parse_day(date, "date") if date else local_day(utcnow(), tz)
    start, end = day_bounds(day, tz)
    per: dict[str, list[SegmentSpan]] = {}
    with state.factory() as db:
        for r in db.execute(select(Segment.camera_id, Segment.start, Segment.end, Segment.bytes).where(
                Segment.start < end, Segment.end > start, Segment.deleting.is_(False),
                Segment.start > start - MAX_SEGMENT_SPAN)):
            per.setdefault(r.camera_id, []).append(SegmentSpan(r.start, r.end, r.bytes))
    cams = [CameraHours(camera_id=cam, bytes_per_hour=bytes_per_hour(spans, start, end, tz))
            for cam, spans in sorted(per.items())]
    return HoursOut(date=day.isoformat(), cameras=cams)


@router.get("/cameras/{camera_id}/days", response_model=MonthOut, responses=_errors)
def days_with_footage(
    camera_id: CameraId,
    state: State,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, max_length=7, description="YYYY-MM")],
) -> MonthOut:
    """The days of ``month`` (server zone) on which the camera has footage, with counts."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", month)
    assert m is not None  # the pattern was checked
    year, mon = int(m.group(1)), int(m.group(2))
    if not 1 <= mon <= 12:
        raise HTTPException(422, "query parameter 'month': no such month")
    first = _parse_day(f"{year:04d}-{mon:02d}-01", "month")
    tz = state.settings.tz
    out: list[DayCount] = []
    with state.factory() as db:
        if not camera_known(db, camera_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown camera")
        for d in range(calendar.monthrange(year, mon)[1]):
            day = first.replace(day=d + 1)
            start, end = day_bounds(day, tz)
            count, size = db.execute(select(func.count(), func.coalesce(func.sum(Segment.bytes), 0)).where(
                Segment.camera_id == camera_id, Segment.start >= start, Segment.start < end,
                Segment.deleting.is_(False))).one()
            if count:
                out.append(DayCount(date=day.isoformat(), segments=int(count), bytes=int(size)))
    return MonthOut(camera_id=camera_id, month=f"{year:04d}-{mon:02d}", days=out)
