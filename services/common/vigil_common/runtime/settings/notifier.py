"""The notifier's settings: channels, recipients, the alert state machine's timings."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, Field, SecretStr
from pydantic_settings import NoDecode

from vigil_common.runtime import bounds
from vigil_common.runtime.settings.base import DAY_S, MAX_DAYS, split_csv


class NotifierSettings(BaseModel):
    # Notifier.
    sendgrid_api_key: SecretStr | None = None
    sendgrid_host: str = "https://api.sendgrid.com"
    email_from: str = ""
    alert_emails: Annotated[list[str], NoDecode, BeforeValidator(split_csv)] = []
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
    # An object e-mail (cameras' notify_objects) at most this often per camera and label.
    notify_object_cooldown_s: float = Field(default=300, ge=0, le=DAY_S)
    # Event webhooks (docs/integrations.md#webhooks): every e-mail's event plus motion and object
    # starts and ends, POSTed to each URL, signed with the secret (required with URLs).
    event_webhook_urls: Annotated[list[str], NoDecode, BeforeValidator(split_csv)] = []
    event_webhook_secret: SecretStr | None = None

    def webhook_secret(self) -> bytes | None:
        """The signing secret (None without URLs). ValueError, naming no URL (they may hold a
        token), for: more than 8 URLs, one that is not http(s) with a host and a valid port, one
        with credentials before the host (put a token in the path or query instead), or no
        secret of 16+ characters."""
        if not self.event_webhook_urls:
            return None
        if len(self.event_webhook_urls) > 8:
            raise ValueError("VIGIL_EVENT_WEBHOOK_URLS: at most 8 URLs")
        for n, url in enumerate(self.event_webhook_urls, 1):
            try:
                parts = urlsplit(url)
                valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
            except ValueError:  # a port that is not a number, or out of range
                valid = False
            if not valid:
                raise ValueError(f"VIGIL_EVENT_WEBHOOK_URLS: URL {n} is not an http(s) URL with a host and a "
                                 "valid port")
            if "@" in parts.netloc:
                raise ValueError(f"VIGIL_EVENT_WEBHOOK_URLS: URL {n} has credentials before the host; put a token "
                                 "in its path or query instead")
        secret = self.event_webhook_secret.get_secret_value() if self.event_webhook_secret else ""
        if len(secret) < 16:
            raise ValueError("VIGIL_EVENT_WEBHOOK_URLS needs VIGIL_EVENT_WEBHOOK_SECRET (16+ characters)")
        return secret.encode()

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
