"""Serving files named by index rows: the path comes from the row, never from the request, and
resolves inside its folder (:mod:`vigil_common.contract.paths`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import HTTPException, status
from fastapi.responses import FileResponse

from vigil_common.contract.paths import regular_file_under


def row_file(data_dir: Path, folder: str, relative: str | None, *, media_type: str, cache_control: str,
             missing: str, filename: str | None = None, disposition: str = "inline") -> FileResponse:
    """The file an index row names, served (Range, 206/416); 404 ``missing`` if it is not a
    regular file inside ``data_dir/folder``."""
    found = regular_file_under(data_dir, folder, relative)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, missing)
    path, st = found
    return FileResponse(path, media_type=media_type, stat_result=st, filename=filename,
                        headers={"Cache-Control": cache_control}, content_disposition_type=disposition)


SNAPSHOTS_DIR = "snapshots"  # the recorder's periodic stills, under the data dir


def jpeg_file(data_dir: Path, subdir: str, relative: str | None, cache_control: str) -> FileResponse:
    """A JPEG from the index path (404 if it is missing or outside ``subdir``)."""
    return row_file(data_dir, subdir, relative, media_type="image/jpeg", cache_control=cache_control,
                    missing="image file missing")
