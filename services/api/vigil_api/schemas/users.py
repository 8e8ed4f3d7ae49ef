"""User accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil_common.db.users import MIN_PASSWORD_LENGTH, USERNAME_PATTERN

Role = Literal["admin", "viewer"]


Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)]


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    created_at: datetime
    locked: bool = Field(description="locked after too many failed logins")
    locked_until: datetime | None = None


class UserChanged(UserOut):
    tokens_revoked: int = Field(default=0, description="API tokens revoked by a password change")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, max_length=64)
    password: Password
    role: Role = "viewer"


class UserPatch(BaseModel):
    """Change the role and/or reset the password (which also unlocks the account)."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    password: Password | None = None
