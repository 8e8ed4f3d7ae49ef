"""Serving files named by index rows: the path comes from the row, never from the request."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def resolve_under(data_dir: Path, folder: str, relative: str | None) -> tuple[Path, os.stat_result] | None:
    """The regular file a row names, if it lies inside ``data_dir/folder`` once every symlink
    is resolved; else None (missing, not a file, or outside)."""
    if not relative or "\x00" in relative:
        return None
    root = (data_dir / folder).resolve()
    candidate = (data_dir / relative).resolve()
    if candidate == root or not candidate.is_relative_to(root):
        return None
    try:
        st = os.stat(candidate)
    except OSError:
        return None
    return (candidate, st) if stat.S_ISREG(st.st_mode) else None
