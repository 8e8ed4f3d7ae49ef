"""Cameras: the registry row as served, changes, commands."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# PRINTABLE: text without control characters (names end up in overlays and web pages).
from vigil_common.contract.messages import PRINTABLE, CommandAction
from vigil_common.contract.object_alerts import MAX_LABELS
from vigil_common.contract.object_zones import MAX_ZONES, Label, ObjectZone


class CameraOut(BaseModel):
    id: str
    name: str
    location: str
    status: Literal["online", "offline"]
    enabled: bool
    streaming: bool
    fps: float
    fps_target: float
    width: int
    height: int
    codec: str
    source: str
    version: str
    frames_sent: int
    frames_dropped: int
    first_seen: datetime
    last_seen: datetime | None
    last_heartbeat_at: datetime | None
    name_locked: bool
    record_mode: Literal["continuous", "motion"]
    motion_sensitivity: float | None = Field(description="0..1; null = the server's VIGIL_MOTION_SENSITIVITY")
    motion_mask: list[list[float]] = Field(description="ignored rectangles [x, y, w, h] in fractions of the frame")
    object_zones: list[ObjectZone] = Field(default_factory=list, description="where detected objects count "
                                           "(polygons in fractions of the frame); empty: the whole frame")
    notify_objects: list[str] = Field(default_factory=list, description="object labels an event of which is "
                                      "e-mailed (person, car, ...); empty: no object e-mails")
    detect_faces: bool = Field(default=False, description="the detector looks for faces in person boxes and keeps "
                                                          "the best one of each person")


MAX_MASK_RECTS = 64  # as the motion detector (vigil_common.motion.detect) accepts
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


MaskRect = Annotated[list[Fraction], Field(min_length=4, max_length=4)]


class CameraPatch(BaseModel):
    """Fields an admin may change. Renaming or relocating locks them against heartbeats."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=128, pattern=PRINTABLE)
    location: str | None = Field(default=None, max_length=128, pattern=PRINTABLE)
    enabled: bool | None = None
    record_mode: Literal["continuous", "motion"] | None = Field(
        default=None, description="motion: keep only footage near motion (with pre/post-roll)")
    motion_sensitivity: float | None = Field(default=None, ge=0, le=1)
    motion_mask: list[MaskRect] | None = Field(
        default=None, max_length=MAX_MASK_RECTS, description="ignored rectangles [x, y, w, h], fractions")
    object_zones: list[ObjectZone] | None = Field(
        default=None, max_length=MAX_ZONES, description="object detection zones; [] = the whole frame again")
    notify_objects: list[Label] | None = Field(
        default=None, max_length=MAX_LABELS, description="e-mail when an object event of these labels starts; "
                                                         "[] = none")
    detect_faces: bool | None = Field(default=None, description="look for faces in person boxes (off by default)")


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: CommandAction
    params: dict[str, Any] = Field(default_factory=dict)


class CommandAccepted(BaseModel):
    request_id: str
    action: CommandAction
