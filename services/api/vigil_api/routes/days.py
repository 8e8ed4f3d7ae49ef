"""/api/v1/cameras/{id}/days/{date}: the day's timeline, and the whole day as one MP4.

The day video is assembled by the recorder (RQ job ``vigil_recorder.days.assemble_day``,
job id ``day-{camera}-{date}``). ``GET .../video`` serves it (Range, 206) when it is
assembled and current; otherwise it enqueues the job (once: not while one is queued or
running) and answers 202 with the progress and ``Retry-After``. Position ``p`` seconds in the
video is the instant ``day start + p`` (the ``X-Vigil-Day-Start`` header; gaps are held
pictures, see the timeline's ``covered``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from fastapi.responses import FileResponse, JSONResponse

from vigil_api.deps import API_PREFIX, CameraId, State, require_user
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.days import DayVideoOut, GapOut, IntervalOut, MotionEventOut, ObjectEventOut, TimelineOut
from vigil_api.store import days as store
from vigil_api.store.cameras import camera_known
from vigil_api.timeline import (
    Gap,
    build_timeline,
)
from vigil_common.contract import keys, recorder_jobs
from vigil_common.contract.days import DATE_PATTERN, Footage, day_bounds, is_current, parse_day
from vigil_common.contract.paths import regular_file_under
from vigil_common.contract.urls import closeup_url, thumbnail_url
from vigil_common.db import retention_settings as retention_overrides
from vigil_common.db.models import DayVideo, utcnow

router = APIRouter(prefix=f"{API_PREFIX}/cameras", tags=["timeline"], dependencies=[Depends(require_user)])

RETRY_AFTER_S = 5
# The current day's video may lag its newest footage by this much and still be served.
TODAY_TOLERANCE_S = 300.0
# A failed assembly is retried on demand, but not more often than this.
FAILED_RETRY_S = 60.0

Day = Annotated[str, Path(pattern=DATE_PATTERN, max_length=10, description="YYYY-MM-DD in the server's zone",
                          examples=["2024-05-01"])]


# --- models ---------------------------------------------------------------------------------


def _day(value: str) -> date:
    try:
        return parse_day(value)
    except ValueError as exc:
        raise HTTPException(422, f"path parameter 'date': {exc}") from None


def _unknown_camera() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "unknown camera")


def video_url(camera_id: str, day: str) -> str:
    return f"{API_PREFIX}/cameras/{camera_id}/days/{day}/video"


def _video_out(camera_id: str, day: str, row: DayVideo | None) -> DayVideoOut:
    if row is None:
        return DayVideoOut(camera_id=camera_id, date=day, status="none", progress=0.0, url=video_url(camera_id, day))
    return DayVideoOut(camera_id=camera_id, date=day, status=row.status, progress=row.progress,
                       covers_until=row.covers_until, error=row.error, url=video_url(camera_id, day))


# --- routes -----------------------------------------------------------------------------------

_errors: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "Not authenticated"},
    404: {"model": ErrorOut, "description": "Unknown camera, or (video) no recordings that day"},
    422: {"model": ErrorOut, "description": "Invalid camera id or date"},
}


@router.get("/{camera_id}/days/{date}", response_model=TimelineOut, responses=_errors)
def day_timeline(camera_id: CameraId, date: Day, state: State) -> TimelineOut:
    """The day's timeline: covered intervals, gaps with reasons, motion and object events, bytes per hour."""
    day = _day(date)
    tz = state.settings.tz
    start, end = day_bounds(day, tz)
    now = utcnow()
    with state.factory() as db:
        if not camera_known(db, camera_id):
            raise _unknown_camera()
        segments = store.segment_spans(db, camera_id, start, end)
        motion = store.motion_spans(db, camera_id, start, end)
        objects = store.object_events(db, camera_id, start, end)
        events = store.state_events(db, camera_id, start, end)
        first_seen = store.first_seen(db, camera_id)
        row = store.day_video(db, camera_id, day.isoformat())
    tl = build_timeline(segments, motion, events, start, end, now, tz=tz, first_seen=first_seen)

    def local(t: datetime) -> datetime:
        return t.astimezone(tz)

    def gap_out(g: Gap) -> GapOut:
        return GapOut(start=local(g.start), end=local(g.end), reason=g.reason)

    return TimelineOut(
        date=day.isoformat(),
        camera_id=camera_id,
        start=local(start),
        end=local(end),
        covered=[IntervalOut(start=local(c.start), end=local(c.end)) for c in tl.covered],
        gaps=[gap_out(g) for g in tl.gaps],
        events=[MotionEventOut(id=e.id, start=local(e.start), end=local(e.end) if e.end else None, score=e.score,
                               thumbnail_url=thumbnail_url(e.id) if e.has_thumbnail else None)
                for e in tl.events],
        objects=[ObjectEventOut(id=o.id, label=o.label, start=local(o.start), end=local(o.end) if o.end else None,
                                score=o.score, closeup_url=closeup_url(o.id) if o.closeup_path else None)
                 for o in objects],
        bytes_per_hour=tl.bytes_per_hour,
        video=_video_out(camera_id, day.isoformat(), row),
    )


