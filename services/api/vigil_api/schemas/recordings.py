"""Recordings, snapshots and events: the indexed footage, listed."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from vigil_api.schemas.common import Page


class RecordingOut(BaseModel):
    id: int
    camera_id: str
    start: datetime
    end: datetime
    duration_s: float
    frames: int
    bytes: int
    width: int
    height: int
    codec: str
    url: str


class RecordingPage(Page[RecordingOut]):
    pass


class EventOut(BaseModel):
    id: int
    camera_id: str
    start: datetime
    end: datetime | None = Field(description="null while the motion goes on")
    ongoing: bool
    score: float = Field(description="Largest fraction of the (unmasked) frame that changed, 0..1")
    thumbnail_url: str | None


class EventPage(Page[EventOut]):
    pass


NAIVE = "Without an offset: the server's time zone."


class SnapshotOut(BaseModel):
    id: int
    time: datetime
    url: str = Field(description="The JPEG (GET, authenticated)")
    width: int
    height: int
    bytes: int


class SnapshotPage(Page[SnapshotOut]):
    pass
