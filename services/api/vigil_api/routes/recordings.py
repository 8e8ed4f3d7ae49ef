"""/api/v1/recordings: the segment index (filtered, paged) and the segment files (Range)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import FileResponse

from vigil_api.deps import API_PREFIX, State, require_user
from vigil_api.files import row_file
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.recordings import RecordingOut, RecordingPage
from vigil_api.store.recordings import RecordingFilter, recording_page, recording_path
from vigil_api.timeparse import time_range
from vigil_common.contract.ids import CAMERA_ID_PATTERN
from vigil_common.contract.messages import PRINTABLE
from vigil_common.contract.object_zones import LABEL_PATTERN

_T = TypeVar("_T", bound=tuple[Any, ...])

router = APIRouter(prefix=f"{API_PREFIX}/recordings", tags=["recordings"], dependencies=[Depends(require_user)])

MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000
MAX_DURATION_S = 7 * 24 * 3600.0
INT64_MAX = 2**63 - 1


def video_url(segment_id: int) -> str:
    return f"{API_PREFIX}/recordings/{segment_id}/video"


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
    label: Annotated[str | None, Query(pattern=LABEL_PATTERN, max_length=32,
                                       description="only segments during an object event of this label "
                                                   "(person, car, ...)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    order: Annotated[Literal["asc", "desc"], Query(description="by start time")] = "desc",
) -> RecordingPage:
    """Segments overlapping ``[start, end)``, optionally of one camera or location, or recorded while
    the camera saw an object of ``label`` ("has a person"), paged."""
    t0, t1 = time_range(state.settings.tz, start, end)
    if min_duration is not None and max_duration is not None and min_duration > max_duration:
        raise HTTPException(422, "query parameter 'min_duration' must not exceed 'max_duration'")
    filters = RecordingFilter(camera_id, t0, t1, min_duration, max_duration, location, label)
    with state.factory() as db:
        rows, total, exact = recording_page(db, filters, order, limit, offset)
    items = [RecordingOut(**r._asdict(), url=video_url(r.id)) for r in rows]
    return RecordingPage(items=items, total=total, total_exact=exact, limit=limit, offset=offset)


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
        relative = recording_path(db, recording_id)
    if relative is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such recording")
    return row_file(state.settings.data_dir, "recordings", relative, media_type="video/mp4",
                    cache_control="private, max-age=3600", missing="recording file missing")
