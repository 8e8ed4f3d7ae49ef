"""What is kept, and for how long: retention, reconciliation, exports."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from vigil_common.runtime.settings.base import DAY_S, HOUR_IN_DAYS, MAX_DAYS, OptionalSize


class RetentionSettings(BaseModel):
    retention_days: float = Field(default=30, ge=HOUR_IN_DAYS, le=MAX_DAYS)
    retention_max_bytes: OptionalSize = None
    min_free_bytes: OptionalSize = None
    retention_interval_s: float = Field(default=60, ge=5, le=DAY_S)

    # footage near motion; None = retention_days
    retention_motion_days: float | None = Field(default=None, ge=HOUR_IN_DAYS, le=MAX_DAYS)
    # footage near an object event (the detector's: a person, a car, ...), the events and their
    # close-ups; None = as long as motion footage
    retention_object_days: float | None = Field(default=None, ge=HOUR_IN_DAYS, le=MAX_DAYS)
    reconcile_interval_s: float = Field(default=300, ge=1, le=DAY_S)
    export_max_seconds: int = Field(default=24 * 3600, ge=1, le=7 * DAY_S)
    # Exports expire this long after they were made; each user may have this many in progress
    # and hold this many bytes of them (admins: no byte quota). They count toward the byte cap.
    export_retention_days: float = Field(default=7, ge=HOUR_IN_DAYS, le=MAX_DAYS)
    export_max_active_per_user: int = Field(default=2, ge=1, le=64)
    export_max_bytes_per_user: OptionalSize = 5 * 1024**3

    @field_validator("retention_max_bytes")
    @classmethod
    def _positive_cap(cls, v: int | None) -> int | None:
        if v is not None and v <= 0:
            raise ValueError("VIGIL_RETENTION_MAX_BYTES must be a positive size (e.g. 500G), or unset for no cap; "
                             "0 would delete all footage")
        return v
