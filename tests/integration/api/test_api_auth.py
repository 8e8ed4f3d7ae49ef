"""Login, logout, sessions, CSRF, API tokens, lockout, roles, and auth on every route."""


from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import ADMIN_PASSWORD, VIEWER_PASSWORD, Api, add_camera, add_user, sha256
from vigil_common.db.models import ApiToken, User
from vigil_common.db.models import Session as DbSession

pytestmark = pytest.mark.integration

LOGIN = "/api/v1/auth/login"
PUBLIC = {
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"),
    ("GET", "/"),
}


def test_login_sets_a_hardened_session_cookie(api: Api, factory: sessionmaker[Session]) -> None:
    r = api.client.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["username"] == "admin" and body["role"] == "admin"
    assert len(body["csrf_token"]) >= 32
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC) + timedelta(days=6)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("vigil_session=")
    for attr in ("HttpOnly", "Path=/", "SameSite=strict"):
        assert attr.lower() in cookie.lower()
    assert "secure" not in cookie.lower()  # cookie_secure is off in tests
    raw = api.client.cookies["vigil_session"]
    with factory() as db:
        stored = db.scalars(select(DbSession)).one()
    assert stored.token_hash == sha256(raw) and raw not in stored.token_hash
    me = api.client.get("/api/v1/auth/session").json()
    assert me == {**me, "username": "admin", "via": "session", "csrf_token": body["csrf_token"]}


@pytest.mark.parametrize(
    "creds",
    [
        {"username": "admin", "password": "wrong-password"},
        {"username": "nobody", "password": ADMIN_PASSWORD},
        {"username": "' OR 1=1--", "password": "x"},
    ],
)
def test_bad_credentials_are_401(api: Api, creds: dict[str, str]) -> None:
    r = api.client.post(LOGIN, json=creds)
    assert r.status_code == 401
    assert r.json() == {"detail": "invalid username or password"}
    assert "set-cookie" not in r.headers


