"""Storage: bytes per camera and hour, the calendar, the disk, retention in force."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil_common.db import retention_settings as ro


class DiskOut(BaseModel):
    total: int
    used: int
    free: int


class RetentionValues(BaseModel):
    days: float = Field(description="footage older than this many days is deleted")
    max_bytes: int | None = Field(description="total size cap of the recordings; null = no cap")
    min_free_bytes: int | None = Field(description="keep at least this much disk free; null = no floor")


class RetentionOut(RetentionValues):
    configured: RetentionValues = Field(description="the VIGIL_ settings (used for keys not overridden)")
    overridden: list[str] = Field(description="keys set through the API")


class RetentionIn(BaseModel):
    """A partial update: only the keys given change. ``null`` for a byte limit means no limit."""

    model_config = ConfigDict(extra="forbid")

    days: float | None = Field(default=None, gt=0, le=ro.MAX_DAYS, allow_inf_nan=False)
    max_bytes: int | None = Field(default=None, ge=0, le=ro.MAX_BYTES)  # 0 refused below, with a reason
    min_free_bytes: int | None = Field(default=None, ge=0, le=ro.MAX_BYTES)


class CameraBytes(BaseModel):
    camera_id: str
    segments: int
    bytes: int
    oldest: datetime | None
    newest: datetime | None


class StorageOut(BaseModel):
    disk: DiskOut | None = Field(description="the data directory's file system; null if unreadable")
    bytes_total: int = Field(description="segments + snapshots + day videos + exports")
    bytes_segments: int
    bytes_snapshots: int
    bytes_day_videos: int
    bytes_exports: int
    cameras: list[CameraBytes]
    retention: RetentionOut
    updated_at: datetime | None = Field(
        description="when the byte and segment counts were taken (the recorder's last retention pass, or the "
                    "API's own count, kept a few minutes); oldest/newest, exports and the disk are read live")
    cameras_updated_at: datetime | None = Field(
        description="when the per-camera segment counts and bytes were taken (the recorder recounts them "
                    "every few minutes)")
    source: Literal["recorder", "index"] = Field(
        description="recorder: figures the retention pass published; index: the API counted the index itself "
                    "(no pass has published figures yet)")


class CameraHours(BaseModel):
    camera_id: str
    bytes_per_hour: list[int] = Field(description="24 values by local clock hour")


class HoursOut(BaseModel):
    date: str
    cameras: list[CameraHours]


class DayCount(BaseModel):
    date: str
    segments: int
    bytes: int


class MonthOut(BaseModel):
    camera_id: str
    month: str
    days: list[DayCount] = Field(description="only the days that have footage")
