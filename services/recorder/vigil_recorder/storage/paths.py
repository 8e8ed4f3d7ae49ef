"""Crash-safe segment files.

A segment is written under a temporary name in its final directory, flushed and fsynced,
renamed into place with ``os.replace`` (atomic on POSIX), and the directory is fsynced: a
reader, or a restart after ``kill -9``, sees either no file or the complete file. Only then
is it indexed. Paths are built from a validated camera id and integers only.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from vigil_common.contract import recorder_jobs
from vigil_common.contract.ids import require_camera_id

log = logging.getLogger(__name__)

RECORDINGS = "recordings"
PARTIAL_SUFFIX = ".partial"


def segment_relpath(camera_id: str, start_ms: int, tz: ZoneInfo, part: int = 0) -> PurePosixPath:
    """``recordings/{cam}/{YYYY-MM-DD}/{cam}_{YYYYmmddTHHMMSS}Z_{start_ms}.mp4``, relative to
    the data directory; part ``k`` > 0 of a window that had to be split (a codec or resolution
    change, :mod:`vigil_recorder.segment.runs`) ends ``_{start_ms}_p{k}.mp4``.

    The day folder is the window start's date in the server time zone (the API's days); the
    timestamp in the name is UTC, unambiguous across DST changes; ``start_ms`` (the window
    start) makes the name unique per camera and deterministic, so a retried job finds or
    overwrites the same file.
    """
    cam = require_camera_id(camera_id)
    if not isinstance(start_ms, int) or isinstance(start_ms, bool) or start_ms < 0:
        raise ValueError(f"invalid start_ms {start_ms!r}")
    when = datetime.fromtimestamp(start_ms / 1000, UTC)
    day = when.astimezone(tz).strftime("%Y-%m-%d")
    if not isinstance(part, int) or isinstance(part, bool) or part < 0:
        raise ValueError(f"invalid part {part!r}")
    suffix = f"_p{part}" if part else ""
    name = f"{cam}_{when.strftime('%Y%m%dT%H%M%S')}Z_{start_ms}{suffix}.mp4"
    return PurePosixPath(RECORDINGS, cam, day, name)


def partial_path(final: Path) -> Path:
    """A hidden temporary name next to ``final``, unique per writer (two workers that run the
    same job at once never share one)."""
    return final.with_name(f".{final.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Persist a directory's entries (a rename is durable only once its directory is)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """Create ``path`` and parents; fsync each directory this call created, and its parent."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        fsync_dir(created.parent)
    if missing:
        fsync_dir(path)


def commit(tmp: Path, final: Path) -> None:
    """fsync ``tmp``, rename it over ``final`` and fsync the directory."""
    fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def discard(tmp: Path) -> None:
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove %s: %s", tmp, exc)


def sweep_dir(directory: Path, older_than_s: float, now: float | None = None) -> int:
    """Remove the temporary files killed writers left in ``directory`` that are older than
    ``older_than_s`` (choose it well above the job timeout so a running writer's file is never
    touched). Returns how many went."""
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(PARTIAL_SUFFIX)):
            continue
        try:
            if now - entry.stat().st_mtime > older_than_s:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def sweep_partials(recordings_dir: Path, older_than_s: float, now: float | None = None) -> int:
    """:func:`sweep_dir` over each camera's two newest day folders. Returns how many went."""
    now = time.time() if now is None else now
    removed = 0
    try:
        cameras = [d for d in recordings_dir.iterdir() if d.is_dir()]
    except FileNotFoundError:
        return 0
    for cam_dir in cameras:
        days = sorted((d for d in cam_dir.iterdir() if d.is_dir()), reverse=True)[:2]
        for day in days:
            removed += sweep_dir(day, older_than_s, now)
    if removed:
        log.info("removed %d stale partial segment files", removed)
    return removed


def sweep_slow_partials(directory: Path) -> int:
    """Temporary files killed day-video or export jobs left in ``directory`` (older than any
    such job can run, so a running writer's file is never touched). Returns how many went."""
    removed = sweep_dir(directory, recorder_jobs.SLOW_PARTIAL_STALE_S)
    if removed:
        log.info("removed %d stale partial files in %s", removed, directory)
    return removed
