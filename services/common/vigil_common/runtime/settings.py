"""Settings from the environment and ``.env``, prefix ``VIGIL_`` (docs/operations.md#settings, contract).

Built once in each service's ``main()`` and passed down; never read at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from vigil_common.contract.ids import CAMERA_ID_PATTERN
from vigil_common.contract.sizes import parse_size
from vigil_common.runtime import bounds

DAY_S = 86400
MAX_DAYS = 36500  # a century: far enough for anyone, near enough for date arithmetic
HOUR_IN_DAYS = 1 / 24
OptionalSize = Annotated[int | None, BeforeValidator(parse_size)]


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Every ``VIGIL_`` setting. Each service reads the ones it needs."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_", env_file=".env", extra="ignore")

    # Connections. Empty means "not configured": `vigil up` then starts embedded defaults.
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = ""
    topic_prefix: str = Field(default="vigil", pattern=CAMERA_ID_PATTERN)  # same shape as an id

    data_dir: Path = Path("./data")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    admin_password: SecretStr | None = None
    timezone: str = "UTC"
    log_level: str = "INFO"
    log_format: str = Field(default="text", pattern=r"^(text|json)$")

    # Recording.
    segment_seconds: int = Field(default=10, ge=2, le=600)
    segment_grace_s: float = Field(default=2.0, ge=0, le=60)
    stream_buffer_s: int = Field(default=120, ge=10, le=3600)
    # The recording watchdog: a streaming camera whose newest recorded window trails its frames by
    # more than this many segment lengths is "stalled" (/health degraded, an alert, a banner).
    recording_stall_segments: float = Field(default=3, ge=1.5, le=100)
    x264_preset: str = "veryfast"
    x264_crf: int = Field(default=23, ge=0, le=51)
    x264_threads: int = Field(default=1, ge=0, le=64)  # per job; scale with recorder workers (0 = auto)
    snapshot_interval_s: float = Field(default=5, ge=0.5, le=3600)
    retention_days: float = Field(default=30, ge=HOUR_IN_DAYS, le=MAX_DAYS)
    retention_max_bytes: OptionalSize = None
    min_free_bytes: OptionalSize = None
    retention_interval_s: float = Field(default=60, ge=5, le=DAY_S)

    # footage near motion; None = retention_days
    retention_motion_days: float | None = Field(default=None, ge=HOUR_IN_DAYS, le=MAX_DAYS)
    reconcile_interval_s: float = Field(default=300, ge=1, le=DAY_S)
    # Motion detection (on a low-rate decoded sample of each camera).
    motion_enabled: bool = True
    motion_sample_fps: float = Field(default=2.0, gt=0, le=30)
    motion_sensitivity: float = Field(default=0.5, ge=0, le=1)  # per-camera override in the registry
    motion_min_area: float = Field(default=0.002, gt=0, lt=1)  # fraction of the frame that must change
    motion_pre_roll_s: float = Field(default=10, ge=0, le=60)  # motion-only recording keeps this before
    motion_post_roll_s: float = Field(default=10, ge=0, le=600)  # ... and this after an event
    export_max_seconds: int = Field(default=24 * 3600, ge=1, le=7 * DAY_S)
    # Exports expire this long after they were made; each user may have this many in progress
    # and hold this many bytes of them (admins: no byte quota). They count toward the byte cap.
    export_retention_days: float = Field(default=7, ge=HOUR_IN_DAYS, le=MAX_DAYS)
    export_max_active_per_user: int = Field(default=2, ge=1, le=64)
    export_max_bytes_per_user: OptionalSize = 5 * 1024**3
    recorder_workers: int = Field(default=1, ge=1, le=64)  # `vigil up` starts this many

    # Ingest. A share group makes every ingest process subscribe to frames and heartbeats through
    # `$share/<group>/...`, so N processes split the load (status stays a plain subscription).
    ingest_share_group: str = Field(default="", pattern=f"^$|{CAMERA_ID_PATTERN}")
    # Ingest validation limits.
    max_frame_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_width: int = Field(default=7680, ge=16, le=65535)
    max_height: int = Field(default=4320, ge=16, le=65535)
    clock_skew_s: float = Field(default=300, ge=1, le=DAY_S)

    # Notifier.
    sendgrid_api_key: SecretStr | None = None
    sendgrid_host: str = "https://api.sendgrid.com"
    email_from: str = ""
    alert_emails: Annotated[list[str], NoDecode, BeforeValidator(_split_csv)] = []
    offline_grace_s: float = Field(default=60, ge=bounds.OFFLINE_GRACE_MIN_S, le=bounds.OFFLINE_GRACE_MAX_S)
    # Which channel delivers: "auto" = SendGrid if a key is set, else SMTP if VIGIL_SMTP_URL,
    # else the webhook if VIGIL_WEBHOOK_URL, else the console (logged, nothing sent).
    notify_channel: str = Field(default="auto", pattern=r"^(auto|sendgrid|smtp|webhook|console)$")
    smtp_url: SecretStr | None = None  # smtp://user:pass@host:587?starttls=1 or smtps://host:465
    webhook_url: SecretStr | None = None  # JSON POST (ntfy, Slack, Home Assistant, ...)
    public_url: str = ""  # base of links in e-mails, e.g. https://vigil.example.org
    heartbeat_interval_s: float = Field(default=5, ge=0.5, le=3600)  # cameras' heartbeat period
    # the first reminder of a long outage, then this often
    reminder_after_s: float | None = Field(default=3600, ge=bounds.REMINDER_AFTER_MIN_S, le=bounds.REMINDER_MAX_S)
    reminder_every_s: float | None = Field(default=86400, ge=bounds.REMINDER_EVERY_MIN_S, le=bounds.REMINDER_MAX_S)
    notify_group_min: int = Field(default=3, ge=2, le=10_000)  # this many cameras at once -> one summary
    notify_group_window_s: float = Field(default=30, ge=0, le=3600)
    notify_recovery_hold_s: float = Field(default=5, ge=0, le=3600)  # recoveries gathered this long
    notify_retry_base_s: float = Field(default=2, ge=0.1, le=3600)  # delivery retry backoff (doubles, max 10 tries)
    notify_timeout_s: float = Field(default=15, ge=0.5, le=300)  # per delivery request
    recorder_fail_threshold: int = Field(default=3, ge=1, le=10_000)  # failed recorder jobs ...
    recorder_fail_window_s: float = Field(default=600, ge=10, le=7 * DAY_S)  # ... within this window -> alert
    ingest_drop_sustain_s: float = Field(default=60, ge=1, le=DAY_S)  # drops this long -> alert
    # Redis used memory at this % of its maxmemory -> alert (frames are refused when it is full).
    notify_redis_memory_pct: float = Field(default=90, gt=0, le=100)
    notify_log_days: float = Field(default=90, ge=1, le=MAX_DAYS)  # notification log kept this long

    # Live view (live.mjpeg): streams one user may hold, and of the server's 64, how many only
    # admins may take (so a viewer account cannot take them all).
    live_max_per_user: int = Field(default=8, ge=1, le=64)
    live_admin_reserve: int = Field(default=4, ge=0, le=32)

    # Sessions and logins.
    session_ttl_s: int = Field(default=7 * 24 * 3600, ge=60, le=90 * DAY_S)
    login_max_failures_per_ip: int = Field(default=30, ge=1, le=100_000)  # failed logins from one address ...
    login_failure_window_s: int = Field(default=900, ge=10, le=DAY_S)  # ... within this window, then 429
    # Peers whose X-Forwarded-For is believed (the reverse proxy); comma-separated IPs or "*".
    trusted_proxies: str = "127.0.0.1"
    # Secure on the session cookie: always with true; otherwise whenever the request came over
    # HTTPS (directly, or X-Forwarded-Proto from a trusted proxy).
    cookie_secure: bool = False
    # Host names the API answers to (comma-separated; "*" = any, the default for compatibility).
    # Loopback names are always accepted (health probes). Set it to the names users type, so a
    # rebinding DNS name cannot reach the API from a browser.
    allowed_hosts: Annotated[list[str], NoDecode, BeforeValidator(_split_csv)] = ["*"]

    @field_validator("retention_max_bytes")
    @classmethod
    def _positive_cap(cls, v: int | None) -> int | None:
        if v is not None and v <= 0:
            raise ValueError("VIGIL_RETENTION_MAX_BYTES must be a positive size (e.g. 500G), or unset for no cap; "
                             "0 would delete all footage")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    def notifier_channel(self) -> str:
        """The delivery channel: VIGIL_NOTIFY_CHANNEL, or with ``auto`` the first configured."""
        if self.notify_channel != "auto":
            return self.notify_channel
        if self.sendgrid_api_key is not None and self.sendgrid_api_key.get_secret_value():
            return "sendgrid"
        if self.smtp_url is not None and self.smtp_url.get_secret_value():
            return "smtp"
        if self.webhook_url is not None and self.webhook_url.get_secret_value():
            return "webhook"
        return "console"

    def effective_database_url(self) -> str:
        """The configured database, else the embedded SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vigil.db').resolve()}"
