"""Disk facts for retention and reconciliation: free space, safe paths, day directories.

Stored files live in ``{data}/{area}/{camera}/{YYYY-MM-DD}/`` (areas ``recordings`` and
``snapshots``); paths in the index are relative to the data directory and are only ever
resolved through :func:`vigil_common.contract.paths.resolve_under`, which refuses anything outside it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

from vigil_common.contract.ids import is_valid_camera_id
from vigil_common.contract.paths import real_path_under
from vigil_common.runtime.settings import Settings
from vigil_recorder.storage import paths as storage
from vigil_recorder.storage.paths import RECORDINGS

log = logging.getLogger(__name__)

# Free bytes available to the service at a path (tests inject a small "disk").
FreeBytes = Callable[[Path], int]

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def free_bytes(path: Path) -> int:
    """Bytes available to unprivileged writers on the file system holding ``path``."""
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def parse_day(name: str) -> date | None:
    if not _DAY_RE.match(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class DayDir:
    camera_id: str
    day: date
    path: Path

    @property
    def name(self) -> str:
        return self.day.isoformat()


def day_dirs(root: Path) -> Iterator[DayDir]:
    """Every ``{root}/{camera}/{YYYY-MM-DD}`` directory (other names are ignored)."""
    try:
        cams = [e for e in os.scandir(root) if e.is_dir(follow_symlinks=False) and is_valid_camera_id(e.name)]
    except FileNotFoundError:
        return
    for cam in sorted(cams, key=lambda e: e.name):
        try:
            days = [e for e in os.scandir(cam.path) if e.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            continue
        for entry in sorted(days, key=lambda e: e.name):
            day = parse_day(entry.name)
            if day is not None:
                yield DayDir(cam.name, day, Path(entry.path))


def is_partial(name: str) -> bool:
    return name.startswith(".") and name.endswith(storage.PARTIAL_SUFFIX)


@dataclass(slots=True)
class Listing:
    """One directory's regular files: sizes of complete files, partials with their mtimes."""

    exists: bool = True
    files: dict[str, int] = field(default_factory=dict)
    partials: dict[str, float] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(self.files.values())


def list_dir(path: Path) -> Listing:
    out = Listing()
    try:
        entries = list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return Listing(exists=False)
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if is_partial(entry.name):
            out.partials[entry.name] = st.st_mtime
        else:
            out.files[entry.name] = st.st_size
    return out


def dir_mtime_ns(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return None


def tree_bytes(path: Path) -> int:
    """Total size of the regular files below ``path`` (a plain walk)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                continue
    return total


def unlink(path: Path) -> bool:
    """Remove a file; True if it was there. Other errors are logged, not raised."""
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)
        return False


def sync_dirs(dirs: set[Path]) -> None:
    """fsync each directory (its removals become durable); vanished ones are skipped."""
    for d in dirs:
        try:
            storage.fsync_dir(d)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("could not fsync %s: %s", d, exc)


def prune_empty_day_dirs(dirs: set[Path], before: date) -> int:
    """Remove those of ``dirs`` that are day directories dated before ``before`` and empty.

    Recent day directories stay even when empty: a writer may be about to create its file
    there (it made the directory first). Camera directories are never removed.
    """
    removed = 0
    for d in sorted(dirs):
        day = parse_day(d.name)
        if day is None or day >= before:
            continue
        try:
            d.rmdir()
        except OSError:  # not empty, gone, or busy: leave it
            continue
        removed += 1
        sync_dirs({d.parent})
    return removed


def recording_path(data_dir: Path, rel: str | None) -> Path | None:
    """The recording an index row names (symlinks resolved), if it stays inside
    ``data_dir/recordings``; else None. Remux inputs come only through here."""
    return real_path_under(data_dir, rel, RECORDINGS)


class HasPath(Protocol):
    @property
    def path(self) -> Path: ...


class NoSpace(Exception):
    """An export or a day video would push the disk below ``VIGIL_MIN_FREE_BYTES``."""


def check_space_for(settings: Settings, pieces: Sequence[HasPath], free: Callable[[Path], int] = free_bytes) -> None:
    """Refuse a copy of footage (an export, a day video) that would leave less than the free-space
    floor. Copies never make room by deleting footage (recordings must not be eaten by clips); a
    copy needs at most its inputs' size."""
    floor = settings.min_free_bytes or 0
    needed = sum(p.path.stat().st_size for p in pieces if p.path.exists())
    available = free(settings.data_dir)
    if available - needed < floor:
        raise NoSpace(f"not enough disk space: this copy of footage needs up to {needed} bytes and would leave "
                      f"less than VIGIL_MIN_FREE_BYTES ({floor}) free")
