"""Exports: a camera's footage between two times as one MP4."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from vigil_common.contract.ids import CAMERA_ID_PATTERN

Status = Literal["queued", "running", "done", "failed"]


class ExportIn(BaseModel):
    camera_id: str = Field(pattern=CAMERA_ID_PATTERN, max_length=32)
    start: str = Field(max_length=64, description="ISO 8601 with offset (without: the server's zone)",
                       examples=["2024-05-01T12:00:00+02:00"])
    end: str = Field(max_length=64, description="ISO 8601, after start; at most VIGIL_EXPORT_MAX_SECONDS later")


class ExportOut(BaseModel):
    id: str
    camera_id: str
    start: datetime
    end: datetime
    status: Status
    progress: float = Field(ge=0, le=1)
    bytes: int | None = None
    error: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    url: str | None = Field(None, description="download URL, once done")
    filename: str


class ExportPage(BaseModel):
    items: list[ExportOut]
    total: int
    limit: int
    offset: int
