"""Request and response models (pydantic), so /openapi.json documents every route."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

# PRINTABLE: text without control characters (names end up in overlays and web pages).
from vigil_common.contract.messages import PRINTABLE, CommandAction


class ErrorOut(BaseModel):
    """Every error response: a human-readable reason."""

    detail: str


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """A 422: the reason in one line, and each invalid field (the input is never echoed)."""

    detail: str
    errors: list[ValidationErrorItem] = []


# Answers any route may give, declared on every operation (so the document says what the API
# does: FastAPI's own 422 model is an array of errors, ours is ErrorOut-shaped).
COMMON_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "Malformed request (e.g. a body that is not JSON, a bad Host)"},
    422: {"model": ValidationErrorOut, "description": "Invalid input, with the reason"},
}


# --- auth ---------------------------------------------------------------------------------


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    username: str
    role: str
    csrf_token: str = Field(description="Send back as X-CSRF-Token on cookie-authenticated writes.")
    expires_at: datetime
    timezone: str | None = Field(default=None, description="the server's zone (VIGIL_TIMEZONE): dates are days there")


class WhoAmI(BaseModel):
    username: str
    role: str
    via: Literal["session", "token"]
    csrf_token: str | None = None
    expires_at: datetime | None = None
    timezone: str | None = Field(default=None, description="the server's zone (VIGIL_TIMEZONE): dates are days there")


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=PRINTABLE)


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    created_by_session: str | None = Field(
        default=None, description="The session that created it (the first 16 hex digits of its hash).")


class TokenCreated(BaseModel):
    token: str = Field(description="Shown once; only its SHA-256 is stored.")
    id: int
    name: str
    created_at: datetime


# --- cameras ------------------------------------------------------------------------------


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


MAX_MASK_RECTS = 64  # as the recorder's motion detector accepts
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


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: CommandAction
    params: dict[str, Any] = Field(default_factory=dict)


class CommandAccepted(BaseModel):
    request_id: str
    action: CommandAction


# --- recordings ---------------------------------------------------------------------------


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


ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(BaseModel, Generic[ItemT]):
    """One page of a listing (recordings, events, snapshots): the rows and how many match."""

    items: list[ItemT]
    total: int = Field(description="Matching rows; a lower bound when total_exact is false.")
    total_exact: bool
    limit: int
    offset: int


class RecordingPage(Page[RecordingOut]):
    pass


# --- system -------------------------------------------------------------------------------

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
