"""GET /api/v1/webhooks/deliveries: the event webhooks' delivery log, for admins only, newest
first, filtered, with each URL's credentials and query hidden."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import VIEWER_PASSWORD, Api, add_user
from vigil_notifier import webhooks

pytestmark = pytest.mark.integration


def test_admins_read_the_delivery_log(api: Api, factory: sessionmaker[Session]) -> None:
    with factory.begin() as db:
        webhooks.add(db, webhooks.Event("motion_start", "porch", {}), ["https://u:pw@hooks.example/in?token=zzz"])
        webhooks.add(db, webhooks.Event("camera_offline", "yard", {"subject": "s", "text": "t"}),
                     ["https://hooks.example/in", "http://ha.lan:8123/api/webhook/vigil"])
    token = api.token()
    r = api.client.get("/api/v1/webhooks/deliveries", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 3 and [i["event"] for i in body["items"]] == ["camera_offline", "camera_offline",
                                                                         "motion_start"]
    first = body["items"][-1]
    assert first["url"] == "https://hooks.example/in" and "pw" not in r.text and "zzz" not in r.text
    assert first["status"] == "pending" and first["attempts"] == 0 and first["camera_id"] == "porch"
    assert body["items"][0]["event_id"] == body["items"][1]["event_id"]  # one event, two URLs
    only = api.client.get("/api/v1/webhooks/deliveries", params={"camera_id": "porch", "status": "pending"},
                          headers={"Authorization": f"Bearer {token}"}).json()
    assert [i["event"] for i in only["items"]] == ["motion_start"]
    assert api.client.get("/api/v1/webhooks/deliveries", params={"status": "lost"},
                          headers={"Authorization": f"Bearer {token}"}).status_code == 422
    add_user(factory, "vera", VIEWER_PASSWORD)
    viewer = api.token_for("vera", VIEWER_PASSWORD)
    r = api.client.get("/api/v1/webhooks/deliveries", headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 403
    assert api.client.get("/api/v1/webhooks/deliveries").status_code == 401
