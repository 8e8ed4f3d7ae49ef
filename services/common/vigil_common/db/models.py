"""SQLAlchemy 2 models: users, sessions, API tokens, the camera registry and the segment index."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Session(Base):
    """Server-side session: the cookie carries a random token, the table its SHA-256."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The first 16 hex digits of the SHA-256 of the logged-in session that created it (tokens are
    # made only from sessions: never from another token).
    created_by_session: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # "control": whatever its user may do; "read": safe methods only (GET, HEAD, OPTIONS).
    scope: Mapped[str] = mapped_column(String(16), default="control", server_default="control")


class Camera(Base):
    """The camera registry, kept by ingest from heartbeats, status and frames."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    location: Mapped[str] = mapped_column(String(128), default="", index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="offline")
    streaming: Mapped[bool] = mapped_column(Boolean, default=False)
    fps: Mapped[float] = mapped_column(Float, default=0.0)
    fps_target: Mapped[float] = mapped_column(Float, default=0.0)
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    codec: Mapped[str] = mapped_column(String(8), default="jpeg")
    source: Mapped[str] = mapped_column(String(32), default="")
    version: Mapped[str] = mapped_column(String(32), default="")
    frames_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    frames_dropped: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    name_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # "continuous" records everything; "motion" keeps only segments near motion (pre/post-roll).
    record_mode: Mapped[str] = mapped_column(String(16), default="continuous", server_default="continuous")
    # Motion detection: sensitivity 0..1 (None = the server default) and a mask of ignored
    # rectangles as JSON [[x, y, w, h], ...] in fractions of the frame.
    motion_sensitivity: Mapped[float | None] = mapped_column(Float, nullable=True)
    motion_mask: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Object detection zones, JSON (vigil_common.contract.object_zones); NULL = the whole frame.
    object_zones: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Object labels the notifier e-mails about, JSON (vigil_common.contract.object_alerts); NULL = none.
    notify_objects: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Faces in person boxes (the detector's CenterFace): off unless an admin turns it on.
    detect_faces: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Segment(Base):
    """One recorded MP4 segment. ``path`` is relative to the data directory."""

    __tablename__ = "segments"
    __table_args__ = (
        UniqueConstraint("camera_id", "start", name="uq_segments_camera_start"),
        Index("ix_segments_start", "start"),
        Index("ix_segments_camera_end", "camera_id", "end"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(32))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_s: Mapped[float] = mapped_column(Float)
    frames: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    codec: Mapped[str] = mapped_column(String(16), default="h264")
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Retention marks a row before unlinking its file, and drops it after: a crash in between
    # leaves a marked row the next pass finishes, never a row pointing at nothing unmarked.
    deleting: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Snapshot(Base):
    """A periodic still per camera: ``{data}/snapshots/{camera}/{date}/HH_MM_SS.jpg``."""

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("camera_id", "time", name="uq_snapshots_camera_time"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(32))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    path: Mapped[str] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


class MotionEvent(Base):
    """A period of motion on one camera; ``end`` is NULL while it is going on."""

    __tablename__ = "motion_events"
    __table_args__ = (Index("ix_motion_events_camera_start", "camera_id", "start"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(32))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    thumbnail_path: Mapped[str | None] = mapped_column(Text, nullable=True)


class ObjectEvent(Base):
    """An object seen by the detector on one camera: a confirmed track (``end`` NULL while it is
    going on). ``closeup_path`` (relative to the data directory) is the best-scoring crop at full
    resolution; ``track`` the box path as JSON ``[[t_ms, x, y, w, h, score], ...]`` in frame
    pixels of ``width`` x ``height``; ``zones`` the names of the zones it counted in, comma-joined."""

    __tablename__ = "object_events"
    __table_args__ = (
        Index("ix_object_events_camera_start", "camera_id", "start"),
        Index("ix_object_events_label_start", "label", "start"),
        Index("ix_object_events_camera_label_start", "camera_id", "label", "start"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    closeup_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    face_path: Mapped[str | None] = mapped_column(Text, nullable=True)  # a person's best face close-up
    track: Mapped[str] = mapped_column(Text, default="[]")
    zones: Mapped[str] = mapped_column(Text, default="")


class Export(Base):
    """A clip export job: a range of one camera cut across segments into one MP4."""

    __tablename__ = "exports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(32), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DayVideo(Base):
    """One camera's day assembled into one MP4 by remuxing its segments."""

    __tablename__ = "day_videos"

    camera_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    date: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD in VIGIL_TIMEZONE
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    segments: Mapped[int] = mapped_column(Integer, default=0)
    # The newest segment end included: a day video older than the day's footage is rebuilt.
    covers_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CameraEvent(Base):
    """A camera's state transitions, for timeline gap reasons: ``online``, ``offline``,
    ``streaming``, ``stopped`` (written by ingest), ``recording_lost`` (by the recorder)."""

    __tablename__ = "camera_events"
    __table_args__ = (Index("ix_camera_events_camera_time", "camera_id", "time"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(32))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class AppSetting(Base):
    """A runtime setting changed through the API (alert recipients, retention, ...): a JSON value
    under a dotted key. Absent keys fall back to the ``VIGIL_`` setting of the same meaning."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # JSON
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WebhookDelivery(Base):
    """One event for one webhook URL: the notifier's webhook outbox and the delivery log of
    ``GET /api/v1/webhooks/deliveries``. Written ``pending`` with the event; then ``delivered``
    (2xx), ``failed`` (a 4xx other than 408/429, or out of attempts) or retried with backoff."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_created", "created_at"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    event_id: Mapped[str] = mapped_column(String(32))  # the same for every URL and retry of one event
    event: Mapped[str] = mapped_column(String(32))
    camera_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    url: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)  # the JSON sent
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the receiver's HTTP status
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Notification(Base):
    """One alert e-mail (or webhook/console message): the notifier's outbox and log.

    Written ``pending`` together with the state change that caused it, then updated by the
    delivery worker to ``sent`` / ``failed`` (``logged`` on the console channel).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_created", "created_at"),
        Index("ix_notifications_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    camera_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[str] = mapped_column(Text)  # JSON list of addresses
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed|logged
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class NotifierState(Base):
    """The notifier's decision state (per camera, service and alert condition) as JSON, so a
    restart neither repeats nor loses an e-mail."""

    __tablename__ = "notifier_state"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # JSON
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class IpCamera(Base):
    """An IP camera the server captures itself (``vigil ipcams``): added by "Find cameras"
    (ONVIF) or by its RTSP URL. ``credentials`` is the user name and password sealed with
    ``VIGIL_CREDENTIALS_KEY`` (vigil_ipcams.secretbox); never returned by the API."""

    __tablename__ = "ip_cameras"

    camera_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    stream_uri: Mapped[str] = mapped_column(Text)  # rtsp://..., without credentials
    credentials: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed {"username", "password"}
    onvif_xaddr: Mapped[str | None] = mapped_column(Text, nullable=True)  # the device service it came from
    onvif_urn: Mapped[str | None] = mapped_column(String(256), nullable=True)  # its WS-Discovery endpoint
    profile_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    profile: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON: encoding, width, height, fps
    manufacturer: Mapped[str] = mapped_column(String(128), default="")
    model: Mapped[str] = mapped_column(String(128), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
