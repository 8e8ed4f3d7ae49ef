"""/api/v1/exports: clip exports (queued RQ jobs cutting a range across segments).

``POST`` validates the range, writes an ``exports`` row (``queued``) and enqueues
``vigil_recorder.exports.run_export`` (job id ``export-{id}``). The recorder remuxes the
segments overlapping the range (no re-encode: the clip starts at the keyframe at or before
``start``, so up to one GOP early) into ``{data}/exports/{id}.mp4``. Any signed-in user may
export and list; deleting takes the creator or an admin.

Exports must never cost footage (issue 12): they expire after ``VIGIL_EXPORT_RETENTION_DAYS``
(7), count toward the retention byte cap (the recorder's retention removes the oldest exports
before any footage), and one that would not fit under the cap, or would take the disk below its
free-space floor, is refused (507) with the reason. Each user may have
``VIGIL_EXPORT_MAX_ACTIVE_PER_USER`` in progress and ``VIGIL_EXPORT_MAX_BYTES_PER_USER`` in all
(admins: no byte quota); of the server's ``MAX_ACTIVE`` slots the last ``ADMIN_RESERVE`` are
the admins'.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated

import redis
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from fastapi.responses import FileResponse
from rq.job import JobStatus
from sqlalchemy.orm import Session

from vigil_api.auth import Principal
from vigil_api.deps import API_PREFIX, State, User, require_user
from vigil_api.files import row_file
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.exports import ExportIn, ExportOut, ExportPage
from vigil_api.store import exports as store
from vigil_api.store.cameras import camera_known
from vigil_api.timeparse import request_time
from vigil_common.contract import recorder_jobs, storage_figures
from vigil_common.contract.exports import EXPORT_ID_PATTERN, download_name, export_relpath, new_export_id
from vigil_common.contract.ids import CAMERA_ID_PATTERN
from vigil_common.contract.paths import resolve_under
from vigil_common.contract.sizes import format_size
from vigil_common.contract.storage_figures import StorageFigures
from vigil_common.db import retention_settings as retention_overrides
from vigil_common.db.models import Export, utcnow
from vigil_common.runtime.settings import Settings

router = APIRouter(prefix=f"{API_PREFIX}/exports", tags=["exports"], dependencies=[Depends(require_user)])

MAX_ACTIVE = 8  # queued + running exports at once (each is a recorder job)
ADMIN_RESERVE = 1  # of those, kept for admins
MAX_LIMIT = 500
# A queued/running export whose RQ job is gone (a worker killed hard, Redis flushed) is
# reported failed, once it is older than this (a job is enqueued right after its row).
LOST_AFTER = timedelta(seconds=30)
LOST = frozenset({JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED})

ExportId = Annotated[str, Path(pattern=EXPORT_ID_PATTERN, min_length=32, max_length=32,
                               description="32 lowercase hex digits")]


def _out(row: Export, state: State) -> ExportOut:
    return ExportOut(
        id=row.id,
        camera_id=row.camera_id,
        start=row.start,
        end=row.end,
        status=row.status,
        progress=min(1.0, max(0.0, row.progress)),
        bytes=row.bytes,
        error=row.error,
        created_at=row.created_at,
        finished_at=row.finished_at,
        url=f"{API_PREFIX}/exports/{row.id}/video" if row.status == "done" else None,
        filename=download_name(row.camera_id, row.start, row.end, state.settings.tz),
    )


def _notice_lost(rows: list[Export], state: State) -> None:
    """Mark failed the unfinished exports whose job is gone (so they never spin forever)."""
    now = utcnow()
    pending = [r for r in rows if r.status in ("queued", "running") and now - r.created_at > LOST_AFTER]
    if not pending:
        return
    for row in pending:
        st = recorder_jobs.status(state.sync_redis, recorder_jobs.export_job_id(row.id))
        if st is None or st in LOST:
            error = "the export job was lost (recorder stopped?); delete it and export again"
            with state.writes.begin() as db:
                store.mark_failed_if_unfinished(db, row.id, error, now)
            row.status, row.error, row.finished_at = "failed", error, now


_errors: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "Not authenticated"},
    404: {"model": ErrorOut, "description": "Unknown camera or export"},
    422: {"model": ErrorOut, "description": "Invalid input (with the reason)"},
}


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=ExportOut,
             responses={**_errors, 429: {"model": ErrorOut, "description": "Too many exports in progress"},
                        507: {"model": ErrorOut, "description": "It would not fit: a quota, the cap or the floor"}})
def create_export(body: ExportIn, principal: User, state: State, response: Response) -> ExportOut:
    """Queue an export of ``[start, end)`` of one camera; poll ``GET /exports/{id}``."""
    start = request_time("start", body.start, state.settings.tz, where="body field")
    end = request_time("end", body.end, state.settings.tz, where="body field")
    if end <= start:
        raise HTTPException(422, "'end' must be after 'start'")
    limit = state.settings.export_max_seconds
    if (end - start).total_seconds() > limit:
        raise HTTPException(422, f"the range is longer than the maximum of {limit} seconds")
    cam = body.camera_id
    with state.factory() as db:
        if not camera_known(db, cam):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown camera")
        footage, estimate = store.footage_in_range(db, cam, start, end)
        if not footage:
            raise HTTPException(422, "no recordings in that range")
        limits = retention_overrides.effective(state.settings, db)
    # (a remux copies the packets: the export is about the footage's own size)
    row = Export(id=new_export_id(), camera_id=cam, start=start, end=end, status="queued", progress=0.0,
                 created_by=principal.user_id, created_at=utcnow())
    storage = _storage_figures(state)  # (Redis, outside the write transaction)
    with state.writes.begin() as db:  # IMMEDIATE on SQLite: the quota checks and the insert are one
        _check_quotas(db, state, principal, limits, storage, estimate)
        db.add(row)
    try:
        recorder_jobs.enqueue_export(state.sync_redis, row.id, cam)
    except Exception:
        with state.writes.begin() as db:
            store.delete_export_row(db, row.id)
        raise
    response.headers["Location"] = f"{API_PREFIX}/exports/{row.id}"
    return _out(row, state)


def _check_quotas(db: Session, state: State, principal: Principal, limits: Settings, storage: StorageFigures,
                  estimate: int) -> None:
    """Refuse (429 / 507, with the reason) an export the caller or the disk cannot afford."""
    store.lock_user(db, principal.user_id)
    my_active = store.in_progress_count(db, principal.user_id)
    if my_active >= state.settings.export_max_active_per_user:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"you have {my_active} exports in progress (the limit per user); wait for them",
                            headers={"Retry-After": "30"})
    active = store.in_progress_count(db)
    slots = MAX_ACTIVE if principal.is_admin else MAX_ACTIVE - ADMIN_RESERVE
    if active >= slots:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many exports in progress; try again later",
                            headers={"Retry-After": "30"})
    quota = state.settings.export_max_bytes_per_user
    if quota is not None and not principal.is_admin:
        held = store.bytes_held(db, principal.user_id)
        if held + estimate > quota:
            raise HTTPException(status.HTTP_507_INSUFFICIENT_STORAGE,
                                f"your exports would take {format_size(held + estimate)}, over your quota of "
                                f"{format_size(quota)}: delete some of them first")
    # (Exports still in progress are not in the published total: if several land at once over the
    # cap, the recorder's retention removes the oldest exports, never footage.)
    if limits.retention_max_bytes is not None and storage.total is not None:
        if storage.total + estimate > limits.retention_max_bytes:
            raise HTTPException(status.HTTP_507_INSUFFICIENT_STORAGE,
                                f"an export of about {format_size(estimate)} does not fit under the storage cap of "
                                f"{format_size(limits.retention_max_bytes)} without pushing recordings out")
    floor = limits.min_free_bytes or 0
    if storage.free is not None and storage.free - estimate < floor:
        raise HTTPException(status.HTTP_507_INSUFFICIENT_STORAGE,
                            f"an export of about {format_size(estimate)} would take the disk below its free-space "
                            f"floor ({format_size(floor)} free kept) and push recordings out")


def _storage_figures(state: State) -> StorageFigures:
    """The recorder's published figures; unknown when Redis does not answer."""
    try:
        return storage_figures.read(state.sync_redis, time.time())
    except redis.RedisError:
        return StorageFigures()


