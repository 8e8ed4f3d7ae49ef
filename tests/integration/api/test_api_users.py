"""/api/v1/users: admin-only account management."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import VIEWER_PASSWORD, Api, add_user

pytestmark = pytest.mark.integration


def _admin(api: Api) -> dict[str, str]:
    return {"X-CSRF-Token": api.login()}


def test_admin_adds_lists_changes_and_removes_users(api: Api) -> None:
    h = _admin(api)
    r = api.client.post("/api/v1/users", json={"username": "carol", "password": "carol-pass-1", "role": "viewer"},
                        headers=h)
    assert r.status_code == 201, r.text
    carol = r.json()
    assert carol["username"] == "carol" and carol["role"] == "viewer" and carol["locked"] is False
    assert r.headers["location"] == f"/api/v1/users/{carol['id']}"
    assert "password" not in r.text and "hash" not in r.text
    listed = api.client.get("/api/v1/users").json()
    assert [u["username"] for u in listed] == ["admin", "carol"]
    # Duplicate name: 409.
    r = api.client.post("/api/v1/users", json={"username": "carol", "password": "another-pass"}, headers=h)
    assert r.status_code == 409
    # Promote, then reset the password: the new one works, the old one not.
    r = api.client.patch(f"/api/v1/users/{carol['id']}", json={"role": "admin"}, headers=h)
    assert r.status_code == 200 and r.json()["role"] == "admin"
    r = api.client.patch(f"/api/v1/users/{carol['id']}", json={"password": "carol-new-pass"}, headers=h)
    assert r.status_code == 200
    other = api.client.__class__(api.app)
    assert other.post("/api/v1/auth/login", json={"username": "carol", "password": "carol-pass-1"}).status_code == 401
    assert other.post("/api/v1/auth/login", json={"username": "carol", "password": "carol-new-pass"}).status_code == 200
    # Remove.
    assert api.client.delete(f"/api/v1/users/{carol['id']}", headers=h).status_code == 204
    assert [u["username"] for u in api.client.get("/api/v1/users").json()] == ["admin"]
    assert api.client.delete(f"/api/v1/users/{carol['id']}", headers=h).status_code == 404


def test_a_password_reset_ends_the_users_sessions(api: Api, factory: sessionmaker[Session]) -> None:
    add_user(factory, "dave", VIEWER_PASSWORD)
    dave = api.client.__class__(api.app)
    assert dave.post("/api/v1/auth/login", json={"username": "dave", "password": VIEWER_PASSWORD}).status_code == 200
    assert dave.get("/api/v1/cameras").status_code == 200
    h = _admin(api)
    uid = next(u["id"] for u in api.client.get("/api/v1/users").json() if u["username"] == "dave")
    assert api.client.patch(f"/api/v1/users/{uid}", json={"password": "brand-new-pass"}, headers=h).status_code == 200
    assert dave.get("/api/v1/cameras").status_code == 401


def test_invalid_input_is_refused_with_a_reason(api: Api) -> None:
    h = _admin(api)
    for body in (
        {"username": "bad name", "password": "long-enough-1"},
        {"username": "x" * 65, "password": "long-enough-1"},
        {"username": "eve", "password": "short"},
        {"username": "eve", "password": "long-enough-1", "role": "root"},
        {"username": "eve", "password": "long-enough-1", "extra": 1},
    ):
        r = api.client.post("/api/v1/users", json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"]
    uid = api.client.get("/api/v1/users").json()[0]["id"]
    assert api.client.patch(f"/api/v1/users/{uid}", json={}, headers=h).status_code == 422
    assert api.client.patch("/api/v1/users/0", json={"role": "viewer"}, headers=h).status_code == 422
    assert api.client.patch("/api/v1/users/999", json={"role": "viewer"}, headers=h).status_code == 404


def test_the_last_admin_and_yourself_are_protected(api: Api) -> None:
    h = _admin(api)
    me = api.client.get("/api/v1/users").json()[0]
    r = api.client.patch(f"/api/v1/users/{me['id']}", json={"role": "viewer"}, headers=h)
    assert r.status_code == 409 and "last admin" in r.json()["detail"]
    r = api.client.delete(f"/api/v1/users/{me['id']}", headers=h)
    assert r.status_code == 409 and "your own" in r.json()["detail"]


def test_viewers_and_missing_csrf_are_refused(api: Api, factory: sessionmaker[Session]) -> None:
    add_user(factory, "viewer", VIEWER_PASSWORD)
    csrf = api.login("viewer", VIEWER_PASSWORD)
    assert api.client.get("/api/v1/users").status_code == 403
    r = api.client.post("/api/v1/users", json={"username": "x", "password": "long-enough-1"},
                        headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    api.login()
    r = api.client.post("/api/v1/users", json={"username": "x", "password": "long-enough-1"})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]


def test_users_routes_are_in_the_openapi_document(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/users"])
    assert {"patch", "delete"} <= set(paths["/api/v1/users/{user_id}"])


def test_concurrent_demotions_cannot_remove_the_last_admin(api: Api, factory: sessionmaker[Session]) -> None:
    """The admin rows are locked before the check: a demotion waits for a concurrent one to
    commit, then sees only one admin left and is refused."""
    import threading

    from sqlalchemy import select, update

    from vigil_api.store.users import lock_admins as _lock_admins
    from vigil_common.db.models import User

    add_user(factory, "carol", "carol-pass-1", "admin")
    h = _admin(api)
    carol_id = next(u["id"] for u in api.client.get("/api/v1/users").json() if u["username"] == "carol")
    result: dict[str, int] = {}
    with factory.begin() as db:  # another request's transaction, between its check and its commit
        assert _lock_admins(db) == 2

        def demote_carol() -> None:
            r = api.client.patch(f"/api/v1/users/{carol_id}", json={"role": "viewer"}, headers=h)
            result["status"] = r.status_code

        worker = threading.Thread(target=demote_carol)
        worker.start()
        worker.join(1.0)
        assert worker.is_alive(), "the second demotion must wait for the first transaction"
        db.execute(update(User).where(User.username == "admin").values(role="viewer"))
    worker.join(10)
    assert result["status"] == 409
    with factory() as db:
        assert db.scalars(select(User.username).where(User.role == "admin")).all() == ["carol"]
