"""Camera registry CRUD, commands over the real broker, and snapshots from Redis."""


from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
import redis
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import Api, add_camera, jpeg, xadd_frame
from vigil_api.app import create_app
from vigil_common.bus.mqtt import parse_mqtt_url
from vigil_common.contract.envelope import Codec
from vigil_common.contract.topics import Topics
from vigil_common.db.models import Camera
from vigil_common.runtime.settings import Settings

pytestmark = pytest.mark.integration

BAD_IDS = ["A" * 40, "Cam1", "cam.1", "-cam", "kamera-\u00fc", "%2e%2e", "cam%00", "cam%0A", "' OR 1=1--"]


@pytest.fixture
def admin(api: Api) -> dict[str, str]:
    return {"X-CSRF-Token": api.login()}


def test_list_and_get_cameras_with_effective_status(
    api: Api, factory: sessionmaker[Session], admin: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    add_camera(factory, "fresh")
    add_camera(factory, "stale", last_seen=now - timedelta(seconds=20), last_heartbeat_at=now - timedelta(seconds=20))
    add_camera(factory, "gone", status="offline")
    cams = api.client.get("/api/v1/cameras").json()
    assert [c["id"] for c in cams] == ["fresh", "gone", "stale"]
    status = {c["id"]: c["status"] for c in cams}
    assert status == {"fresh": "online", "stale": "offline", "gone": "offline"}
    one = api.client.get("/api/v1/cameras/fresh").json()
    for key in (
        "id",
        "name",
        "location",
        "status",
        "last_seen",
        "streaming",
        "fps",
        "fps_target",
        "width",
        "height",
        "codec",
        "source",
        "enabled",
        "first_seen",
    ):
        assert key in one
    assert one["last_seen"].endswith("Z") or "+00:00" in one["last_seen"]
    r = api.client.get("/api/v1/cameras/nope")
    assert r.status_code == 404 and r.json() == {"detail": "unknown camera"}


def test_bad_camera_ids_are_rejected_before_use(api: Api, admin: dict[str, str]) -> None:
    for bad in BAD_IDS:
        for method, suffix in (
            ("GET", ""),
            ("PATCH", ""),
            ("DELETE", ""),
            ("POST", "/commands"),
            ("GET", "/snapshot.jpg"),
            ("GET", "/live.mjpeg"),
        ):
            body = {"action": "start"} if suffix == "/commands" else {"name": "x"} if method == "PATCH" else None
            r = api.client.request(method, f"/api/v1/cameras/{bad}{suffix}", json=body, headers=admin)
            assert r.status_code == 422, (method, bad, r.status_code)
            assert "camera_id" in r.json()["detail"], (method, bad)


def test_traversal_paths_never_reach_a_file(api: Api, admin: dict[str, str]) -> None:
    for path in (
        "..%2F..%2Fetc%2Fpasswd",
        "..%2f..%2f..%2fetc%2fpasswd",
        "..././",
        "%2e%2e%2f%2e%2e%2fetc",
        "....//....//etc/passwd",
    ):
        for suffix in ("", "/snapshot.jpg", "/live.mjpeg"):
            r = api.client.get(f"/api/v1/cameras/{path}{suffix}", headers=admin)
            assert 400 <= r.status_code < 500, (path, r.status_code)
            assert "root:" not in r.text


def test_patch_renames_and_locks(api: Api, factory: sessionmaker[Session], admin: dict[str, str]) -> None:
    add_camera(factory, "cam1")
    r = api.client.patch("/api/v1/cameras/cam1", json={"name": "Front door", "location": "porch"}, headers=admin)
    assert r.status_code == 200
    body = r.json()
    assert (body["name"], body["location"], body["name_locked"]) == ("Front door", "porch", True)
    r = api.client.patch("/api/v1/cameras/cam1", json={"enabled": False}, headers=admin)
    assert r.status_code == 200 and r.json()["enabled"] is False
    with factory() as db:
        cam = db.get(Camera, "cam1")
        assert cam is not None and cam.name == "Front door" and cam.name_locked and not cam.enabled
    for bad in (
        {},
        {"name": None},
        {"name": ""},
        {"name": "x" * 200},
        {"name": "a\nb"},
        {"colour": "red"},
        {"enabled": "maybe"},
    ):
        r = api.client.patch("/api/v1/cameras/cam1", json=bad, headers=admin)
        assert r.status_code == 422, bad
        assert r.json()["detail"]
    assert api.client.patch("/api/v1/cameras/nope", json={"name": "x"}, headers=admin).status_code == 404


def test_delete_removes_the_registry_row(api: Api, factory: sessionmaker[Session], admin: dict[str, str]) -> None:
    add_camera(factory, "cam1")
    r = api.client.delete("/api/v1/cameras/cam1", headers=admin)
    assert r.status_code == 204 and r.content == b""
    assert api.client.get("/api/v1/cameras/cam1").status_code == 404
    assert api.client.delete("/api/v1/cameras/cam1", headers=admin).status_code == 404
    with factory() as db:
        assert db.scalars(select(Camera)).all() == []


@pytest.fixture
def command_inbox(settings: Settings) -> Iterator[queue.Queue[mqtt.MQTTMessage]]:
    """Messages arriving on camera cam1's command topic (a paho subscriber on the real broker)."""
    inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed = threading.Event()
    addr = parse_mqtt_url(settings.mqtt_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-api-cmd-sub")
    client.on_connect = lambda c, *_: c.subscribe(Topics(settings.topic_prefix).command("cam1"), qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, msg: inbox.put(msg)
    client.connect(addr.host, addr.port)
    client.loop_start()
    assert subscribed.wait(10)
    yield inbox
    client.loop_stop()
    client.disconnect()


def _wait_mqtt(api: Api) -> None:
    assert api.app.state.vigil.bus.wait_connected(10)


def test_commands_are_published_on_the_broker(
    api: Api, factory: sessionmaker[Session], admin: dict[str, str], command_inbox: queue.Queue[mqtt.MQTTMessage]
) -> None:
    add_camera(factory, "cam1")
    _wait_mqtt(api)
    r = api.client.post("/api/v1/cameras/cam1/commands", json={"action": "start"}, headers=admin)
    assert r.status_code == 202
    accepted = r.json()
    assert accepted["action"] == "start" and len(accepted["request_id"]) >= 16
    msg = command_inbox.get(timeout=10)
    assert msg.topic == f"{api.settings.topic_prefix}/cameras/cam1/command"
    assert msg.qos == 1
    assert json.loads(msg.payload) == {"action": "start", "params": {}, "request_id": accepted["request_id"]}

    r = api.client.post(
        "/api/v1/cameras/cam1/commands",
        json={"action": "configure", "params": {"fps": 5, "quality": 70}},
        headers=admin,
    )
    assert r.status_code == 202
    doc = json.loads(command_inbox.get(timeout=10).payload)
    assert doc["action"] == "configure" and doc["params"] == {"fps": 5.0, "quality": 70}

    # A rename is pushed to the camera too, for its overlay.
    api.client.patch("/api/v1/cameras/cam1", json={"name": "Porch"}, headers=admin)
    doc = json.loads(command_inbox.get(timeout=10).payload)
    assert doc["action"] == "configure" and doc["params"] == {"name": "Porch"}


def test_bad_commands_are_rejected(api: Api, factory: sessionmaker[Session], admin: dict[str, str]) -> None:
    add_camera(factory, "cam1")
    url = "/api/v1/cameras/cam1/commands"
    for body in (
        {"action": "reboot"},
        {},
        {"action": "configure", "params": {"fps": -1}},
        {"action": "configure", "params": {"shell": "rm -rf /"}},
        {"action": "configure", "params": {}},
        {"action": "start", "params": {"fps": 5}},
        {"action": "start", "params": "x"},
    ):
        r = api.client.post(url, json=body, headers=admin)
        assert r.status_code == 422, body
        assert r.json()["detail"], body
    r = api.client.post("/api/v1/cameras/nope/commands", json={"action": "start"}, headers=admin)
    assert r.status_code == 404


def test_commands_503_when_the_broker_is_down(settings: Settings, factory: sessionmaker[Session]) -> None:
    from tests.conftest import free_port

    add_camera(factory, "cam1")
    cut_off = settings.model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:{free_port()}"})
    with TestClient(create_app(cut_off)) as client:
        csrf = client.post("/api/v1/auth/login", json={"username": "admin", "password": "correct-horse-battery"})
        headers = {"X-CSRF-Token": csrf.json()["csrf_token"]}
        r = client.post("/api/v1/cameras/cam1/commands", json={"action": "start"}, headers=headers)
        assert r.status_code == 503 and "MQTT" in r.json()["detail"]
        health = client.get("/api/v1/health").json()
        assert health["status"] == "degraded" and health["mqtt"] == "error" and health["database"] == "ok"


def test_snapshot_is_the_newest_jpeg(
    api: Api, factory: sessionmaker[Session], rds: redis.Redis, admin: dict[str, str]
) -> None:
    add_camera(factory, "cam1")
    r = api.client.get("/api/v1/cameras/cam1/snapshot.jpg")
    assert r.status_code == 404 and "no recent frame" in r.json()["detail"]
    for i in range(3):
        xadd_frame(rds, "cam1", jpeg(i), seq=i)
    r = api.client.get("/api/v1/cameras/cam1/snapshot.jpg")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["cache-control"] == "no-store"
    assert r.content == jpeg(2)
    xadd_frame(rds, "cam1", b"\x00\x00\x00\x01h264", seq=3, codec=Codec.H264)
    r = api.client.get("/api/v1/cameras/cam1/snapshot.jpg")
    assert r.status_code == 404 and "H.264" in r.json()["detail"]
    assert api.client.get("/api/v1/cameras/nope/snapshot.jpg").status_code == 404


def test_patch_sets_recording_mode_and_motion_settings(
    api: Api, factory: sessionmaker[Session], admin: dict[str, str]
) -> None:
    from vigil_common.motion.detect import Rect, parse_mask

    add_camera(factory, "cam1")
    body = {"record_mode": "motion", "motion_sensitivity": 0.8, "motion_mask": [[0, 0, 0.5, 0.25]]}
    r = api.client.patch("/api/v1/cameras/cam1", json=body, headers=admin)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["record_mode"], out["motion_sensitivity"], out["motion_mask"]) == ("motion", 0.8, [[0, 0, 0.5, 0.25]])
    with factory() as db:
        cam = db.get(Camera, "cam1")
        assert cam is not None and cam.record_mode == "motion" and cam.name_locked is False
        assert parse_mask(cam.motion_mask) == [Rect(0.0, 0.0, 0.5, 0.25)]  # what the detector reads
    r = api.client.patch("/api/v1/cameras/cam1", json={"motion_sensitivity": None, "motion_mask": []}, headers=admin)
    assert r.status_code == 200 and r.json()["motion_sensitivity"] is None and r.json()["motion_mask"] == []
    for bad in (
        {"record_mode": "sometimes"},
        {"motion_sensitivity": 2},
        {"motion_mask": [[0, 0, 2, 1]]},
        {"motion_mask": [[0, 0, 0, 0.5]]},
        {"motion_mask": [[0, 0, 1]]},
        {"motion_mask": [[0, 0, 0.1, 0.1]] * 65},
        {"record_mode": None},
    ):
        r = api.client.patch("/api/v1/cameras/cam1", json=bad, headers=admin)
        assert r.status_code == 422, bad
        assert r.json()["detail"]


DRIVEWAY = {"name": "driveway", "points": [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]], "labels": ["person"],
            "min_score": 0.6, "min_area": 0.01}


def test_patch_sets_object_zones_the_detector_reads(
    api: Api, factory: sessionmaker[Session], admin: dict[str, str]
) -> None:
    from vigil_common.contract import object_zones

    add_camera(factory, "cam1")
    street = {"name": "street", "points": [[0.5, 0], [1, 0], [1, 1]]}
    r = api.client.patch("/api/v1/cameras/cam1", json={"object_zones": [DRIVEWAY, street]}, headers=admin)
    assert r.status_code == 200, r.text
    zones = r.json()["object_zones"]
    assert zones[0] == DRIVEWAY and zones[1] == street | {"labels": [], "min_score": 0.5, "min_area": 0.0}
    with factory() as db:
        cam = db.get(Camera, "cam1")
        assert cam is not None
        stored = object_zones.parse(cam.object_zones)  # what the detector reads
    assert [(z.name, z.labels) for z in stored] == [("driveway", ["person"]), ("street", [])]
    assert api.client.get("/api/v1/cameras/cam1").json()["object_zones"] == zones
    r = api.client.patch("/api/v1/cameras/cam1", json={"object_zones": []}, headers=admin)
    assert r.status_code == 200 and r.json()["object_zones"] == []
    with factory() as db:
        cam = db.get(Camera, "cam1")
        assert cam is not None and cam.object_zones is None  # the whole frame again
    for bad in (
        {"object_zones": None},
        {"object_zones": [DRIVEWAY | {"points": [[0, 0], [1, 1]]}]},  # not a polygon
        {"object_zones": [DRIVEWAY | {"points": [[0, 0], [1.5, 0], [0, 1]]}]},  # off the frame
        {"object_zones": [DRIVEWAY | {"labels": ["../x"]}]},
        {"object_zones": [DRIVEWAY | {"name": ""}]},
        {"object_zones": [DRIVEWAY | {"min_score": 2}]},
        {"object_zones": [DRIVEWAY | {"colour": "red"}]},
        {"object_zones": [DRIVEWAY, DRIVEWAY]},  # two zones of one name
        {"object_zones": [DRIVEWAY | {"name": f"z{i}"} for i in range(17)]},
    ):
        r = api.client.patch("/api/v1/cameras/cam1", json=bad, headers=admin)
        assert r.status_code == 422, bad
        assert r.json()["detail"]


def test_patch_sets_the_object_labels_the_notifier_emails_about(
    api: Api, factory: sessionmaker[Session], admin: dict[str, str]
) -> None:
    from vigil_common.contract import object_alerts

    add_camera(factory, "cam1")
    assert api.client.get("/api/v1/cameras/cam1").json()["notify_objects"] == []  # opt-in: none by default
    r = api.client.patch("/api/v1/cameras/cam1", json={"notify_objects": ["person", "car", "person"]}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["notify_objects"] == ["person", "car"]  # once each, in order
    with factory() as db:
        cam = db.get(Camera, "cam1")
        assert cam is not None and object_alerts.parse(cam.notify_objects) == ["person", "car"]  # the notifier reads
    r = api.client.patch("/api/v1/cameras/cam1", json={"notify_objects": []}, headers=admin)
    assert r.status_code == 200 and r.json()["notify_objects"] == []
    with factory() as db:
        cam = db.get(Camera, "cam1")
        assert cam is not None and cam.notify_objects is None
    # Faces: off by default, on and off again by PATCH.
    assert api.client.get("/api/v1/cameras/cam1").json()["detect_faces"] is False
    r = api.client.patch("/api/v1/cameras/cam1", json={"detect_faces": True}, headers=admin)
    assert r.status_code == 200 and r.json()["detect_faces"] is True
    with factory() as db:
        cam = db.get(Camera, "cam1")
        assert cam is not None and cam.detect_faces is True  # what the detector reads
    for bad in ({"detect_faces": None}, {"detect_faces": "maybe"}, {"detect_faces": [1]},
                {"notify_objects": None}, {"notify_objects": ["../x"]}, {"notify_objects": [""]},
                {"notify_objects": "person"}, {"notify_objects": [f"l{i}" for i in range(17)]}):
        r = api.client.patch("/api/v1/cameras/cam1", json=bad, headers=admin)
        assert r.status_code == 422, bad
        assert r.json()["detail"]
