"""/api/v1/cameras/{id}/snapshots: the periodic stills the recorder takes (listing and files).

Files are served by id: the path comes from the index only and must resolve (symlinks too)
inside ``{data}/snapshots``; nothing a client sends becomes part of a file path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import FileResponse

from vigil_api.deps import API_PREFIX, CameraId, State, require_user
from vigil_api.files import SNAPSHOTS_DIR, jpeg_file
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.recordings import NAIVE, SnapshotOut, SnapshotPage
from vigil_api.store.cameras import camera_has_snapshots_or_row
from vigil_api.store.footage import snapshot_page, snapshot_path
from vigil_api.timeparse import time_range

router = APIRouter(prefix=f"{API_PREFIX}/cameras", tags=["snapshots"], dependencies=[Depends(require_user)])

MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000
INT64_MAX = 2**63 - 1
# A snapshot file never changes once indexed.
SNAPSHOT_CACHE = "private, max-age=86400, immutable"


_errors: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not authenticated"},
    404: {"model": ErrorOut, "description": "Unknown camera or snapshot"},
    422: {"model": ErrorOut, "description": "Invalid id or query"},
}


def snapshot_url(camera_id: str, snapshot_id: int) -> str:
    return f"{API_PREFIX}/cameras/{camera_id}/snapshots/{snapshot_id}.jpg"


@router.get("/{camera_id}/snapshots", response_model=SnapshotPage, responses=_errors)
def list_snapshots(
    camera_id: CameraId,
    state: State,
    start: Annotated[str | None, Query(max_length=64, description=f"ISO 8601, inclusive. {NAIVE}")] = None,
    end: Annotated[str | None, Query(max_length=64, description=f"ISO 8601, exclusive. {NAIVE}")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    order: Annotated[Literal["asc", "desc"], Query(description="by time")] = "asc",
) -> SnapshotPage:
    """The camera's snapshots taken in ``[start, end)``, oldest first unless ``order=desc``."""
    t0, t1 = time_range(state.settings.tz, start, end)
    with state.factory() as db:
        if not camera_has_snapshots_or_row(db, camera_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown camera")
        rows, total, exact = snapshot_page(db, camera_id, t0, t1, order, limit, offset)
    items = [
        SnapshotOut(id=r.id, time=r.time, url=snapshot_url(camera_id, r.id), width=r.width, height=r.height,
                    bytes=r.bytes)
        for r in rows
    ]
    return SnapshotPage(items=items, total=total, total_exact=exact, limit=limit, offset=offset)


@router.head("/{camera_id}/snapshots/{snapshot_id}.jpg", include_in_schema=False, response_class=FileResponse)
@router.get(
    "/{camera_id}/snapshots/{snapshot_id}.jpg",
    response_class=FileResponse,
    responses={**_errors, 200: {"content": {"image/jpeg": {}}, "description": "The snapshot"}},
)
def snapshot_image(
    camera_id: CameraId, snapshot_id: Annotated[int, Path(ge=1, le=INT64_MAX)], state: State
) -> FileResponse:
    """One snapshot's JPEG."""
    with state.factory() as db:
        relative = snapshot_path(db, camera_id, snapshot_id)
    if relative is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such snapshot")
    return jpeg_file(state.settings.data_dir, SNAPSHOTS_DIR, relative, SNAPSHOT_CACHE)
