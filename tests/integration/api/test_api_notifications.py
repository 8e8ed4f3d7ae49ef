"""/api/v1/notifications: the log, runtime settings (admin, CSRF, 422 on bad addresses), test e-mail."""


from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import VIEWER_PASSWORD, Api, add_user
from vigil_common.db.models import Notification, utcnow

pytestmark = pytest.mark.integration
BASE = "/api/v1/notifications"


def _row(db: Session, kind: str, camera: str | None, status: str = "sent") -> None:
    db.add(Notification(created_at=utcnow(), kind=kind, camera_id=camera, subject=f"[Vigil] {kind}",
                        body_text="t", body_html="<p>t</p>", channel="sendgrid", recipients=json.dumps(["a@x.org"]),
                        status=status, attempts=1, error=None, delivered_at=utcnow() if status == "sent" else None))


def test_log_is_newest_first_paged_and_filtered(api: Api, factory: sessionmaker[Session]) -> None:
    with factory.begin() as db:
        _row(db, "camera_new", "cam1")
        _row(db, "camera_offline", "cam1")
        _row(db, "camera_offline", "cam2", status="failed")
        _row(db, "test", None, status="pending")
    api.login()
    r = api.client.get(BASE)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 4 and [i["kind"] for i in body["items"]] == ["test", "camera_offline", "camera_offline",
                                                                          "camera_new"]
    item = body["items"][1]
    assert set(item) == {"id", "created_at", "kind", "camera_id", "subject", "channel", "recipients", "status",
                         "attempts", "error", "delivered_at"}
    assert item["recipients"] == ["a@x.org"] and item["status"] == "failed"
    r = api.client.get(BASE, params={"kind": "camera_offline", "camera_id": "cam1"})
    assert r.json()["total"] == 1
    r = api.client.get(BASE, params={"limit": 2, "offset": 1})
    assert [i["kind"] for i in r.json()["items"]] == ["camera_offline", "camera_offline"]
    for bad in ({"camera_id": "../x"}, {"kind": "x'; drop"}, {"limit": 0}, {"limit": 100000}, {"offset": -1}):
        assert api.client.get(BASE, params=bad).status_code == 422, bad


def test_settings_fall_back_then_change_then_validate(api: Api, factory: sessionmaker[Session]) -> None:
    csrf = api.login()
    r = api.client.get(f"{BASE}/settings")
    assert r.status_code == 200
    assert r.json() == {"recipients": [], "offline_grace_s": 60.0, "reminder_after_s": 3600.0,
                        "reminder_every_s": 86400.0, "channel": "console"}
    h = {"X-CSRF-Token": csrf}
    r = api.client.put(f"{BASE}/settings", json={"recipients": ["ops@example.org", " b@example.org"],
                                                 "offline_grace_s": 120, "reminder_after_s": None}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"recipients": ["ops@example.org", "b@example.org"], "offline_grace_s": 120.0,
                        "reminder_after_s": None, "reminder_every_s": 86400.0, "channel": "console"}
    assert api.client.get(f"{BASE}/settings").json()["offline_grace_s"] == 120.0
    for bad in ({"recipients": ["not-an-address"]}, {"recipients": ["a@b.co\nBcc: x@y.org"]},
                {"offline_grace_s": -1}, {"channel": "smtp"}, {"reminder_every_s": 0}):
        r = api.client.put(f"{BASE}/settings", json=bad, headers=h)
        assert r.status_code == 422, (bad, r.text)
    # Cookie writes need CSRF.
    assert api.client.put(f"{BASE}/settings", json={"offline_grace_s": 5}).status_code == 403


def test_viewer_reads_but_cannot_change_or_test(api: Api, factory: sessionmaker[Session]) -> None:
    add_user(factory, "viewer", VIEWER_PASSWORD, "viewer")
    csrf = api.login("viewer", VIEWER_PASSWORD)
    h = {"X-CSRF-Token": csrf}
    assert api.client.get(BASE).status_code == 200
    assert api.client.get(f"{BASE}/settings").status_code == 200
    assert api.client.put(f"{BASE}/settings", json={"offline_grace_s": 5}, headers=h).status_code == 403
    assert api.client.post(f"{BASE}/test", headers=h).status_code == 403


def test_test_email_is_queued_for_the_notifier(api: Api, factory: sessionmaker[Session]) -> None:
    csrf = api.login()
    h = {"X-CSRF-Token": csrf}
    api.client.put(f"{BASE}/settings", json={"recipients": ["ops@example.org"]}, headers=h)
    r = api.client.post(f"{BASE}/test", headers=h)
    assert r.status_code == 202, r.text
    first = r.json()["id"]
    r = api.client.post(f"{BASE}/test", json={"to": ["me@example.org"]}, headers=h)
    assert r.status_code == 202
    with factory() as db:
        a, b = db.get(Notification, first), db.get(Notification, r.json()["id"])
        assert a is not None and b is not None
        assert (a.kind, a.status, json.loads(a.recipients)) == ("test", "pending", ["ops@example.org"])
        assert json.loads(b.recipients) == ["me@example.org"]
    assert api.client.post(f"{BASE}/test", json={"to": ["nope"]}, headers=h).status_code == 422
    assert api.client.post(f"{BASE}/test", json={"to": []}, headers=h).status_code == 422
    items = api.client.get(BASE).json()["items"]
    assert items[0]["status"] == "pending" and items[0]["kind"] == "test"


def test_viewers_see_recipient_addresses_masked(api: Api, factory: sessionmaker[Session]) -> None:
    """Admins manage the alert recipients and see them whole; viewers only see that mail goes out."""
    from vigil_api.routes.notifications import mask_address

    with factory.begin() as db:
        _row(db, "camera_offline", "cam1")
    h = {"X-CSRF-Token": api.login()}
    assert api.client.put(f"{BASE}/settings", json={"recipients": ["alice@example.com"]}, headers=h).status_code == 200
    assert api.client.get(f"{BASE}/settings").json()["recipients"] == ["alice@example.com"]
    assert api.client.get(BASE).json()["items"][0]["recipients"] == ["a@x.org"]
    api.client.cookies.clear()
    add_user(factory, "viewer", VIEWER_PASSWORD, "viewer")
    api.login("viewer", VIEWER_PASSWORD)
    assert api.client.get(f"{BASE}/settings").json()["recipients"] == ["a…@example.com"]
    assert api.client.get(BASE).json()["items"][0]["recipients"] == ["a…@x.org"]
    assert mask_address("not-an-address") == "…"
