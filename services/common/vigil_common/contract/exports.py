"""The export contract shared by the API (which creates and serves exports) and the recorder
(which writes them and whose retention deletes them): ids, where the file lives, and the name
a download is given."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, tzinfo
from pathlib import PurePosixPath

EXPORT_ID_PATTERN = r"^[0-9a-f]{32}$"  # 128 random bits
_EXPORT_ID_RE = re.compile(EXPORT_ID_PATTERN)
EXPORTS = "exports"
_UNSAFE = re.compile(r"[^a-z0-9_-]")


def new_export_id() -> str:
    """128 random bits as 32 lowercase hex digits."""
    return secrets.token_hex(16)


def require_export_id(value: object) -> str:
    """``value`` if it is a well-formed export id (checked before any use in a path or key)."""
    if not isinstance(value, str) or not _EXPORT_ID_RE.fullmatch(value):  # fullmatch: no trailing newline
        raise ValueError("invalid export id")
    return value


def export_relpath(export_id: str) -> PurePosixPath:
    """``exports/{id}.mp4``, relative to the data directory."""
    return PurePosixPath(EXPORTS, f"{require_export_id(export_id)}.mp4")


def download_name(camera_id: str, start: datetime, end: datetime, tz: tzinfo) -> str:
    """``{camera}_{YYYYmmdd-HHMMSS}_{YYYYmmdd-HHMMSS}.mp4`` in the server's zone. Only
    ``[a-z0-9_-]`` and digits (anything else in the camera id becomes ``_``), so it is safe in
    a Content-Disposition header and on any disk."""
    fmt = "%Y%m%d-%H%M%S"
    return f"{_UNSAFE.sub('_', camera_id)}_{start.astimezone(tz).strftime(fmt)}_{end.astimezone(tz).strftime(fmt)}.mp4"
