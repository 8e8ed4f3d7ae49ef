"""The settings every process reads: where the broker, Redis, the database and the data
live, the HTTP address, the zone, logging; and the shapes the other groups share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, field_validator

from vigil_common.contract.ids import CAMERA_ID_PATTERN
from vigil_common.contract.sizes import parse_size

DAY_S = 86400
MAX_DAYS = 36500  # a century: far enough for anyone, near enough for date arithmetic
HOUR_IN_DAYS = 1 / 24
OptionalSize = Annotated[int | None, BeforeValidator(parse_size)]


def split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class ServiceSettings(BaseModel):
    """Connections and the basics of every service."""

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

    def effective_database_url(self) -> str:
        """The configured database, else the embedded SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vigil.db').resolve()}"
