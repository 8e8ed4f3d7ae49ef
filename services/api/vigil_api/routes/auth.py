"""/api/v1/auth/* and /api/v1/tokens: login, logout, who am I, API tokens."""

from __future__ import annotations

import math
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status

from vigil_api.auth import SESSION_COOKIE, LoginOutcome, attempt_login, create_token, end_session, user_tokens
from vigil_api.auth import revoke_token as delete_token
from vigil_api.deps import API_PREFIX, State, User, require_user
from vigil_api.login_throttle import LoginThrottle, address_key
from vigil_api.schemas.auth import LoginIn, LoginOut, TokenCreated, TokenIn, TokenOut, WhoAmI
from vigil_api.schemas.common import ErrorOut
from vigil_api.state import AppState
from vigil_common.db.models import utcnow

public = APIRouter(prefix=API_PREFIX, tags=["auth"])
router = APIRouter(prefix=API_PREFIX, tags=["auth"], dependencies=[Depends(require_user)])

_401: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut, "description": "Not authenticated"}}


LOGIN_SLOTS = threading.BoundedSemaphore(4)
LOGIN_WAIT_S = 10.0


@public.post(
    "/auth/login",
    response_model=LoginOut,
    responses={401: {"model": ErrorOut},
               429: {"model": ErrorOut, "description": "Account locked, or too many failures from this address"},
               503: {"model": ErrorOut, "description": "Too many logins at once"}},
)
def login(body: LoginIn, state: State, request: Request, response: Response) -> LoginOut:
    """Check the credentials and open a server-side session (cookie ``vigil_session``).

    After 10 consecutive failures the account is locked for 15 minutes (429, Retry-After); after
    ``VIGIL_LOGIN_MAX_FAILURES_PER_IP`` failures from one address within
    ``VIGIL_LOGIN_FAILURE_WINDOW_S`` that address gets 429 until the window ends.
    """
    settings = state.settings
    address = address_key(request.client.host if request.client else None)
    outcome = _check_credentials(state, body, address)  # a sync route: FastAPI runs it in a worker thread
    if outcome.throttled_for_s > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            "too many failed logins from this address; try again later",
                            headers={"Retry-After": str(math.ceil(outcome.throttled_for_s))})
    if outcome.locked_for_s > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "account temporarily locked after too many failed logins; try again later",
            headers={"Retry-After": str(math.ceil(outcome.locked_for_s))},
        )
    if not outcome.ok or outcome.principal is None or outcome.cookie is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid username or password")
    principal = outcome.principal
    assert principal.csrf_token is not None and principal.expires_at is not None
    response.set_cookie(
        SESSION_COOKIE,
        outcome.cookie,
        max_age=settings.session_ttl_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure_cookie(settings.cookie_secure, request),
    )
    response.headers["Cache-Control"] = "no-store"
    return LoginOut(
        username=principal.username,
        role=principal.role,
        csrf_token=principal.csrf_token,
        expires_at=principal.expires_at,
        timezone=settings.timezone,
    )


def _check_credentials(state: AppState, body: LoginIn, address: str) -> LoginOutcome:
    """The per-address throttle, then the password (both block: called from a worker thread)."""
    settings = state.settings
    throttle = LoginThrottle(state.sync_redis, settings.login_max_failures_per_ip, settings.login_failure_window_s)
    wait_s = throttle.blocked_for(address)
    if wait_s > 0:
        return LoginOutcome(ok=False, throttled_for_s=wait_s)
    # argon2id costs 64 MiB and ~0.1 s of CPU per check: bound how many run at once, and wait
    # for a slot *before* taking a database connection, so a login flood can neither exhaust
    # memory nor starve authenticated requests of the connection pool.
    if not LOGIN_SLOTS.acquire(timeout=LOGIN_WAIT_S):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "too many logins in progress; try again shortly",
                            headers={"Retry-After": "2"})
    try:
        with state.writes.begin() as db:
            outcome = attempt_login(db, body.username, body.password, utcnow(), settings.session_ttl_s)
    finally:
        LOGIN_SLOTS.release()
    if not outcome.ok and outcome.locked_for_s <= 0:
        throttle.failed(address)
    return outcome


def secure_cookie(configured: bool, request: Request) -> bool:
    """Secure when configured, or when this request came over HTTPS (uvicorn sets the scheme
    from X-Forwarded-Proto only for VIGIL_TRUSTED_PROXIES)."""
    return configured or request.url.scheme == "https"


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=_401)
def logout(principal: User, state: State, request: Request) -> Response:
    """End the calling session server-side and clear the cookie (no-op for bearer tokens)."""
    if principal.session_hash is not None:
        with state.writes.begin() as db:
            end_session(db, principal.session_hash)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict",
        secure=secure_cookie(state.settings.cookie_secure, request),
    )
    return response


@router.get("/auth/session", response_model=WhoAmI, responses=_401)
def whoami(principal: User, state: State, response: Response) -> WhoAmI:
    """Who is calling; for a session also its CSRF token (lets the web app survive a reload)."""
    response.headers["Cache-Control"] = "no-store"
    return WhoAmI(
        username=principal.username,
        role=principal.role,
        via=principal.via,
        csrf_token=principal.csrf_token,
        expires_at=principal.expires_at,
        timezone=state.settings.timezone,
    )


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED,
             responses={**_401, 403: {"model": ErrorOut, "description": "Called with a token, not a session"}})
def new_token(body: TokenIn, principal: User, state: State, response: Response) -> TokenCreated:
    """Create an API token for the caller (same user, same role), with scope ``control`` (the
    default: whatever the user may do) or ``read`` (GET/HEAD only). The token is shown once.
    Only from a logged-in session (cookie + CSRF header): a token cannot mint tokens, so
    revoking one (or changing the password, which revokes them all) leaves none behind."""
    if principal.via != "session" or principal.session_hash is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "API tokens can be created only from a logged-in session, not with a token")
    with state.writes.begin() as db:
        secret, row = create_token(db, principal.user_id, body.name, utcnow(), principal.session_hash, body.scope)
    response.headers["Cache-Control"] = "no-store"
    return TokenCreated(token=secret, id=row.id, name=row.name, created_at=row.created_at, scope=body.scope)


@router.get("/tokens", response_model=list[TokenOut], responses=_401)
def list_tokens(principal: User, state: State) -> list[TokenOut]:
    """The caller's API tokens (never the secrets)."""
    with state.factory() as db:
        rows = user_tokens(db, principal.user_id)
        return [TokenOut(id=r.id, name=r.name, created_at=r.created_at, last_used_at=r.last_used_at,
                         created_by_session=r.created_by_session,
                         scope="read" if r.scope == "read" else "control") for r in rows]


@router.delete(
    "/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**_401, 404: {"model": ErrorOut}}
)
def revoke_token(token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], principal: User, state: State) -> Response:
    """Revoke one of the caller's tokens (admins may revoke anyone's)."""
    with state.writes.begin() as db:
        deleted = delete_token(db, token_id, None if principal.is_admin else principal.user_id)
    if not deleted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such token")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