# Day videos and exports waiting in the long-job queue before new requests are refused (429).
MAX_WAITING_SLOW_JOBS = 16


def ensure_assembly(state: State, camera_id: str, day: str, row: DayVideo | None, now: datetime) -> DayVideoOut:
    """Enqueue the day's assembly unless one is queued or running (or failed just now)."""
    client = state.sync_redis
    current = _video_out(camera_id, day, row)
    if recorder_jobs.is_active(client, recorder_jobs.day_job_id(camera_id, day)):
        if current.status in ("queued", "running"):
            return current
        return current.model_copy(update={"status": "queued", "progress": 0.0})
    if row is not None and row.status == "failed" and (now - row.updated_at).total_seconds() < FAILED_RETRY_S:
        return current
    if recorder_jobs.queue(client, keys.RECORDER_SLOW_QUEUE).count >= MAX_WAITING_SLOW_JOBS:
        # Every request for a day could otherwise enqueue another long remux.
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            "too many day videos and exports waiting to be built; try again later",
                            headers={"Retry-After": "30"})
    recorder_jobs.enqueue_day(client, camera_id, day, checked=True)
    with state.writes.begin() as db:
        store.mark_day_video_queued(db, camera_id, day, now)
    return current.model_copy(update={"status": "queued", "progress": 0.0, "error": None})


@router.head("/{camera_id}/days/{date}/video", include_in_schema=False, response_model=None)
@router.get(
    "/{camera_id}/days/{date}/video",
    response_model=None,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "The day's MP4 (Range requests give 206)"},
        202: {"model": DayVideoOut, "description": "Being assembled: poll again after Retry-After"},
        206: {"description": "Partial content"},
        **_errors,
    },
)
def day_video(camera_id: CameraId, date: Day, state: State) -> FileResponse | JSONResponse:
    """The whole day as one MP4 (H.264, faststart, Range), or 202 while it is assembled."""
    day = _day(date)
    start, end = day_bounds(day, state.settings.tz)
    now = utcnow()
    with state.factory() as db:
        if not camera_known(db, camera_id):
            raise _unknown_camera()
        count, newest = store.footage_started_in(db, camera_id, start, end)
        row = store.day_video(db, camera_id, day.isoformat())
        keep_days = retention_overrides.effective(state.settings, db).retention_days  # as changed at run time
    if not count:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no recordings on that day")
    done = row is not None and row.status == "done"
    found = regular_file_under(state.settings.data_dir, "days", row.path) if done and row is not None else None
    if (found is not None and row is not None and is_current(
            row.covers_until, Footage(count, newest), day_end=end, now=now, tolerance_s=TODAY_TOLERANCE_S,
            segments=row.segments)):
        path, st = found
        headers = {"Cache-Control": "private, no-cache", "X-Vigil-Day-Start": start.astimezone(state.settings.tz)
                   .isoformat()}
        if row.covers_until is not None:
            headers["X-Vigil-Covers-Until"] = row.covers_until.astimezone(state.settings.tz).isoformat()
        return FileResponse(path, media_type="video/mp4", stat_result=st, headers=headers,
                            content_disposition_type="inline")
    if end < now - timedelta(days=keep_days):
        # Retention removes day videos of days this old: building one would only be deleted
        # again. What footage is left (e.g. kept for motion) can still be exported.
        raise HTTPException(status.HTTP_410_GONE,
                            f"day videos are kept {keep_days:g} days (the retention setting); "
                            "export the footage instead")
    out = ensure_assembly(state, camera_id, day.isoformat(), row, now)
    retry = FAILED_RETRY_S if out.status == "failed" else RETRY_AFTER_S
    return JSONResponse(out.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED,
                        headers={"Retry-After": str(int(retry))})
