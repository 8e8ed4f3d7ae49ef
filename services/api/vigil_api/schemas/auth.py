"""Logging in, the session, API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from vigil_common.contract.messages import PRINTABLE


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
    scope: Literal["read", "control"] = Field(
        default="control", description="read: GET/HEAD only (dashboards, Prometheus); control: whatever the user "
                                       "may do (commands, settings)")


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    created_by_session: str | None = Field(
        default=None, description="The session that created it (the first 16 hex digits of its hash).")
    scope: Literal["read", "control"] = "control"


class TokenCreated(BaseModel):
    token: str = Field(description="Shown once; only its SHA-256 is stored.")
    id: int
    name: str
    created_at: datetime
    scope: Literal["read", "control"] = "control"