@router.get("", response_model=ExportPage, responses=_errors)
def list_exports(
    state: State,
    camera_id: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN, max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ExportPage:
    """Exports, newest first."""
    with state.factory() as db:
        rows, total = store.export_page(db, camera_id, limit, offset)
    _notice_lost(rows, state)
    return ExportPage(items=[_out(r, state) for r in rows], total=total, limit=limit, offset=offset)


def _get(export_id: str, state: State) -> Export:
    with state.factory() as db:
        row = store.export_row(db, export_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such export")
    return row


@router.get("/{export_id}", response_model=ExportOut, responses=_errors)
def get_export(export_id: ExportId, state: State) -> ExportOut:
    """One export: status (queued|running|done|failed), progress 0..1, bytes, error, url."""
    row = _get(export_id, state)
    _notice_lost([row], state)
    return _out(row, state)


@router.head("/{export_id}/video", include_in_schema=False, response_class=FileResponse)
@router.get(
    "/{export_id}/video",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "The clip, as an attachment (Range gives 206)"},
        206: {"description": "Partial content"},
        409: {"model": ErrorOut, "description": "Not done yet"},
        **_errors,
    },
)
def export_video(export_id: ExportId, state: State) -> FileResponse:
    """The exported MP4 (``Content-Disposition: attachment``), with Range support."""
    row = _get(export_id, state)
    if row.status != "done":
        raise HTTPException(status.HTTP_409_CONFLICT, f"export is {row.status}, not done")
    return row_file(state.settings.data_dir, "exports", row.path, media_type="video/mp4",
                    cache_control="private, max-age=3600", missing="export file missing",
                    filename=download_name(row.camera_id, row.start, row.end, state.settings.tz),
                    disposition="attachment")


@router.delete("/{export_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses={**_errors, 403: {"model": ErrorOut, "description": "Not yours (and not an admin)"}})
def delete_export(export_id: ExportId, principal: User, state: State) -> Response:
    """Delete an export: its row, its file, and its job if still queued."""
    row = _get(export_id, state)
    if not principal.is_admin and row.created_by != principal.user_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only its creator or an admin may delete an export")
    with state.writes.begin() as db:
        store.delete_export_row(db, export_id)
    # A copy for someone to download, not footage: removed here (the recorder owns footage).
    target = resolve_under(state.settings.data_dir, row.path or export_relpath(export_id).as_posix(), "exports")
    if target is not None:
        target.unlink(missing_ok=True)
    recorder_jobs.cancel_if_queued(state.sync_redis, recorder_jobs.export_job_id(export_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
