"""/api/v1/recordings: the segment index (filtered, paged) and the segment files (Range)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import FileResponse
from sqlalchemy import Select, func, select

from vigil_api.deps import API_PREFIX, State, require_user
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.recordings import RecordingOut, RecordingPage
from vigil_api.timeparse import optional_request_time
from vigil_common.contract.ids import CAMERA_ID_PATTERN
from vigil_common.contract.messages import PRINTABLE
from vigil_common.db.models import Camera, Segment

_T = TypeVar("_T", bound=tuple[Any, ...])

router = APIRouter(prefix=f"{API_PREFIX}/recordings", tags=["recordings"], dependencies=[Depends(require_user)])

MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000
# `total` is counted exactly up to this many rows past the current page, then reported as a lower
# bound (total_exact = false): counting costs what reading that far would, never a whole table.
COUNT_AHEAD = 1000
# No indexed segment is longer than this (segment_seconds is capped at 600 s). It bounds the
# overlap test `start < :end AND end > :start` on `start` too, so Postgres can range-scan the
# (camera_id, start) and (start) indexes instead of walking a camera's whole history.
MAX_SEGMENT_SPAN = timedelta(hours=1)
MAX_DURATION_S = 7 * 24 * 3600.0
INT64_MAX = 2**63 - 1


# The listed columns only (no ORM entities: cheaper, and `path` never leaves the server).
_LISTED = (
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


def video_url(segment_id: int) -> str:
    return f"{API_PREFIX}/recordings/{segment_id}/video"


@dataclass(frozen=True, slots=True)
class RecordingFilter:
    """A recordings query's filters (validated); ``None`` means "any"."""

    camera_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    location: str | None = None

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
        return stmt


@router.get("", response_model=RecordingPage, responses={401: {"model": ErrorOut}, 422: {"model": ErrorOut}})
def list_recordings(
    state: State,
    camera_id: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN, max_length=32)] = None,
    start: Annotated[
        str | None,
        Query(max_length=64, description="ISO 8601; segments ending after it. No offset: server zone."),
    ] = None,
    end: Annotated[
        str | None,
        Query(max_length=64, description="ISO 8601; segments starting before it. No offset: server zone."),
    ] = None,
    min_duration: Annotated[float | None, Query(ge=0, le=MAX_DURATION_S, allow_inf_nan=False)] = None,
    max_duration: Annotated[float | None, Query(ge=0, le=MAX_DURATION_S, allow_inf_nan=False)] = None,
    location: Annotated[str | None, Query(min_length=1, max_length=128, pattern=PRINTABLE)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    order: Annotated[Literal["asc", "desc"], Query(description="by start time")] = "desc",
) -> RecordingPage:
    """Segments overlapping ``[start, end)``, optionally of one camera or location, paged."""
    t0 = optional_request_time("start", start, state.settings.tz)
    t1 = optional_request_time("end", end, state.settings.tz)
    if t0 is not None and t1 is not None and t0 >= t1:
        raise HTTPException(422, "query parameter 'start' must be before 'end'")
    if min_duration is not None and max_duration is not None and min_duration > max_duration:
        raise HTTPException(422, "query parameter 'min_duration' must not exceed 'max_duration'")
    filters = RecordingFilter(camera_id, t0, t1, min_duration, max_duration, location)
    ordering = (Segment.start.asc(), Segment.id.asc()) if order == "asc" else (Segment.start.desc(), Segment.id.desc())
    page: Select[Any] = filters.apply(select(*_LISTED)).order_by(*ordering).limit(limit).offset(offset)
    cap = offset + limit + COUNT_AHEAD
    with state.factory() as db:
        rows = db.execute(page).all()
        if len(rows) < limit and (rows or offset == 0):
            counted = offset + len(rows)  # the last page: no need to count
        else:
            capped = filters.apply(select(Segment.id)).limit(cap + 1).subquery()
            counted = int(db.scalar(select(func.count()).select_from(capped)) or 0)
    exact = counted <= cap
    items = [RecordingOut(**r._asdict(), url=video_url(r.id)) for r in rows]
    return RecordingPage(items=items, total=min(counted, cap), total_exact=exact, limit=limit, offset=offset)


def resolve_recording(data_dir: FsPath, relative: str) -> FsPath | None:
    """The file a segment row names, if it lies inside ``data_dir/recordings``; else None.

    The path comes from the index only, and is resolved (symlinks too) before the check.
    """
    if not relative or "\x00" in relative:
        return None
    root = (data_dir / "recordings").resolve()
    candidate = (data_dir / relative).resolve()
    if candidate == root or not candidate.is_relative_to(root):
        return None
    return candidate


@router.head("/{recording_id}/video", include_in_schema=False, response_class=FileResponse)
@router.get(
    "/{recording_id}/video",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "The segment (Range requests give 206)"},
        206: {"description": "Partial content"},
        401: {"model": ErrorOut},
        404: {"model": ErrorOut},
        416: {"description": "Range not satisfiable"},
    },
)
def recording_video(recording_id: Annotated[int, Path(ge=1, le=INT64_MAX)], state: State) -> FileResponse:
    """The segment's MP4 (H.264), with ``Range`` support (206 / 416)."""
    with state.factory() as db:
        relative = db.scalar(select(Segment.path).where(Segment.id == recording_id, Segment.deleting.is_(False)))
    if relative is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such recording")
    path = resolve_recording(state.settings.data_dir, relative)
    try:
        st = os.stat(path) if path is not None else None
    except OSError:
        st = None
    if path is None or st is None or not stat.S_ISREG(st.st_mode):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "recording file missing")
    return FileResponse(
        path,
        media_type="video/mp4",
        stat_result=st,
        headers={"Cache-Control": "private, max-age=3600"},
        content_disposition_type="inline",
    )
