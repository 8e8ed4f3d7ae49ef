"""/api/v1/storage: disk use, bytes per camera and per hour; ``/cameras/{id}/days?month=``:
the days of a month that have footage (the web app's calendar)."""

from __future__ import annotations

import calendar
import json
import logging
import re
from dataclasses import replace
from datetime import date, datetime
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy.orm import Session

from vigil_api.deps import API_PREFIX, CameraId, State, require_user
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.storage import CameraBytes, CameraHours, DayCount, HoursOut, MonthOut, StorageOut
from vigil_api.state import AppState
from vigil_api.storage_counts import Counted, published
from vigil_api.store import storage as store
from vigil_api.store.cameras import camera_known
from vigil_api.store.retention import disk_usage, read_retention
from vigil_api.timeline import SegmentSpan, bytes_per_hour
from vigil_common.contract import keys
from vigil_common.contract.days import DATE_PATTERN, day_bounds, local_day, parse_day
from vigil_common.contract.windows import MAX_SEGMENT_SPAN
from vigil_common.db.models import utcnow

router = APIRouter(prefix=f"{API_PREFIX}", tags=["storage"], dependencies=[Depends(require_user)])

MONTH_PATTERN = r"^\d{4}-\d{2}$"
STORAGE_KEY = keys.STORAGE
# The API's own count, used only until a retention pass has published figures.
INDEX_COUNT_KEY = f"{keys.PREFIX}:storage:api_count"
INDEX_COUNT_TTL_S = 300

log = logging.getLogger(__name__)


_errors: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not authenticated"},
    404: {"model": ErrorOut, "description": "Unknown camera"},
    422: {"model": ErrorOut, "description": "Invalid query"},
}


def count_index(db: Session) -> Counted:
    """Count the index (full scans): only when the recorder has published nothing, and cached."""
    per, snaps, days = store.index_totals(db)
    now = utcnow()
    return Counted("index", now, now, sum(b for _, b in per.values()), snaps, days, per)


def _cached_count(state: AppState, db: Session) -> Counted:
    """``count_index`` at most once per ``INDEX_COUNT_TTL_S`` per API (kept in Redis)."""
    client = state.sync_redis
    try:
        raw = client.get(INDEX_COUNT_KEY)
        if raw is not None:
            doc = json.loads(raw)
            stamp = datetime.fromisoformat(doc["updated_at"])
            return Counted("index", stamp, stamp, int(doc["bytes_segments"]),
                           int(doc["bytes_snapshots"]), int(doc["bytes_day_videos"]),
                           {str(k): (int(v[0]), int(v[1])) for k, v in doc["per_camera"].items()})
    except (redis.RedisError, ValueError, KeyError, TypeError, IndexError) as exc:
        log.warning("cannot read the cached storage count: %s", exc)
    counted = count_index(db)
    doc = {"updated_at": counted.updated_at.isoformat(), "bytes_segments": counted.bytes_segments,
           "bytes_snapshots": counted.bytes_snapshots, "bytes_day_videos": counted.bytes_day_videos,
           "per_camera": {k: list(v) for k, v in counted.per_camera.items()}}
    try:
        client.set(INDEX_COUNT_KEY, json.dumps(doc), ex=INDEX_COUNT_TTL_S)
    except redis.RedisError as exc:
        log.warning("cannot cache the storage count: %s", exc)
    return counted


@router.get("/storage", response_model=StorageOut, responses=_errors)
def storage(state: State) -> StorageOut:
    """Disk use of the data directory's file system, stored bytes by kind and per camera,
    and the retention settings in force.

    The byte and segment counts are those the recorder's retention pass last published (see
    ``updated_at``), so a page view costs a few indexed reads, not a scan of the index.
    """
    try:
        counted = published(state.sync_redis)
    except redis.RedisError as exc:
        log.warning("cannot read %s: %s", STORAGE_KEY, exc)
        counted = None
    with state.factory() as db:
        if counted is None:
            counted = _cached_count(state, db)
        elif counted.cameras_updated_at is None:  # a recorder that publishes no per-camera counts (yet)
            own = _cached_count(state, db)
            counted = replace(counted, cameras_updated_at=own.updated_at, per_camera=own.per_camera)
        registry = store.registered_ids(db)
        cams: list[CameraBytes] = []
        for cam in sorted(registry | set(counted.per_camera)):
            oldest, newest = store.oldest_newest(db, cam)
            n, size = counted.per_camera.get(cam, (0, 0))
            if oldest is None and not n:
                continue  # no footage
            cams.append(CameraBytes(camera_id=cam, segments=n, bytes=size, oldest=oldest, newest=newest))
        exports = store.export_bytes(db)
    return StorageOut(disk=disk_usage(state.settings.data_dir),
                      bytes_total=counted.bytes_segments + counted.bytes_snapshots + counted.bytes_day_videos + exports,
                      bytes_segments=counted.bytes_segments, bytes_snapshots=counted.bytes_snapshots,
                      bytes_day_videos=counted.bytes_day_videos, bytes_exports=exports, cameras=cams,
                      retention=read_retention(state), updated_at=counted.updated_at,
                      cameras_updated_at=counted.cameras_updated_at, source=counted.source)


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
        for cam, span in store.spans_between(db, start, end, MAX_SEGMENT_SPAN):
            per.setdefault(cam, []).append(span)
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
            count, size = store.footage_started_in(db, camera_id, start, end)
            if count:
                out.append(DayCount(date=day.isoformat(), segments=count, bytes=size))
    return MonthOut(camera_id=camera_id, month=f"{year:04d}-{mon:02d}", days=out)
