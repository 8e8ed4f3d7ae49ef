"""The retention settings in force (configured, and as changed through the API) and the disk."""

from __future__ import annotations

import shutil
from pathlib import Path

from vigil_api.deps import State
from vigil_api.schemas.storage import DiskOut, RetentionOut, RetentionValues
from vigil_common.db import retention_settings as ro
from vigil_common.db.app_settings import get_settings
from vigil_common.runtime.settings import Settings


def disk_usage(data_dir: Path) -> DiskOut | None:
    """The file system holding ``data_dir`` (or its nearest existing parent); None if unreadable."""
    path = data_dir
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return DiskOut(total=usage.total, used=usage.used, free=usage.free)


def retention_values(s: Settings) -> RetentionValues:
    return RetentionValues(days=s.retention_days, max_bytes=s.retention_max_bytes, min_free_bytes=s.min_free_bytes)


def read_retention(state: State) -> RetentionOut:
    with state.factory() as db:
        stored = get_settings(db, ro.PREFIX)
    effective = ro.apply(state.settings, stored)
    overridden = sorted(k for k, v in stored.items() if k in ro.FIELDS and ro.valid_value(k, v))
    return RetentionOut(**retention_values(effective).model_dump(), configured=retention_values(state.settings),
                        overridden=overridden)
