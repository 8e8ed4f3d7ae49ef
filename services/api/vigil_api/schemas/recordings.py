"""Recordings, snapshots and events: the indexed footage, listed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

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
    id: int = Field(description="unique within its kind")
    camera_id: str
    kind: Literal["motion", "object"] = "motion"
    label: str | None = Field(default=None, description="objects: what was seen (person, car, ...)")
    start: datetime
    end: datetime | None = Field(description="null while the event goes on")
    ongoing: bool
    score: float = Field(description="motion: the largest fraction of the (unmasked) frame that changed, 0..1; "
                                     "objects: the detector's best score, 0..1")
    thumbnail_url: str | None
    closeup_url: str | None = Field(default=None, description="objects: a JPEG crop of the object at full "
                                                              "resolution")
    face_url: str | None = Field(default=None, description="people, on cameras with detect_faces: a JPEG crop of "
                                                           "the best face seen")


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
