"""/api/v1/events: motion and object events (filtered, paged), motion thumbnails and object
close-ups."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import FileResponse

from vigil_api.deps import API_PREFIX, State, require_user
from vigil_api.files import jpeg_file
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.recordings import EventOut, EventPage
from vigil_api.store.footage import closeup as closeup_row
from vigil_api.store.footage import event_page
from vigil_api.store.footage import event_thumbnail as event_thumbnail_row
from vigil_api.store.footage import face as face_row
from vigil_api.timeparse import time_range
from vigil_common.contract.ids import CAMERA_ID_PATTERN
from vigil_common.contract.object_zones import LABEL_PATTERN
from vigil_common.contract.paths import CLOSEUPS_DIR
from vigil_common.contract.urls import closeup_url, face_url, thumbnail_url

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
    kind: Annotated[Literal["motion", "object"] | None, Query(description="default: both")] = None,
    label: Annotated[str | None, Query(pattern=LABEL_PATTERN, max_length=32,
                                       description="object events of this label only (person, car, ...)")] = None,
) -> EventPage:
    """Motion and object events overlapping ``[start, end)`` (ongoing ones included), newest first."""
    if kind == "motion" and label is not None:
        raise HTTPException(422, "label filters object events, not motion")
    t0, t1 = time_range(state.settings.tz, start, end)
    with state.factory() as db:
        rows, total, exact = event_page(db, camera_id, t0, t1, order, limit, offset, kind, label)
    items = []
    for r in rows:
        if r.kind == "object":
            image = closeup_url(r.id) if r.image else None
            items.append(EventOut(id=r.id, camera_id=r.camera_id, kind="object", label=r.label, start=r.start,
                                  end=r.end, ongoing=r.end is None, score=r.score, thumbnail_url=image,
                                  closeup_url=image, face_url=face_url(r.id) if r.face else None))
        else:
            items.append(EventOut(id=r.id, camera_id=r.camera_id, kind="motion", start=r.start, end=r.end,
                                  ongoing=r.end is None, score=r.score,
                                  thumbnail_url=thumbnail_url(r.id) if r.image else None))
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
    return _image(state, row, THUMBNAILS_DIR, "event", "thumbnail")


@router.head("/objects/{event_id}/closeup.jpg", include_in_schema=False, response_class=FileResponse)
@router.get(
    "/objects/{event_id}/closeup.jpg",
    response_class=FileResponse,
    responses={
        **_errors,
        200: {"content": {"image/jpeg": {}}, "description": "The object's close-up"},
        404: {"model": ErrorOut, "description": "Unknown object event, or no close-up"},
    },
)
def object_closeup(event_id: Annotated[int, Path(ge=1, le=INT64_MAX)], state: State) -> FileResponse:
    """The best-scoring crop of the object at full resolution (a better one may replace it while
    the event goes on)."""
    with state.factory() as db:
        row = closeup_row(db, event_id)
    return _image(state, row, CLOSEUPS_DIR, "object event", "close-up")


@router.head("/objects/{event_id}/face.jpg", include_in_schema=False, response_class=FileResponse)
@router.get(
    "/objects/{event_id}/face.jpg",
    response_class=FileResponse,
    responses={
        **_errors,
        200: {"content": {"image/jpeg": {}}, "description": "The person's face close-up"},
        404: {"model": ErrorOut, "description": "Unknown object event, or no face"},
    },
)
def object_face(event_id: Annotated[int, Path(ge=1, le=INT64_MAX)], state: State) -> FileResponse:
    """The best face seen on a person (cameras with ``detect_faces``; a better one may replace it
    while the event goes on)."""
    with state.factory() as db:
        row = face_row(db, event_id)
    return _image(state, row, CLOSEUPS_DIR, "object event", "face")


def _image(state: State, row: Any, folder: str, kind: str, image: str) -> FileResponse:
    """An event's image: ``row`` is (path, end) or None; an ongoing event's image may change."""
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no such {kind}")
    path, end = row
    if not path:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"this {kind} has no {image}")
    return jpeg_file(state.settings.data_dir, folder, path, CACHE_ONGOING if end is None else CACHE_ENDED)
