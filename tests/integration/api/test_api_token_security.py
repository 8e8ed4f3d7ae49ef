"""Issue 12, point 3: API tokens outlived a password reset, and a token could mint tokens that
survived revoking it. Now a password change revokes the user's tokens (and says so), tokens are
made only from a logged-in session, they record that session, and they die with the user."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import ADMIN_PASSWORD, VIEWER_PASSWORD, Api, add_user
from vigil_common.db.users import bootstrap_admin, set_user

pytestmark = pytest.mark.integration


def bearer(api: Api, token: str, path: str = "/api/v1/auth/session") -> int:
    return api.client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code


def viewer_token(api: Api, factory: sessionmaker[Session]) -> tuple[str, int]:
    add_user(factory, "vera", VIEWER_PASSWORD)
    token = api.token_for("vera", VIEWER_PASSWORD)
    users = api.client.get("/api/v1/users", headers={"Authorization": f"Bearer {api.token()}"}).json()
    return token, next(u["id"] for u in users if u["username"] == "vera")


def test_a_password_reset_revokes_the_users_tokens_and_says_so(api: Api, factory: sessionmaker[Session]) -> None:
    token, vera = viewer_token(api, factory)
    assert bearer(api, token) == 200
    csrf = api.login()
    r = api.client.patch(f"/api/v1/users/{vera}", json={"password": "a-new-password-9"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["tokens_revoked"] == 1, r.text
    assert bearer(api, token) == 401  # the attacker who stole it is out
    r = api.client.patch(f"/api/v1/users/{vera}", json={"role": "viewer"}, headers={"X-CSRF-Token": csrf})
    assert r.json()["tokens_revoked"] == 0  # a role change revokes nothing


def test_the_cli_and_the_start_up_reset_revoke_only_on_a_real_change(api: Api,
                                                                        factory: sessionmaker[Session]) -> None:
    admin_token = api.token("integration")
    bootstrap_admin(factory, ADMIN_PASSWORD)  # VIGIL_ADMIN_PASSWORD, unchanged, at every start
    assert bearer(api, admin_token) == 200
    with factory.begin() as db:  # `vigil user passwd admin`
        set_user(db, "admin", "another-admin-password")
    assert bearer(api, admin_token) == 401


def test_a_token_cannot_mint_tokens(api: Api, factory: sessionmaker[Session]) -> None:
    token = api.token()
    r = api.client.post("/api/v1/tokens", json={"name": "child"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and "logged-in session" in r.json()["detail"]
    # a cookie session without the CSRF header cannot either
    api.login()
    assert api.client.post("/api/v1/tokens", json={"name": "no-csrf"}).status_code == 403


def test_tokens_record_their_session_and_die_with_the_user(api: Api, factory: sessionmaker[Session]) -> None:
    token, vera = viewer_token(api, factory)
    csrf = api.login("vera", VIEWER_PASSWORD)
    listed = api.client.get("/api/v1/tokens").json()
    assert len(listed) == 1 and len(listed[0]["created_by_session"]) == 16
    api.client.cookies.clear()
    csrf = api.login()
    assert api.client.delete(f"/api/v1/users/{vera}", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert bearer(api, token) == 401


def test_a_read_scoped_token_reads_everything_and_changes_nothing(api: Api, factory: sessionmaker[Session]) -> None:
    """Issue 16: API tokens with scopes. An admin's read token (a dashboard, Prometheus) reads
    what the admin reads and is refused every write, with the reason; a control token (the
    default, and every token made before scopes) keeps doing what its user may."""
    from tests.integration.support.api import add_camera

    add_camera(factory, "cam1")
    csrf = api.login()
    made = api.client.post("/api/v1/tokens", json={"name": "grafana", "scope": "read"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201 and made.json()["scope"] == "read", made.text
    default = api.client.post("/api/v1/tokens", json={"name": "hass"}, headers={"X-CSRF-Token": csrf})
    assert default.json()["scope"] == "control"
    bad = api.client.post("/api/v1/tokens", json={"name": "x", "scope": "admin"}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422
    listed = {t["name"]: t["scope"] for t in api.client.get("/api/v1/tokens").json()}
    assert listed == {"grafana": "read", "hass": "control"}
    api.client.cookies.clear()
    read = {"Authorization": f"Bearer {made.json()['token']}"}
    control = {"Authorization": f"Bearer {default.json()['token']}"}

    for path in ("/api/v1/cameras", "/api/v1/cameras/cam1", "/api/v1/users", "/metrics", "/api/v1/auth/session"):
        assert api.client.get(path, headers=read).status_code == 200, path
    writes = [("POST", "/api/v1/cameras/cam1/commands", {"action": "stop"}),
              ("PATCH", "/api/v1/cameras/cam1", {"name": "renamed"}),
              ("DELETE", "/api/v1/cameras/cam1", None),
              ("POST", "/api/v1/users", {"username": "mallory", "password": "long-enough-pw-1", "role": "admin"}),
              ("POST", "/api/v1/auth/logout", None)]
    for method, path, body in writes:
        r = api.client.request(method, path, json=body, headers=read)
        assert r.status_code == 403 and "read-only (scope read)" in r.json()["detail"], (method, path, r.text)
    assert api.client.get("/api/v1/cameras/cam1", headers=read).json()["name"] != "renamed"
    r = api.client.patch("/api/v1/cameras/cam1", json={"name": "renamed"}, headers=control)
    assert r.status_code == 200 and r.json()["name"] == "renamed"
