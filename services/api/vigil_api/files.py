"""Serving files named by index rows: the path comes from the row, never from the request, and
resolves inside its folder (:mod:`vigil_common.contract.paths`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import HTTPException, status
from fastapi.responses import FileResponse

from vigil_common.contract.paths import regular_file_under


def jpeg_file(data_dir: Path, subdir: str, relative: str | None, cache_control: str) -> FileResponse:
    """A JPEG from the index path (404 if it is missing or outside ``subdir``)."""
    found = regular_file_under(data_dir, subdir, relative)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "image file missing")
    path, st = found
    return FileResponse(
        path,
        media_type="image/jpeg",
        stat_result=st,
        headers={"Cache-Control": cache_control},
        content_disposition_type="inline",
    )
