"""Sessions, API tokens and login lockout. Plain functions over a SQLAlchemy session.

Secrets (session cookies, API tokens) are random; only their SHA-256 is stored, so a database
leak does not hand out live credentials. The CSRF token is stored as-is: it is not a credential
on its own, only a second factor next to the cookie.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session as DbSession

from vigil_common.db.models import ApiToken, Session, User
from vigil_common.db.users import USERNAME_PATTERN, hash_password, needs_rehash, verify_password

SESSION_COOKIE = "vigil_session"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PREFIX = "vigil_"  # noqa: S105 - a label, not a secret
MAX_FAILED_LOGINS = 10
LOCKOUT = timedelta(minutes=15)
# Bearer tokens record when they were last used, but at most this often (avoid a write per call).
TOKEN_TOUCH_INTERVAL = timedelta(seconds=60)
MAX_SECRET_LENGTH = 256

_USERNAME_RE = re.compile(USERNAME_PATTERN)


def new_secret() -> str:
    """A random URL-safe secret (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a session or API token (what the database stores)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# What an API token may do: "control" = whatever its user may (the default, and every token made
# before scopes existed); "read" = safe methods only (GET, HEAD, OPTIONS).
TokenScope = Literal["read", "control"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and how they authenticated."""

    user_id: int
    username: str
    role: str
    via: Literal["session", "token"]
    csrf_token: str | None = None
    session_hash: str | None = None
    expires_at: datetime | None = None
    token_id: int | None = None
    scope: TokenScope | None = None  # tokens only

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# --- login --------------------------------------------------------------------------------


def after_failure(failed_logins: int, now: datetime) -> tuple[int, datetime | None]:
    """Count one more failed login; lock the account once the limit is reached.

    Returns the new ``(failed_logins, locked_until)``. The counter restarts after a lock so the
    next lock needs another full run of failures.
    """
    failed = failed_logins + 1
    if failed >= MAX_FAILED_LOGINS:
        return 0, now + LOCKOUT
    return failed, None


def locked_for(locked_until: datetime | None, now: datetime) -> float:
    """Seconds the account stays locked (0 when it is not locked)."""
    if locked_until is None or locked_until <= now:
        return 0.0
    return (locked_until - now).total_seconds()


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """The result of :func:`attempt_login`: ``principal`` and ``cookie`` on success."""

    ok: bool
    locked_for_s: float = 0.0
    throttled_for_s: float = 0.0  # too many failures from the caller's address (login_throttle)
    principal: Principal | None = None
    cookie: str | None = None


def attempt_login(db: DbSession, username: str, password: str, now: datetime, ttl_s: int) -> LoginOutcome:
    """Check credentials and open a session. The caller commits (also on failure: the counter)."""
    if not _USERNAME_RE.fullmatch(username):
        verify_password(None, password)  # same work as a real check: timing says nothing
        return LoginOutcome(ok=False)
    user = db.scalars(select(User).where(User.username == username).with_for_update()).one_or_none()
    if user is None:
        verify_password(None, password)
        return LoginOutcome(ok=False)
    remaining = locked_for(user.locked_until, now)
    if remaining > 0:
        return LoginOutcome(ok=False, locked_for_s=remaining)
    if not verify_password(user.password_hash, password):
        user.failed_logins, locked_until = after_failure(user.failed_logins, now)
        if locked_until is not None:
            user.locked_until = locked_until
            return LoginOutcome(ok=False, locked_for_s=locked_for(locked_until, now))
        return LoginOutcome(ok=False)
    user.failed_logins = 0
    user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    cookie = new_secret()
    csrf = new_secret()
    expires_at = now + timedelta(seconds=ttl_s)
    db.execute(delete(Session).where(Session.expires_at <= now))
    db.add(
        Session(token_hash=hash_secret(cookie), user_id=user.id, csrf_token=csrf, created_at=now, expires_at=expires_at)
    )
    principal = Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        via="session",
        csrf_token=csrf,
        session_hash=hash_secret(cookie),
        expires_at=expires_at,
    )
    return LoginOutcome(ok=True, principal=principal, cookie=cookie)


# --- authenticating requests --------------------------------------------------------------


def session_principal(db: DbSession, cookie: str, now: datetime) -> Principal | None:
    """The principal of a live session cookie, else None (unknown, expired or malformed)."""
    if not cookie or len(cookie) > MAX_SECRET_LENGTH:
        return None
    token_hash = hash_secret(cookie)
    row = db.execute(
        select(Session, User).join(User, User.id == Session.user_id).where(Session.token_hash == token_hash)
    ).one_or_none()
    if row is None:
        return None
    session, user = row.tuple()
    if session.expires_at <= now:
        db.delete(session)
        return None
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        via="session",
        csrf_token=session.csrf_token,
        session_hash=token_hash,
        expires_at=session.expires_at,
    )


def token_principal(db: DbSession, token: str, now: datetime) -> Principal | None:
    """The principal of an API token, else None."""
    if not token or len(token) > MAX_SECRET_LENGTH:
        return None
    row = db.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == hash_secret(token))
    ).one_or_none()
    if row is None:
        return None
    api_token, user = row.tuple()
    if api_token.last_used_at is None or now - api_token.last_used_at >= TOKEN_TOUCH_INTERVAL:
        api_token.last_used_at = now
    scope: TokenScope = "read" if api_token.scope == "read" else "control"
    return Principal(user_id=user.id, username=user.username, role=user.role, via="token", token_id=api_token.id,
                     scope=scope)


def end_session(db: DbSession, session_hash: str) -> None:
    db.execute(delete(Session).where(Session.token_hash == session_hash))


def create_token(db: DbSession, user_id: int, name: str, now: datetime, session_hash: str,
                 scope: TokenScope = "control") -> tuple[str, ApiToken]:
    """Create an API token for ``user_id`` from its session ``session_hash``; returns the secret
    (shown once) and the row."""
    secret = TOKEN_PREFIX + new_secret()
    row = ApiToken(user_id=user_id, name=name, token_hash=hash_secret(secret), created_at=now,
                   created_by_session=session_hash[:16], scope=scope)
    db.add(row)
    db.flush()
    return secret, row


def user_tokens(db: DbSession, user_id: int) -> Sequence[ApiToken]:
    """A user's API tokens, oldest first."""
    return db.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)).all()


def revoke_token(db: DbSession, token_id: int, owner_id: int | None) -> bool:
    """Delete a token (only if ``owner_id`` owns it, unless None: an admin); whether it existed."""
    stmt = delete(ApiToken).where(ApiToken.id == token_id)
    if owner_id is not None:
        stmt = stmt.where(ApiToken.user_id == owner_id)
    result: CursorResult[Any] = db.execute(stmt)  # type: ignore[assignment]  # a DELETE's result has rowcount
    return bool(result.rowcount)
