"""/api/v1/users: user accounts (admin only): list, add, change role or reset password, remove.

Passwords are hashed with argon2id (vigil_common.db.users). A password reset ends the user's
sessions. The last admin can be neither demoted nor removed, and nobody removes themselves.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response, status
from sqlalchemy.orm import Session

from vigil_api.deps import API_PREFIX, Admin, State, require_admin
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.users import UserChanged, UserIn, UserOut, UserPatch
from vigil_api.store import users as store
from vigil_common.db.models import User, utcnow
from vigil_common.db.users import hash_password, revoke_credentials

router = APIRouter(prefix=f"{API_PREFIX}/users", tags=["users"], dependencies=[Depends(require_admin)])

UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


_errors: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not authenticated"},
    403: {"model": ErrorOut, "description": "Admin role required"},
    404: {"model": ErrorOut, "description": "No such user"},
    422: {"model": ErrorOut, "description": "Invalid input"},
}


def _out(user: User) -> UserOut:
    now = utcnow()
    locked = user.locked_until is not None and user.locked_until > now
    return UserOut(id=user.id, username=user.username, role="admin" if user.role == "admin" else "viewer",
                   created_at=user.created_at, locked=locked, locked_until=user.locked_until if locked else None)


def _get(db: Session, user_id: int) -> User:
    user = store.user_for_update(db, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user")
    return user


@router.get("", response_model=list[UserOut], responses=_errors)
def list_users(state: State) -> list[UserOut]:
    """Every account, by username (never the password hashes)."""
    with state.factory() as db:
        return [_out(u) for u in store.all_users(db)]


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED,
             responses={**_errors, 409: {"model": ErrorOut, "description": "Username taken"}})
def add_user(body: UserIn, state: State, response: Response) -> UserOut:
    """Create an account with a password (at least 8 characters) and a role."""
    with state.writes.begin() as db:
        if store.username_taken(db, body.username):
            raise HTTPException(status.HTTP_409_CONFLICT, "a user with that name exists")
        user = User(username=body.username, password_hash=hash_password(body.password), role=body.role,
                    created_at=utcnow(), failed_logins=0)
        db.add(user)
        db.flush()
        out = _out(user)
    response.headers["Location"] = f"{API_PREFIX}/users/{out.id}"
    return out


@router.patch("/{user_id}", response_model=UserChanged, responses={**_errors, 409: {"model": ErrorOut}})
def change_user(user_id: UserId, body: UserPatch, principal: Admin, state: State) -> UserOut:
    """Set the role and/or a new password. A new password unlocks the account, ends its
    sessions (the admin's own current session too, if they reset their own password) and
    revokes its API tokens (``tokens_revoked`` says how many)."""
    if body.role is None and body.password is None:
        raise HTTPException(422, "give role and/or password")
    with state.writes.begin() as db:
        admins = store.lock_admins(db)
        user = _get(db, user_id)
        if body.role == "viewer" and user.role == "admin" and admins <= 1:
            raise HTTPException(status.HTTP_409_CONFLICT, "the last admin cannot be made a viewer")
        if body.role is not None:
            user.role = body.role
        revoked = 0
        if body.password is not None:
            user.password_hash = hash_password(body.password)
            user.failed_logins = 0
            user.locked_until = None
            _sessions, revoked = revoke_credentials(db, user.id)
        db.flush()
        return UserChanged(**_out(user).model_dump(), tokens_revoked=revoked)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses={**_errors, 409: {"model": ErrorOut, "description": "Yourself, or the last admin"}})
def remove_user(user_id: UserId, principal: Admin, state: State) -> Response:
    """Remove an account (its sessions and API tokens go with it)."""
    if user_id == principal.user_id:
        raise HTTPException(status.HTTP_409_CONFLICT, "you cannot remove your own account")
    with state.writes.begin() as db:
        admins = store.lock_admins(db)
        user = _get(db, user_id)
        if user.role == "admin" and admins <= 1:
            raise HTTPException(status.HTTP_409_CONFLICT, "the last admin cannot be removed")
        store.delete_user(db, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