def test_login_body_validation_and_size(api: Api) -> None:
    assert api.client.post(LOGIN, json={"username": "admin"}).status_code == 422
    r = api.client.post(LOGIN, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]
    huge = b'{"username": "admin", "password": "' + b"a" * (4 * 1024 * 1024) + b'"}'
    r = api.client.post(LOGIN, content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "too large" in r.json()["detail"]
    # Without a Content-Length (chunked), the bytes are counted as they are read.
    r = api.client.post(
        LOGIN, content=iter([huge[:40_000], huge[40_000:80_000]]), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    # The general limit is 1 MB.
    r = api.client.post("/api/v1/tokens", content=b"x" * (2 * 1024 * 1024))
    assert r.status_code == 413


def test_logout_ends_the_session_server_side(api: Api, factory: sessionmaker[Session]) -> None:
    csrf = api.login()
    assert api.client.post("/api/v1/auth/logout").status_code == 403  # no CSRF header
    stolen = api.client.cookies["vigil_session"]
    r = api.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    with factory() as db:
        assert db.scalars(select(DbSession)).all() == []
    # Replaying the old cookie does not work any more.
    api.client.cookies.set("vigil_session", stolen)
    r = api.client.get("/api/v1/cameras")
    assert r.status_code == 401 and "log in" in r.json()["detail"]


def test_expired_session_is_rejected(api: Api, factory: sessionmaker[Session]) -> None:
    api.login()
    assert api.client.get("/api/v1/cameras").status_code == 200
    with factory.begin() as db:
        db.execute(update(DbSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert api.client.get("/api/v1/cameras").status_code == 401


def test_csrf_rule_for_cookie_writes(api: Api, factory: sessionmaker[Session]) -> None:
    add_camera(factory, "cam1")
    csrf = api.login()
    url = "/api/v1/cameras/cam1"
    r = api.client.patch(url, json={"name": "Porch"})
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    assert api.client.patch(url, json={"name": "Porch"}, headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    assert api.client.patch(url, json={"name": "Porch"}, headers={"X-CSRF-Token": csrf}).status_code == 200
    # Safe methods need no CSRF token.
    assert api.client.get(url).status_code == 200


def test_api_tokens(api: Api, factory: sessionmaker[Session]) -> None:
    add_camera(factory, "cam1")
    csrf = api.login()
    r = api.client.post("/api/v1/tokens", json={"name": "home-assistant"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    created = r.json()
    token = created["token"]
    assert set(created) == {"token", "id", "name", "created_at", "scope"} and created["scope"] == "control"
    with factory() as db:
        row = db.scalars(select(ApiToken)).one()
    assert row.token_hash == sha256(token)
    listed = api.client.get("/api/v1/tokens").json()
    assert listed == [{**listed[0], "id": created["id"], "name": "home-assistant"}]
    assert token not in str(listed)
    api.client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/cameras", headers=bearer).status_code == 200
    # Bearer writes need no CSRF token.
    assert api.client.patch("/api/v1/cameras/cam1", json={"location": "porch"}, headers=bearer).status_code == 200
    assert api.client.get("/api/v1/auth/session", headers=bearer).json()["via"] == "token"
    with factory() as db:
        assert db.scalars(select(ApiToken)).one().last_used_at is not None
    # Wrong, malformed and revoked tokens.
    for header in ("Bearer nope", "Basic YWRtaW46eA==", "Bearer ", "Bearer " + "a" * 5000):
        r = api.client.get("/api/v1/cameras", headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.headers["www-authenticate"] == "Bearer"
    assert api.client.delete(f"/api/v1/tokens/{created['id']}", headers=bearer).status_code == 204
    assert api.client.get("/api/v1/cameras", headers=bearer).status_code == 401


def test_lockout_after_repeated_failures(api: Api, factory: sessionmaker[Session]) -> None:
    for _ in range(9):
        assert api.client.post(LOGIN, json={"username": "admin", "password": "nope-nope"}).status_code == 401
    r = api.client.post(LOGIN, json={"username": "admin", "password": "nope-nope"})
    assert r.status_code == 429
    assert "locked" in r.json()["detail"] and int(r.headers["retry-after"]) > 0
    # Even the right password is refused while locked.
    r = api.client.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 429
    with factory.begin() as db:
        db.execute(update(User).values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))
    assert api.client.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 200
    with factory() as db:
        user = db.scalars(select(User).where(User.username == "admin")).one()
    assert user.failed_logins == 0 and user.locked_until is None


def test_success_resets_the_failure_count(api: Api, factory: sessionmaker[Session]) -> None:
    for _ in range(5):
        api.client.post(LOGIN, json={"username": "admin", "password": "nope-nope"})
    api.login()
    with factory() as db:
        assert db.scalars(select(User.failed_logins).where(User.username == "admin")).one() == 0


def test_viewer_role(api: Api, factory: sessionmaker[Session]) -> None:
    add_camera(factory, "cam1")
    add_user(factory, "vera", VIEWER_PASSWORD, "viewer")
    csrf = api.login("vera", VIEWER_PASSWORD)
    h = {"X-CSRF-Token": csrf}
    assert api.client.get("/api/v1/cameras").status_code == 200
    assert api.client.get("/api/v1/recordings").status_code == 200
    r = api.client.patch("/api/v1/cameras/cam1", json={"name": "x"}, headers=h)
    assert r.status_code == 403 and r.json()["detail"] == "admin role required"
    assert api.client.delete("/api/v1/cameras/cam1", headers=h).status_code == 403
    r = api.client.post("/api/v1/cameras/cam1/commands", json={"action": "stop"}, headers=h)
    assert r.status_code == 403
    r = api.client.post("/api/v1/cameras/cam1/commands", json={"action": "configure", "params": {"fps": 5}}, headers=h)
    assert r.status_code == 403
    # A viewer may create a token for themself; it carries the viewer role.
    r = api.client.post("/api/v1/tokens", json={"name": "mine"}, headers=h)
    assert r.status_code == 201
    api.client.cookies.clear()
    bearer = {"Authorization": f"Bearer {r.json()['token']}"}
    assert api.client.patch("/api/v1/cameras/cam1", json={"name": "x"}, headers=bearer).status_code == 403


def _concrete(path: str) -> str:
    return path.replace("{camera_id}", "cam1").replace("{recording_id}", "1").replace("{token_id}", "1")


def test_every_route_requires_auth_except_the_public_ones(api: Api, factory: sessionmaker[Session]) -> None:
    add_camera(factory, "cam1")
    checked = 0
    for route in iter_route_contexts(api.app.routes):
        for method in sorted(route.methods or ()):
            if (method, route.path) in PUBLIC:
                continue
            url = _concrete(route.path)
            for cookies in ({}, {"vigil_session": "forged"}):
                api.client.cookies.clear()
                api.client.cookies.update(cookies)
                r = api.client.request(method, url)
                assert r.status_code == 401, (method, url, cookies, r.status_code)
            checked += 1
    assert checked >= 15
    # And the public ones really are public.
    api.client.cookies.clear()
    assert api.client.get("/api/v1/health").status_code == 200
    assert api.client.get("/openapi.json").status_code == 200
    assert api.client.get("/").status_code == 404  # no web app in this app: public, not 401


def test_one_address_cannot_walk_through_accounts(api: Api, factory: sessionmaker[Session]) -> None:
    """Per-address throttle: failures spread over many accounts (so no account locks) still stop
    the address after VIGIL_LOGIN_MAX_FAILURES_PER_IP, even for a right password, until the
    window ends; other addresses are unaffected."""
    import redis

    from vigil_api.login_throttle import address_key

    limit = api.settings.login_max_failures_per_ip
    for i in range(limit):
        r = api.client.post(LOGIN, json={"username": f"user{i}", "password": "guess-guess"})
        assert r.status_code == 401
    r = api.client.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 429 and "address" in r.json()["detail"]
    assert 0 < int(r.headers["retry-after"]) <= api.settings.login_failure_window_s
    with factory() as db:  # the throttle answered before any password check: admin not touched
        assert db.scalars(select(User.failed_logins).where(User.username == "admin")).one() == 0
    rds = redis.Redis.from_url(api.settings.redis_url)
    key = address_key("testclient")
    assert 0 < rds.ttl(key) <= api.settings.login_failure_window_s  # bounded: the count expires
    rds.delete(key)  # the window ends
    rds.close()
    assert api.client.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 200


def test_address_keys_are_normalised_and_bounded() -> None:
    from vigil_api.login_throttle import KEY_PREFIX, address_key

    assert address_key("192.0.2.7") == KEY_PREFIX + "192.0.2.7"
    assert address_key("::ffff:192.0.2.7") == KEY_PREFIX + "192.0.2.7"
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff:1") == KEY_PREFIX + "2001:db8::/64"
    odd = address_key("x" * 10_000 + "\r\n*")
    assert odd.startswith(KEY_PREFIX + "h-") and len(odd) == len(KEY_PREFIX) + 18
    assert address_key(None) == address_key("")
