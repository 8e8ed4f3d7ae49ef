"""The notifier's runtime settings: ``notifier.*`` in ``app_settings`` over the ``VIGIL_`` ones.

Shared by the notifier (which reads them every few seconds) and the API (which changes them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from vigil_common.db.app_settings import get_settings
from vigil_common.runtime.settings import Settings

PREFIX = "notifier"
# Written by the notifier when it starts: the channel it actually delivers through (the API's
# own environment usually lacks the notifier's SendGrid key / SMTP URL).
ACTIVE_CHANNEL_KEY = f"{PREFIX}.active_channel"
CHANNELS = ("sendgrid", "smtp", "webhook", "console")
# A practical address check (no display names, no spaces, one @, a dotted domain).
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$")


def valid_email(address: str) -> bool:
    return len(address) <= 254 and EMAIL_RE.fullmatch(address) is not None


@dataclass(frozen=True, slots=True)
class NotifierConfig:
    recipients: list[str]
    offline_grace_s: float
    reminder_after_s: float | None
    reminder_every_s: float | None
    channel: str


def _number(value: Any, default: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return default


def from_stored(settings: Settings, stored: dict[str, Any]) -> NotifierConfig:
    """Combine stored values (already validated when written) with the configured defaults."""
    recipients = stored.get("recipients", settings.alert_emails)
    if not isinstance(recipients, list):
        recipients = list(settings.alert_emails)
    recipients = [r for r in recipients if isinstance(r, str) and valid_email(r)]
    active = stored.get("active_channel")
    grace = _number(stored.get("offline_grace_s", settings.offline_grace_s), settings.offline_grace_s)
    return NotifierConfig(
        recipients=recipients,
        offline_grace_s=grace if grace is not None else settings.offline_grace_s,
        reminder_after_s=_number(stored.get("reminder_after_s", settings.reminder_after_s), settings.reminder_after_s),
        reminder_every_s=_number(stored.get("reminder_every_s", settings.reminder_every_s), settings.reminder_every_s),
        channel=active if isinstance(active, str) and active in CHANNELS else settings.notifier_channel(),
    )


def load(db: Session, settings: Settings) -> NotifierConfig:
    return from_stored(settings, get_settings(db, PREFIX))
