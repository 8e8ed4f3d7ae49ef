"""FastAPI dependencies: the app state, authentication, CSRF and roles, validated ids."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import APIKeyCookie, HTTPBearer

from vigil_api.auth import CSRF_HEADER, SESSION_COOKIE, Principal, session_principal, token_principal
from vigil_api.state import AppState
from vigil_common.contract.ids import CAMERA_ID_PATTERN
from vigil_common.contract.urls import API_PREFIX as API_PREFIX
from vigil_common.db.models import utcnow

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared only so the OpenAPI document shows both ways to authenticate; the header and cookie
# are read (strictly) in require_user.
_bearer_doc = HTTPBearer(auto_error=False, description="API token from POST /api/v1/tokens")
_cookie_doc = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="Session cookie set by POST /api/v1/auth/login"
)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.vigil
    return state


State = Annotated[AppState, Depends(get_state)]


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, reason, headers={"WWW-Authenticate": "Bearer"})


def require_user(
    request: Request,
    state: State,
    _bearer: Annotated[object, Depends(_bearer_doc)] = None,
    _cookie: Annotated[object, Depends(_cookie_doc)] = None,
) -> Principal:
    """Authenticate by ``Authorization: Bearer`` (wins if present) or the session cookie.

    A token with scope ``read`` may use the safe methods only (403 otherwise), whatever its role.

    A cookie-authenticated unsafe method must carry ``X-CSRF-Token`` equal to the session's.
    """
    now = utcnow()
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise _unauthorized("malformed Authorization header: expected 'Bearer <token>'")
        with state.factory.begin() as db:  # writes only a rare last_used_at
            principal = token_principal(db, credentials.strip(), now)
        if principal is None:
            raise _unauthorized("invalid API token")
        if principal.scope == "read" and request.method.upper() not in SAFE_METHODS:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"this API token is read-only (scope read): {request.method.upper()} needs a "
                                "token with scope control")
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise _unauthorized("authentication required: log in or send 'Authorization: Bearer <token>'")
    with state.factory.begin() as db:  # writes only when deleting an expired session
        principal = session_principal(db, cookie, now)
    if principal is None:
        raise _unauthorized("session expired or invalid: log in again")
    if request.method.upper() not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        expected = principal.csrf_token or ""
        if not sent or not hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8")):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"missing or wrong {CSRF_HEADER} header (required on cookie-authenticated writes)",
            )
    return principal


User = Annotated[Principal, Depends(require_user)]


def require_admin(principal: User) -> Principal:
    if not principal.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admin role required")
    return principal


Admin = Annotated[Principal, Depends(require_admin)]

# Path parameter validated against the contract's regex before the handler runs (422 otherwise).
CameraId = Annotated[
    str,
    Path(
        pattern=CAMERA_ID_PATTERN,
        max_length=32,
        description="Camera id, " + CAMERA_ID_PATTERN,
        examples=["porch"],
    ),
]
