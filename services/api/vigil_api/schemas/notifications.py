"""Request/response models of /api/v1/notifications (contract: see docs/notifier.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigil_common.db.notifier_settings import valid_email
from vigil_common.runtime import bounds

Channel = Literal["sendgrid", "smtp", "webhook", "console"]
MAX_RECIPIENTS = 50


def _check_addresses(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    out: list[str] = []
    for address in value:
        address = address.strip()
        if not valid_email(address):
            raise ValueError(f"not a valid e-mail address: {address[:80]!r}")
        if address not in out:
            out.append(address)
    return out


class NotificationOut(BaseModel):
    id: int
    created_at: datetime
    kind: str
    camera_id: str | None
    subject: str
    channel: str
    recipients: list[str]
    status: Literal["pending", "sent", "failed", "logged"]
    attempts: int
    error: str | None
    delivered_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    total: int


class NotifierSettingsOut(BaseModel):
    recipients: list[str]
    offline_grace_s: float
    reminder_after_s: float | None
    reminder_every_s: float | None
    channel: Channel = Field(description="Read-only: the channel the notifier delivers through (published by the "
                                         "notifier when it starts; before it ever ran, guessed from the API's own "
                                         "VIGIL_NOTIFY_CHANNEL / configured backends)")


class NotifierSettingsIn(BaseModel):
    """Partial update: only the fields sent change. ``null`` reminders switch them off."""

    model_config = ConfigDict(extra="forbid")

    recipients: list[str] | None = Field(default=None, max_length=MAX_RECIPIENTS)
    offline_grace_s: float | None = Field(default=None, ge=bounds.OFFLINE_GRACE_MIN_S, le=bounds.OFFLINE_GRACE_MAX_S)
    reminder_after_s: float | None = Field(default=None, ge=bounds.REMINDER_AFTER_MIN_S, le=bounds.REMINDER_MAX_S)
    reminder_every_s: float | None = Field(default=None, ge=bounds.REMINDER_EVERY_MIN_S, le=bounds.REMINDER_MAX_S)

    _addresses = field_validator("recipients")(_check_addresses)


class TestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: list[str] | None = Field(default=None, min_length=1, max_length=MAX_RECIPIENTS)

    _addresses = field_validator("to")(_check_addresses)


class TestOut(BaseModel):
    id: int
