"""ONVIF cameras through the API, against a fake ONVIF camera in its own network namespace
(tests/support/onvif_camera.py: a real WS-Discovery publisher and a SOAP responder checking
WS-Security digests): "Find cameras" finds it by multicast, its profiles are read with the
credentials, a wrong password is a 400 that says so, and adding it stores the stream URI it
gave with the credentials sealed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from vigil_ipcams import records
from vigil_ipcams.probe import discover
from vigil_ipcams.secretbox import SecretBox

from tests.integration.support.api import ADMIN_PASSWORD, Api
from tests.support.onvif_camera import FakeOnvifCamera, fake_onvif_camera  # noqa: F401 (fixture)
from vigil_api.app import create_app
from vigil_common.contract.onvif import parse_probe_targets
from vigil_common.runtime.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def camera(fake_onvif_camera: Callable[..., FakeOnvifCamera]) -> FakeOnvifCamera:  # noqa: F811
    return fake_onvif_camera(name="Porch cam", hardware="VC-1", location="front door",
                             stream_uri="rtsp://10.231.0.9:8554/porch")


@pytest.fixture
def onvif_api(settings: Settings, camera: FakeOnvifCamera) -> Iterator[Api]:
    tuned = settings.model_copy(update={"onvif_probe_targets": "239.255.255.250",
                                        "onvif_probe_interface": camera.local_address, "onvif_probe_timeout_s": 2.0})
    app = create_app(tuned)
    with TestClient(app) as client:
        yield Api(client, app, tuned)


def test_the_probe_finds_the_camera_by_multicast_and_by_unicast(camera: FakeOnvifCamera) -> None:
    [found] = discover(parse_probe_targets("239.255.255.250"), timeout_s=2.0, interface=camera.local_address)
    assert (found.urn, found.xaddrs, found.address) == (camera.urn, (camera.xaddr,), camera.host)
    assert (found.name, found.hardware, found.location) == ("Porch cam", "VC-1", "front door")
    [direct] = discover(parse_probe_targets(f"{camera.host}/32"), timeout_s=2.0)
    assert direct.urn == camera.urn


def test_find_cameras_then_add_one_by_onvif(onvif_api: Api, camera: FakeOnvifCamera,
                                            factory: sessionmaker[Session]) -> None:
    api = onvif_api
    headers = {"Authorization": f"Bearer {api.token_for('admin', ADMIN_PASSWORD)}"}
    r = api.client.post("/api/v1/ip-cameras/discover", json={"timeout_s": 2}, headers=headers)
    assert r.status_code == 200, r.text
    [item] = [i for i in r.json()["items"] if i["urn"] == camera.urn]
    assert item["name"] == "Porch cam" and item["xaddr"] == camera.xaddr and item["camera_id"] is None

    wrong = api.client.post("/api/v1/ip-cameras/onvif", headers=headers,
                            json={"xaddr": camera.xaddr, "username": camera.username, "password": "wrong"})
    assert wrong.status_code == 400 and "refused the user name or password" in wrong.json()["detail"]
    good = api.client.post("/api/v1/ip-cameras/onvif", headers=headers,
                           json={"xaddr": camera.xaddr, "username": camera.username, "password": camera.password})
    assert good.status_code == 200, good.text
    device = good.json()
    assert device["chosen"] == "main" and device["manufacturer"]
    sizes = {p["token"]: (p["width"], p["height"], p["encoding"], p["uri"]) for p in device["profiles"]}
    assert sizes == {"main": (1920, 1080, "H264", "rtsp://10.231.0.9:8554/porch"),
                     "sub": (640, 360, "H264", "rtsp://10.231.0.9:8554/porch_sub")}

    added = api.client.post("/api/v1/ip-cameras", headers=headers, json={
        "camera_id": "porch", "name": "Porch", "xaddr": item["xaddr"], "urn": item["urn"],
        "username": camera.username, "password": camera.password})
    assert added.status_code == 201, added.text
    out = added.json()
    assert (out["source"], out["stream_uri"], out["profile_token"]) == ("onvif", "rtsp://10.231.0.9:8554/porch", "main")
    assert out["profile"]["width"] == 1920 and camera.password not in added.text
    twice = api.client.post("/api/v1/ip-cameras", headers=headers, json={
        "camera_id": "porch2", "xaddr": item["xaddr"], "urn": item["urn"], "username": camera.username,
        "password": camera.password})
    assert twice.status_code == 409 and "already added, as 'porch'" in twice.json()["detail"]
    again = api.client.post("/api/v1/ip-cameras/discover", json={"timeout_s": 2}, headers=headers).json()
    assert [i["camera_id"] for i in again["items"] if i["urn"] == camera.urn] == ["porch"]
    with factory() as db:
        specs, _ = records.desired(db, SecretBox.from_settings(api.settings))
    assert specs["porch"].url == f"rtsp://{camera.username}:{camera.password}@10.231.0.9:8554/porch"
    assert not any(camera.password in line for line in camera.requests())


def test_an_unreachable_camera_is_a_502_that_says_so(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token()}"}
    r = api.client.post("/api/v1/ip-cameras/onvif", headers=headers,
                        json={"xaddr": "http://127.0.0.1:9/onvif/device_service", "username": "a", "password": "b"})
    assert r.status_code == 502 and "cannot connect" in r.json()["detail"]
    for xaddr in ("ftp://x/onvif", "http://[::1", "http://h:99999/onvif"):  # the caller's mistake: 422
        bad = api.client.post("/api/v1/ip-cameras/onvif", headers=headers, json={"xaddr": xaddr})
        assert bad.status_code == 422 and "address" in bad.json()["detail"], bad.text
