"""/api/v1/settings/retention: runtime retention settings (stored in ``app_settings`` under
``retention.*``; the recorder's retention pass reads them every pass, falling back to
``VIGIL_RETENTION_DAYS`` / ``VIGIL_RETENTION_MAX_BYTES`` / ``VIGIL_MIN_FREE_BYTES``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException

from vigil_api.deps import API_PREFIX, Admin, State, require_user
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.storage import DiskOut, RetentionIn, RetentionOut
from vigil_api.store.retention import disk_usage, read_retention
from vigil_common.db import retention_settings as ro
from vigil_common.db.app_settings import delete_setting, set_setting

router = APIRouter(prefix=f"{API_PREFIX}/settings", tags=["settings"], dependencies=[Depends(require_user)])


_errors: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not authenticated"},
    403: {"model": ErrorOut, "description": "Admin role required (changes)"},
    422: {"model": ErrorOut, "description": "Invalid value"},
}


@router.get("/retention", response_model=RetentionOut, responses=_errors)
def get_retention(state: State) -> RetentionOut:
    """The retention settings in force, what is configured, and which keys are overridden."""
    return read_retention(state)


@router.put("/retention", response_model=RetentionOut, responses=_errors)
def put_retention(body: RetentionIn, principal: Admin, state: State) -> RetentionOut:
    """Override some retention settings (admin); applied by the recorder's next pass."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise HTTPException(422, "give at least one of days, max_bytes, min_free_bytes")
    if "days" in changes and changes["days"] is None:
        raise HTTPException(422, "days cannot be null (DELETE /settings/retention/days restores the configured value)")
    if changes.get("max_bytes") == 0:
        raise HTTPException(422, "max_bytes 0 would delete all footage: give a positive cap, or null for no cap")
    floor = changes.get("min_free_bytes")
    if floor is not None:
        disk = disk_usage(state.settings.data_dir)
        if disk is not None and floor >= disk.total:
            raise HTTPException(422, f"min_free_bytes ({floor} bytes) must be below the size of the data disk "
                                     f"({disk.total} bytes, {_human(disk.total)}): no footage could ever be kept")
    with state.writes.begin() as db:
        for key, value in changes.items():
            set_setting(db, f"{ro.PREFIX}.{key}", value, by=principal.username)
    return read_retention(state)


@router.delete("/retention", response_model=RetentionOut, responses=_errors)
def reset_retention(principal: Admin, state: State) -> RetentionOut:
    """Forget every override: back to the VIGIL_ settings (admin)."""
    with state.writes.begin() as db:
        for key in ro.FIELDS:
            delete_setting(db, f"{ro.PREFIX}.{key}")
    return read_retention(state)


@router.delete("/retention/{key}", response_model=RetentionOut, responses=_errors)
def reset_retention_key(key: Literal["days", "max_bytes", "min_free_bytes"], principal: Admin,
                        state: State) -> RetentionOut:
    """Forget one override: that key follows its VIGIL_ setting again (admin). Idempotent."""
    with state.writes.begin() as db:
        delete_setting(db, f"{ro.PREFIX}.{key}")
    return read_retention(state)


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


__all__ = ["DiskOut", "RetentionOut", "disk_usage", "read_retention", "router"]
