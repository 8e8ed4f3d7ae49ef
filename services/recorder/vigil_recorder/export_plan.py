"""Pure decisions of an export: ids, file names, and which segments a range takes.

An export of ``[start, end)`` takes every segment overlapping the range, in time order, each
cut to the range (see :func:`vigil_recorder.remux_plan.cut_indices`: the first piece starts
at the keyframe at or before ``start``, the last stops after the last frame shown before
``end``; no re-encode, so the edges are accurate to one GOP, ~2 s).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path, PurePosixPath

from vigil_common.ids import require_camera_id
from vigil_recorder.disk import recording_path
from vigil_recorder.remux import Piece

EXPORT_ID_PATTERN = r"^[0-9a-f]{32}$"
_EXPORT_ID_RE = re.compile(EXPORT_ID_PATTERN)
EXPORTS = "exports"


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
    """A safe file name for the clip: ``{camera}_{YYYYmmdd-HHMMSS}_{YYYYmmdd-HHMMSS}.mp4`` in
    the server's zone (camera ids are ``[a-z0-9_-]``; the rest is digits)."""
    fmt = "%Y%m%d-%H%M%S"
    return f"{require_camera_id(camera_id)}_{start.astimezone(tz).strftime(fmt)}_{end.astimezone(tz).strftime(fmt)}.mp4"


@dataclass(frozen=True, slots=True)
class Span:
    """A segment's place in time and its file (relative to the data directory)."""

    start_ns: int
    end_ns: int
    path: str


def plan_pieces(segments: Sequence[Span], start_ns: int, end_ns: int, data_dir: Path) -> list[Piece]:
    """The pieces of an export of ``[start_ns, end_ns)``: segments overlapping it, by start,
    each cut to the range."""
    if end_ns <= start_ns:
        raise ValueError("the range is empty")
    chosen = sorted((s for s in segments if s.start_ns < end_ns and s.end_ns > start_ns), key=lambda s: s.start_ns)
    return [Piece(path, s.start_ns, cut_start_ns=start_ns, cut_end_ns=end_ns) for s in chosen
            if (path := recording_path(data_dir, s.path)) is not None]
