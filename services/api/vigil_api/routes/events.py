"""/api/v1/events: motion events (filtered, paged) and their thumbnails."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import FileResponse

from vigil_api.deps import API_PREFIX, State, require_user
from vigil_api.files import jpeg_file
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.recordings import EventOut, EventPage
from vigil_api.store.footage import event_page
from vigil_api.store.footage import event_thumbnail as event_thumbnail_row
from vigil_api.timeparse import time_range
from vigil_common.contract.ids import CAMERA_ID_PATTERN

router = APIRouter(prefix=f"{API_PREFIX}/events", tags=["events"], dependencies=[Depends(require_user)])

MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000
INT64_MAX = 2**63 - 1
THUMBNAILS_DIR = "thumbnails"
# An ongoing event's thumbnail is replaced by its peak frame when it ends.
CACHE_ONGOING = "private, no-cache"
CACHE_ENDED = "private, max-age=86400"


_errors: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not authenticated"},
    422: {"model": ErrorOut, "description": "Invalid query"},
}


def thumbnail_url(event_id: int) -> str:
    return f"{API_PREFIX}/events/{event_id}/thumbnail.jpg"


@router.get("", response_model=EventPage, responses=_errors)
def list_events(
    state: State,
    camera_id: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN, max_length=32)] = None,
    start: Annotated[
        str | None, Query(max_length=64, description="ISO 8601; events ending after it. No offset: server zone.")
    ] = None,
    end: Annotated[
        str | None, Query(max_length=64, description="ISO 8601; events starting before it. No offset: server zone.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    order: Annotated[Literal["asc", "desc"], Query(description="by start time")] = "desc",
) -> EventPage:
    """Motion events overlapping ``[start, end)`` (ongoing ones included), newest first."""
    t0, t1 = time_range(state.settings.tz, start, end)
    with state.factory() as db:
        rows, total, exact = event_page(db, camera_id, t0, t1, order, limit, offset)
    items = [
        EventOut(
            id=r.id,
            camera_id=r.camera_id,
            start=r.start,
            end=r.end,
            ongoing=r.end is None,
            score=r.score,
            thumbnail_url=thumbnail_url(r.id) if r.thumbnail_path else None,
        )
        for r in rows
    ]
    return EventPage(items=items, total=total, total_exact=exact, limit=limit, offset=offset)


@router.head("/{event_id}/thumbnail.jpg", include_in_schema=False, response_class=FileResponse)
@router.get(
    "/{event_id}/thumbnail.jpg",
    response_class=FileResponse,
    responses={
        **_errors,
        200: {"content": {"image/jpeg": {}}, "description": "The event's thumbnail"},
        404: {"model": ErrorOut, "description": "Unknown event, or no thumbnail"},
    },
)
def event_thumbnail(event_id: Annotated[int, Path(ge=1, le=INT64_MAX)], state: State) -> FileResponse:
    """The frame of the event's peak (its first frame while it goes on), small."""
    with state.factory() as db:
        row = event_thumbnail_row(db, event_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such event")
    if not row.thumbnail_path:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this event has no thumbnail")
    cache = CACHE_ONGOING if row.end is None else CACHE_ENDED
    return jpeg_file(state.settings.data_dir, THUMBNAILS_DIR, row.thumbnail_path, cache)
