"""A camera's day: the timeline and the day video."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from vigil_api.timeline import Reason


class IntervalOut(BaseModel):
    start: datetime
    end: datetime


class GapOut(IntervalOut):
    reason: Reason = Field(description="no_camera_yet, offline, stopped (online, not streaming), recording_lost, "
                           "recorder_lag (not recorded yet), not_recorded (online and streaming, no footage), unknown")


class MotionEventOut(BaseModel):
    id: int
    start: datetime
    end: datetime | None = Field(description="null while the motion goes on")
    score: float
    thumbnail_url: str | None = None


class ObjectEventOut(BaseModel):
    id: int
    label: str
    start: datetime
    end: datetime | None = Field(description="null while the object is in view")
    score: float
    closeup_url: str | None = None


class DayVideoOut(BaseModel):
    """The day video's state: ``none`` until first requested or scheduled."""

    camera_id: str
    date: str
    status: Literal["none", "queued", "running", "done", "failed"]
    progress: float
    covers_until: datetime | None = None
    error: str | None = None
    url: str


class TimelineOut(BaseModel):
    date: str
    camera_id: str
    start: datetime = Field(description="the day's first instant (local midnight)")
    end: datetime = Field(description="the next day's first instant; 23 or 25 hours later on DST days")
    covered: list[IntervalOut]
    gaps: list[GapOut]
    events: list[MotionEventOut]
    objects: list[ObjectEventOut] = Field(default_factory=list, description="the detector's object events")
    bytes_per_hour: list[int] = Field(description="24 values, by local clock hour (a repeated hour sums both, "
                                      "a skipped hour is 0); a segment's bytes are spread over the hours it spans")
    video: DayVideoOut
