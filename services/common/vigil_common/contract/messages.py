"""JSON message models of the MQTT contract (docs/protocol.md#mqtt-contract): heartbeat, command, state,
status, motion measured at the edge (score, config) and object events (the detector's)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator

from vigil_common.contract.ids import CAMERA_ID_PATTERN
from vigil_common.contract.object_zones import LABEL_PATTERN, MAX_ZONES, ZONE_NAME_PATTERN

ONLINE = "online"
OFFLINE = "offline"
MOTION_ON = "ON"
MOTION_OFF = "OFF"

# Text shown to people and stored in the registry: no control characters (NUL breaks PostgreSQL).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
# Counters must fit a signed 64-bit column.
INT64_MAX = 2**63 - 1

# A number field that accepts JSON ints and floats but not strings or booleans.
Number = StrictFloat | StrictInt


class Heartbeat(BaseModel):
    """Sent by every camera every 5 s (QoS 1). Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    camera_id: str = Field(pattern=CAMERA_ID_PATTERN)
    seq: StrictInt = Field(ge=0, le=INT64_MAX)
    sent_at: datetime
    streaming: StrictBool
    fps: Number = Field(ge=0, le=1000)
    fps_target: Number = Field(ge=0, le=1000)
    frames_sent: StrictInt = Field(ge=0, le=INT64_MAX)
    frames_dropped: StrictInt = Field(ge=0, le=INT64_MAX)
    last_frame_at: datetime | None
    width: StrictInt = Field(ge=0, le=16384)
    height: StrictInt = Field(ge=0, le=16384)
    codec: Literal["jpeg", "h264"]
    source: str = Field(max_length=32, pattern=PRINTABLE)
    name: str = Field(max_length=128, pattern=PRINTABLE)
    location: str = Field(max_length=128, pattern=PRINTABLE)
    uptime_s: Number = Field(ge=0, le=1e12)
    version: str = Field(max_length=32, pattern=PRINTABLE)

    @field_validator("sent_at", "last_frame_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("timestamp must carry a UTC offset")
        return v


class CommandAction(StrEnum):
    START = "start"
    STOP = "stop"
    SNAPSHOT = "snapshot"
    CONFIGURE = "configure"


class ConfigureParams(BaseModel):
    """The settings a ``configure`` command may change (all optional)."""

    model_config = ConfigDict(extra="forbid")

    fps: float | None = Field(default=None, gt=0, le=120)
    width: int | None = Field(default=None, ge=16, le=7680)
    height: int | None = Field(default=None, ge=16, le=4320)
    quality: int | None = Field(default=None, ge=1, le=100)
    overlay: bool | None = None
    name: str | None = Field(default=None, max_length=128, pattern=PRINTABLE)
    location: str | None = Field(default=None, max_length=128, pattern=PRINTABLE)


class Command(BaseModel):
    """Server → camera (QoS 1): ``{"action": ..., "params": {...}, "request_id": "..."}``."""

    model_config = ConfigDict(extra="ignore")

    action: CommandAction
    params: dict[str, Any] = Field(default_factory=dict)
    request_id: str = Field(default="", max_length=64)

    def configure_params(self) -> ConfigureParams:
        return ConfigureParams.model_validate(self.params)


class CameraState(BaseModel):
    """Camera → server, retained: the camera's current settings and whether it streams."""

    model_config = ConfigDict(extra="ignore")

    camera_id: str = Field(pattern=CAMERA_ID_PATTERN)
    streaming: bool
    fps_target: float
    width: int
    height: int
    quality: int
    overlay: bool
    codec: Literal["jpeg", "h264"]
    source: str
    name: str
    location: str
    updated_at: datetime
    last_request_id: str = ""


# Motion measured by the camera (docs/protocol.md#motion-at-the-edge) ---------------------------
MAX_MOTION_SAMPLE_FPS = 30.0
MAX_MASK_RECTS = 64


class MotionScore(BaseModel):
    """Camera → server (QoS 0), one per motion sample: the changed fraction of the unmasked
    picture at ``capture_ns`` and whether it reached the configured ``min_area`` (``hot``)."""

    model_config = ConfigDict(extra="ignore")

    seq: StrictInt = Field(ge=0, le=INT64_MAX)  # the sample's frame number (the VGF1 seq)
    capture_ns: StrictInt = Field(gt=0, le=INT64_MAX)
    score: Number = Field(ge=0, le=1)
    hot: StrictBool


class MotionConfig(BaseModel):
    """Server → camera (QoS 1, retained on ``motion_config``): how the camera measures motion.
    Sent by the recorder from the registry (per-camera sensitivity and mask) and the server's
    ``VIGIL_MOTION_*`` settings; a camera without one measures with the same defaults."""

    model_config = ConfigDict(extra="ignore")

    enabled: StrictBool = True
    sensitivity: Number = Field(default=0.5, ge=0, le=1)
    min_area: Number = Field(default=0.002, gt=0, le=1)
    sample_fps: Number = Field(default=2.0, gt=0, le=MAX_MOTION_SAMPLE_FPS)
    mask: list[list[Number]] = Field(default_factory=list, max_length=MAX_MASK_RECTS)

    @field_validator("mask")
    @classmethod
    def _rects(cls, v: list[list[float]]) -> list[list[float]]:
        for rect in v:
            if len(rect) != 4:
                raise ValueError("each mask rectangle is [x, y, w, h] in fractions of the frame")
        return v


# Object detection (docs/protocol.md#object-events-on-mqtt) ------------------------------------


ZoneName = Annotated[str, Field(pattern=ZONE_NAME_PATTERN)]


class ObjectPhase(StrEnum):
    START = "start"  # confirmed (seen twice): the event's row exists and has a close-up
    UPDATE = "update"  # a better sighting: new best score and close-up
    END = "end"  # not seen for VIGIL_DETECTOR_GAP_S (or the detector stopped)


class ObjectEventMessage(BaseModel):
    """Detector → anyone (QoS 1, not retained, on ``object_event``): one change of an object
    event. ``id`` is the event's id in ``GET /events?kind=object``; ``closeup_url`` its crop."""

    model_config = ConfigDict(extra="ignore")

    type: ObjectPhase
    id: StrictInt = Field(ge=1, le=INT64_MAX)
    camera_id: str = Field(pattern=CAMERA_ID_PATTERN)
    label: str = Field(pattern=LABEL_PATTERN)
    score: Number = Field(ge=0, le=1)
    start: AwareDatetime
    end: AwareDatetime | None = None
    closeup_url: str = Field(max_length=256, pattern=PRINTABLE)
    zones: list[ZoneName] = Field(default_factory=list, max_length=MAX_ZONES)
    box: list[Number] = Field(default_factory=list, max_length=4)  # [x, y, w, h], fractions of the frame


def object_counts(payload: bytes) -> dict[str, int]:
    """Parse a retained ``objects`` message: ``{label: objects in view}``; ValueError otherwise."""
    import json

    value = json.loads(payload)
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(n, int) and not isinstance(n, bool) and n >= 0 for k, n in value.items()):
        raise ValueError("objects must be a JSON object of label -> count")
    return value


def parse_status(payload: bytes) -> str:
    """Parse a status payload; raises ValueError unless it is ``online`` or ``offline``."""
    text = payload.decode("ascii", errors="strict").strip()
    if text not in (ONLINE, OFFLINE):
        raise ValueError("status must be 'online' or 'offline'")
    return text
