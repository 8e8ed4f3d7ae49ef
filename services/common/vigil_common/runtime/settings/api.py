"""The API's settings: live view limits, sessions and logins, proxies, cookies, host names."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field
from pydantic_settings import NoDecode

from vigil_common.runtime.settings.base import DAY_S, split_csv


class ApiSettings(BaseModel):
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
    allowed_hosts: Annotated[list[str], NoDecode, BeforeValidator(split_csv)] = ["*"]
