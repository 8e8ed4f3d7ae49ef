"""User accounts: argon2id hashing, creation, password resets and the admin bootstrap."""

from __future__ import annotations

import logging
import secrets
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.db.models import ApiToken, User
from vigil_common.db.models import Session as SessionRow

log = logging.getLogger(__name__)

Role = Literal["admin", "viewer"]
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"
MIN_PASSWORD_LENGTH = 8

# argon2-cffi's PasswordHasher defaults to argon2id (RFC 9106 low-memory profile).
_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def set_user(db: Session, username: str, password: str, role: Role | None = None) -> User:
    """Create ``username`` (as ``role``, default viewer) or reset its password.

    A reset keeps the user's role unless ``role`` is given, unlocks the account, and, when the
    password changes, ends its sessions and revokes its API tokens (:func:`revoke_credentials`):
    whoever held one must log in with the new password. Setting the same password again (as
    ``VIGIL_ADMIN_PASSWORD`` does at every start) revokes nothing.
    """
    user = db.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        user = User(username=username, password_hash=hash_password(password), role=role or "viewer")
        db.add(user)
    else:
        if not verify_password(user.password_hash, password):
            user.password_hash = hash_password(password)
            revoke_credentials(db, user.id)
        if role is not None:
            user.role = role
        user.failed_logins = 0
        user.locked_until = None
    db.flush()
    return user


def revoke_credentials(db: Session, user_id: int) -> tuple[int, int]:
    """End every session and revoke every API token of ``user_id`` (a password change):
    returns ``(sessions ended, tokens revoked)``."""
    sessions = db.execute(delete(SessionRow).where(SessionRow.user_id == user_id)).rowcount  # type: ignore[attr-defined]
    tokens = db.execute(delete(ApiToken).where(ApiToken.user_id == user_id)).rowcount  # type: ignore[attr-defined]
    return int(sessions or 0), int(tokens or 0)


def delete_user(db: Session, username: str) -> bool:
    return db.execute(delete(User).where(User.username == username)).rowcount > 0  # type: ignore[attr-defined]


def bootstrap_admin(factory: sessionmaker[Session], admin_password: str | None) -> str | None:
    """Ensure the system can be administered.

    With ``admin_password`` user ``admin`` is created or reset to it (the contract's
    VIGIL_ADMIN_PASSWORD). Without, user ``admin`` is created with a random password only when
    no user has the admin role (a fresh install), and the password is returned so the caller
    prints it once: an admin who renamed or removed ``admin`` does not get it back.
    """
    with factory.begin() as db:
        if admin_password:
            set_user(db, "admin", admin_password, "admin")
            return None
        any_admin = db.scalars(select(User.id).where(User.role == "admin").limit(1)).first() is not None
        if any_admin:
            return None
        password = generate_password()
        set_user(db, "admin", password, "admin")
        return password
