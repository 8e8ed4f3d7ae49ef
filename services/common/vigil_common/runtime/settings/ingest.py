"""Ingest's settings: sharing the load, and the limits frames are checked against."""

from __future__ import annotations

from pydantic import BaseModel, Field

from vigil_common.contract.ids import CAMERA_ID_PATTERN
from vigil_common.runtime.settings.base import DAY_S


class IngestSettings(BaseModel):
    # Ingest. A share group makes every ingest process subscribe to frames and heartbeats through
    # `$share/<group>/...`, so N processes split the load (status stays a plain subscription).
    ingest_share_group: str = Field(default="", pattern=f"^$|{CAMERA_ID_PATTERN}")
    # Ingest validation limits.
    max_frame_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_width: int = Field(default=7680, ge=16, le=65535)
    max_height: int = Field(default=4320, ge=16, le=65535)
    clock_skew_s: float = Field(default=300, ge=1, le=DAY_S)
