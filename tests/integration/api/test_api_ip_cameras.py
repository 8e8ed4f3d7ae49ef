"""/api/v1/ip-cameras: IP cameras added by RTSP URL (here) or ONVIF (test_api_onvif.py) — for
admins only, credentials sealed in the database and never in a response, bad input refused
with its reason."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from vigil_ipcams import records
from vigil_ipcams.secretbox import SecretBox

from tests.integration.support.api import VIEWER_PASSWORD, Api, add_camera, add_user

pytestmark = pytest.mark.integration
PASSWORD = "pw-Zq81-never-shown"


def test_an_ip_camera_added_by_its_rtsp_url(api: Api, factory: sessionmaker[Session]) -> None:
    headers = {"Authorization": f"Bearer {api.token()}"}
    body = {"camera_id": "garage", "name": "Garage", "location": "Side", "rtsp_url": "rtsp://10.9.9.9:554/main",
            "username": "admin", "password": PASSWORD}
    r = api.client.post("/api/v1/ip-cameras", json=body, headers=headers)
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["camera_id"], out["name"], out["source"], out["has_credentials"], out["enabled"]) == (
        "garage", "Garage", "rtsp", True, True)
    assert out["stream_uri"] == "rtsp://10.9.9.9:554/main"
    listed = api.client.get("/api/v1/ip-cameras", headers=headers)
    one = api.client.get("/api/v1/ip-cameras/garage", headers=headers)
    cam = api.client.get("/api/v1/cameras/garage", headers=headers)  # listed before its first frame
    assert listed.json()["items"][0]["camera_id"] == "garage" and one.status_code == 200
    assert cam.status_code == 200 and cam.json()["name"] == "Garage"
    for response in (r, listed, one, cam):
        assert PASSWORD not in response.text
    with factory() as db:
        stored = db.execute(text("SELECT credentials, stream_uri FROM ip_cameras")).one()
        assert PASSWORD not in stored[0] and "admin" not in stored[0] and PASSWORD not in stored[1]
        specs, problems = records.desired(db, SecretBox.from_settings(api.settings))
    assert problems == {} and specs["garage"].url == f"rtsp://admin:{PASSWORD}@10.9.9.9:554/main"

    again = api.client.post("/api/v1/ip-cameras", json=body, headers=headers)
    assert again.status_code == 409 and "in use" in again.json()["detail"]
    off = api.client.patch("/api/v1/ip-cameras/garage", json={"enabled": False}, headers=headers)
    assert off.status_code == 200 and off.json()["enabled"] is False
    with factory() as db:
        assert "garage" not in records.desired(db, SecretBox.from_settings(api.settings))[0]
    new = api.client.patch("/api/v1/ip-cameras/garage", json={"username": "", "password": ""}, headers=headers)
    assert new.status_code == 200 and new.json()["has_credentials"] is False
    half = api.client.patch("/api/v1/ip-cameras/garage", json={"username": "x"}, headers=headers)
    assert half.status_code == 422 and "together" in half.json()["detail"]
    assert api.client.delete("/api/v1/ip-cameras/garage", headers=headers).status_code == 204
    assert api.client.get("/api/v1/ip-cameras/garage", headers=headers).status_code == 404
    assert api.client.get("/api/v1/cameras/garage", headers=headers).status_code == 200  # recordings stay


@pytest.mark.parametrize(("change", "status", "reason"), [
    ({"rtsp_url": "rtsp://admin:pw@10.9.9.9/main"}, 400, "own fields"),
    ({"rtsp_url": "http://10.9.9.9/main"}, 400, "rtsp://"),
    ({"xaddr": "http://10.9.9.9/onvif/device_service"}, 422, "exactly one"),
    ({"camera_id": "Garage!"}, 422, ""),
    ({"camera_id": "ipcams"}, 422, "reserved"),
    ({"camera_id": "taken"}, 409, "in use"),  # a Pi camera already has this id
    ({"password": "x"}, 422, "needs its user name"),
    ({"extra": 1}, 422, ""),
])
def test_bad_ip_cameras_are_refused_with_the_reason(api: Api, factory: sessionmaker[Session], change: dict[str, object],
                                                    status: int, reason: str) -> None:
    add_camera(factory, "taken")
    body = {"camera_id": "garage", "rtsp_url": "rtsp://10.9.9.9/main", **change}
    r = api.client.post("/api/v1/ip-cameras", json=body, headers={"Authorization": f"Bearer {api.token()}"})
    assert r.status_code == status, r.text
    assert reason in r.text
    with factory() as db:
        assert records.all_rows(db) == []


def test_only_admins_manage_ip_cameras(api: Api, factory: sessionmaker[Session]) -> None:
    add_user(factory, "vera", VIEWER_PASSWORD)
    viewer = {"Authorization": f"Bearer {api.token_for('vera', VIEWER_PASSWORD)}"}
    assert api.client.get("/api/v1/ip-cameras", headers=viewer).status_code == 403
    assert api.client.post("/api/v1/ip-cameras/discover", json={}, headers=viewer).status_code == 403
    r = api.client.post("/api/v1/ip-cameras", json={"camera_id": "x", "rtsp_url": "rtsp://h/x"}, headers=viewer)
    assert r.status_code == 403
    assert api.client.get("/api/v1/ip-cameras").status_code == 401


def test_a_stream_url_with_credentials_in_its_query_is_sealed_whole(api: Api, factory: sessionmaker[Session]) -> None:
    headers = {"Authorization": f"Bearer {api.token()}"}
    url = f"rtsp://10.9.9.8:554/user=admin&password={PASSWORD}&channel=1&stream=0.sdp"
    r = api.client.post("/api/v1/ip-cameras", json={"camera_id": "xm", "rtsp_url": url}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["stream_uri"] == "rtsp://10.9.9.8:554/user=***&password=***&channel=1&stream=0.sdp"
    assert r.json()["has_credentials"] is True and PASSWORD not in r.text
    with factory() as db:
        stored = db.execute(text("SELECT credentials, stream_uri FROM ip_cameras")).one()
        assert PASSWORD not in stored[0] and PASSWORD not in stored[1]
        specs, _ = records.desired(db, SecretBox.from_settings(api.settings))
    assert specs["xm"].url == url
    r = api.client.patch("/api/v1/ip-cameras/xm", json={"rtsp_url": "rtsp://10.9.9.8/plain"}, headers=headers)
    assert r.status_code == 200 and r.json()["has_credentials"] is False
