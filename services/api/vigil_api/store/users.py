"""User accounts as the users routes read and change them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vigil_common.db.models import ApiToken, User
from vigil_common.db.models import Session as SessionRow


def lock_admins(db: Session) -> int:
    """Lock every admin row (taken first, before the target's, so two changes cannot deadlock)
    and count them: two concurrent demotions or removals cannot both see "2 admins left"."""
    return len(db.scalars(select(User.id).where(User.role == "admin").with_for_update()).all())


def user_for_update(db: Session, user_id: int) -> User | None:
    return db.get(User, user_id, with_for_update=True)


def all_users(db: Session) -> Sequence[User]:
    return db.scalars(select(User).order_by(User.username)).all()


def username_taken(db: Session, username: str) -> bool:
    return db.scalar(select(User.id).where(User.username == username)) is not None


def delete_user(db: Session, user: User) -> None:
    """The account with its sessions and API tokens (explicitly: SQLite enforces ON DELETE
    CASCADE only with a pragma)."""
    db.execute(delete(SessionRow).where(SessionRow.user_id == user.id))
    db.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    db.delete(user)
