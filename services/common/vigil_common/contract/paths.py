"""Paths named by index rows, resolved safely: one rule for every service that reads, serves
or deletes a file under the data directory (the API's downloads, the recorder's remux inputs,
retention's and reconciliation's deletions).

A row's path is relative to the data directory. It is used only if it is a plain relative
path (not absolute, no ``..``, no NUL) and stays inside the data directory (or the folder
given) once every symlink on the way is resolved; a row, or a symlinked directory, must never
make a service read, serve or unlink anything else.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

# The detector's object close-ups, under the data directory (``object_events.closeup_path``).
CLOSEUPS_DIR = "closeups"


def resolve_under(data_dir: Path, rel: str | None, folder: str | None = None) -> Path | None:
    """``data_dir / rel`` if it is safe (see the module), else None. Returned unresolved: the
    directories on the way are checked, and unlinking it removes the entry itself, never what a
    symlink at the end points at."""
    if not rel or "\x00" in rel:
        return None
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        return None
    root = (data_dir / folder if folder else data_dir).resolve()
    path = data_dir.joinpath(*pure.parts)
    if not path.parent.resolve().is_relative_to(root):
        return None
    return path


def real_path_under(data_dir: Path, rel: str | None, folder: str) -> Path | None:
    """The real path (every symlink resolved) a row names, if it lies inside
    ``data_dir/folder`` and is not the folder itself; else None. For reading a file."""
    plain = resolve_under(data_dir, rel, folder)
    if plain is None:
        return None
    root = (data_dir / folder).resolve()
    real = plain.resolve()
    return real if real != root and real.is_relative_to(root) else None


def regular_file_under(data_dir: Path, folder: str, rel: str | None) -> tuple[Path, os.stat_result] | None:
    """The regular file a row names inside ``data_dir/folder`` (see :func:`real_path_under`)
    and its ``stat``, or None (missing, not a regular file, or outside). For serving a file."""
    real = real_path_under(data_dir, rel, folder)
    if real is None:
        return None
    try:
        st = os.stat(real)
    except OSError:
        return None
    return (real, st) if stat.S_ISREG(st.st_mode) else None
