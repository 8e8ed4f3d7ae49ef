"""Health, and the recording watchdog's part of it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

DependencyState = Literal["ok", "error"]


StallReason = Literal["disk_full", "recorder_crash_looping", "recorder_hung", "recorder_down", "queue_backed_up",
                      "recorder_behind"]


class StalledCameraOut(BaseModel):
    camera_id: str
    lag_s: float = Field(description="Age of the oldest frame not yet recorded.")
    reason: StallReason


class RecordingHealthOut(BaseModel):
    """The recording watchdog: is every streaming camera being recorded?"""

    status: Literal["ok", "stalled", "unknown"] = Field(
        description="unknown while the database or Redis is down (or the check failed).")
    threshold_s: float = Field(description="A camera is stalled when its lag exceeds this "
                                           "(VIGIL_RECORDING_STALL_SEGMENTS segment lengths).")
    streaming: int = Field(description="Cameras whose frames are arriving.")
    workers_alive: int = Field(description="Recorder workers that sent a heartbeat recently.")
    reason: StallReason | None = None
    detail: str = ""
    stalled: list[StalledCameraOut] = []


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: DependencyState
    redis: DependencyState
    mqtt: DependencyState
    recording: RecordingHealthOut
    version: str
