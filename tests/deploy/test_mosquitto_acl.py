"""The shipped broker config, password file and ACL, enforced by the real mosquitto binary:
anonymous clients are refused, camera `a` cannot write camera `b`'s topics nor read its
commands, and each service account can do its job (including ingest's shared subscription)."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.broker import MOSQUITTO_DIR, Broker, Client, connect, start_shipped_broker
from tests.helpers import wait_for
from vigil_common.cli import mosquitto_passwd

pytestmark = pytest.mark.integration

CAMERA_PASSWORDS = {"a": secrets.token_urlsafe(16), "b": secrets.token_urlsafe(16)}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = start_shipped_broker(tmp_path_factory.mktemp("acl-broker"))
    for camera, password in CAMERA_PASSWORDS.items():
        mosquitto_passwd.set_password(b.passwd, camera, password)
    b.reload()
    # The reload is asynchronous: wait until camera `a` is accepted.
    wait_for(lambda: _accepted(b, "a", CAMERA_PASSWORDS["a"]), 10, "the broker to re-read the password file")
    yield b
    b.stop()


@pytest.fixture
def made() -> Iterator[list[Client]]:
    out: list[Client] = []
    yield out
    for client in out:
        client.close()


def _accepted(b: Broker, user: str, password: str) -> bool:
    client = connect(b, user, password)
    try:
        return client.connack is not None and not client.connack.is_failure
    finally:
        client.close()


def _settle() -> None:
    time.sleep(1.0)  # a message that would arrive does so well within this on loopback


def test_anonymous_client_is_refused(broker: Broker, made: list[Client]) -> None:
    made.append(anon := connect(broker, None))
    assert anon.connack is not None and anon.connack.is_failure
    assert anon.connack.getName() == "Not authorized"


def test_wrong_password_and_unknown_user_are_refused(broker: Broker) -> None:
    assert not _accepted(broker, "a", "not-the-password")
    assert not _accepted(broker, "ingest", CAMERA_PASSWORDS["a"])
    assert not _accepted(broker, "nobody", "whatever-password")


def test_service_accounts_from_the_entrypoint_are_accepted(broker: Broker) -> None:
    for user in ("ingest", "recorder", "api", "notifier", "detector", "ipcams", "homeassistant"):
        assert _accepted(broker, user, broker.passwords[user]), user


def test_home_assistant_reads_its_entities_and_commands_cameras_but_sees_no_frames(
        broker: Broker, made: list[Client]) -> None:
    """Issue 16: the optional `homeassistant` account (MQTT_HOMEASSISTANT_PASSWORD) gets what its
    entities need, no more: never a camera's frames, never a discovery config of its own."""
    made.append(ha := connect(broker, "homeassistant", broker.passwords["homeassistant"]))
    assert ha.connack is not None and not ha.connack.is_failure
    for topic in ("vigil/cameras/+/frame", "vigil/cameras/+/motion", "vigil/cameras/+/snapshot", "homeassistant/#"):
        ha.subscribe(topic)
    made.append(cam_a := connect(broker, "a", CAMERA_PASSWORDS["a"]))
    cam_a.subscribe("vigil/cameras/a/command")
    made.append(recorder := connect(broker, "recorder", broker.passwords["recorder"]))
    made.append(watcher := connect(broker, "api", broker.passwords["api"]))
    watcher.subscribe("vigil/cameras/a/frame")
    _settle()
    cam_a.publish("vigil/cameras/a/frame", b"frame")
    recorder.publish("vigil/cameras/a/motion", b"ON")
    recorder.publish("vigil/cameras/a/snapshot", b"jpeg")
    recorder.publish("homeassistant/binary_sensor/vigil/a_motion/config", b"{}")
    wait_for(lambda: len(ha.received) == 3, 5, "motion, snapshot and the discovery config")
    wait_for(lambda: watcher.received, 5, "the frame, seen by a service")
    ha.publish("vigil/cameras/a/command", b'{"action": "stop"}')  # its switch
    wait_for(lambda: cam_a.received, 5, "the switch's command")
    ha.publish("homeassistant/binary_sensor/vigil/a_motion/config", b"")  # not its to change
    ha.publish("vigil/cameras/a/frame", b"forged")
    _settle()
    assert sorted(t for t, _p in ha.received) == ["homeassistant/binary_sensor/vigil/a_motion/config",
                                                   "vigil/cameras/a/motion", "vigil/cameras/a/snapshot"]
    assert [p for _t, p in watcher.received] == [b"frame"]


def test_camera_a_cannot_publish_to_camera_b(broker: Broker, made: list[Client]) -> None:
    made.append(ingest := connect(broker, "ingest", broker.passwords["ingest"]))
    ingest.subscribe("vigil/cameras/+/frame")
    ingest.subscribe("vigil/cameras/+/heartbeat")
    made.append(cam_a := connect(broker, "a", CAMERA_PASSWORDS["a"]))
    cam_a.publish("vigil/cameras/b/frame", b"forged")
    cam_a.publish("vigil/cameras/b/heartbeat", b"forged")
    cam_a.publish("vigil/cameras/a/frame", b"mine")
    wait_for(lambda: ("vigil/cameras/a/frame", b"mine") in ingest.received, 5, "camera a's own frame")
    _settle()
    assert all(payload != b"forged" for _t, payload in ingest.received), ingest.received


def test_camera_reads_only_its_own_commands(broker: Broker, made: list[Client]) -> None:
    made.append(api := connect(broker, "api", broker.passwords["api"]))
    made.append(cam_a := connect(broker, "a", CAMERA_PASSWORDS["a"]))
    made.append(cam_b := connect(broker, "b", CAMERA_PASSWORDS["b"]))
    cam_a.subscribe("vigil/cameras/b/command")
    cam_a.subscribe("vigil/cameras/+/command")
    cam_b.subscribe("vigil/cameras/b/command")
    api.publish("vigil/cameras/b/command", b'{"action": "stop"}')
    wait_for(lambda: cam_b.received, 5, "camera b's command")
    _settle()
    assert cam_a.received == []
    # ... and a camera cannot command another camera (nor itself).
    cam_a.publish("vigil/cameras/b/command", b'{"action": "start"}')
    _settle()
    assert [p for _t, p in cam_b.received] == [b'{"action": "stop"}']


def test_shared_subscription_and_service_topics(broker: Broker, made: list[Client]) -> None:
    made.append(ingest1 := connect(broker, "ingest", broker.passwords["ingest"]))
    made.append(ingest2 := connect(broker, "ingest", broker.passwords["ingest"]))
    for client in (ingest1, ingest2):
        client.subscribe("$share/ingest/vigil/cameras/+/frame", qos=0)
    made.append(cam_b := connect(broker, "b", CAMERA_PASSWORDS["b"]))
    for i in range(20):
        cam_b.publish("vigil/cameras/b/frame", b"f%d" % i, qos=1)
    wait_for(lambda: len(ingest1.received) + len(ingest2.received) == 20, 10, "all frames once")
    _settle()
    assert len(ingest1.received) + len(ingest2.received) == 20  # each frame exactly once
    # Services publish their presence; the notifier and the api read it; a camera cannot forge it.
    made.append(notifier := connect(broker, "notifier", broker.passwords["notifier"]))
    notifier.subscribe("vigil/services/+/status")
    made.append(recorder := connect(broker, "recorder", broker.passwords["recorder"]))
    recorder.publish("vigil/services/recorder/status", b"online")
    cam_b.publish("vigil/services/ingest/status", b"offline")
    wait_for(lambda: ("vigil/services/recorder/status", b"online") in notifier.received, 5, "presence")
    _settle()
    assert ("vigil/services/ingest/status", b"offline") not in notifier.received


def test_hashes_written_in_python_are_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "ref", "s3cret-pass"], check=True)
    encoded = mosquitto_passwd.read_entries(path)["ref"]
    assert mosquitto_passwd.verify_password("s3cret-pass", encoded)
    assert not mosquitto_passwd.verify_password("s3cret-pasS", encoded)
    salt = __import__("base64").b64decode(encoded.split("$")[3])
    assert mosquitto_passwd.hash_password("s3cret-pass", iterations=int(encoded.split("$")[2]), salt=salt) == encoded


def test_a_camera_cannot_watch_other_cameras(broker: Broker, made: list[Client]) -> None:
    made.append(cam_a := connect(broker, "a", CAMERA_PASSWORDS["a"]))
    cam_a.subscribe("vigil/#")
    cam_a.subscribe("#")
    made.append(cam_b := connect(broker, "b", CAMERA_PASSWORDS["b"]))
    made.append(ingest := connect(broker, "ingest", broker.passwords["ingest"]))
    ingest.subscribe("vigil/cameras/b/frame")
    cam_b.publish("vigil/cameras/b/frame", b"private")
    cam_b.publish("vigil/cameras/b/heartbeat", b"{}")
    wait_for(lambda: ingest.received, 5, "camera b's frame at ingest")
    _settle()
    assert cam_a.received == []


def test_service_accounts_are_confined_to_their_jobs(broker: Broker, made: list[Client]) -> None:
    made.append(cam_b := connect(broker, "b", CAMERA_PASSWORDS["b"]))
    cam_b.subscribe("vigil/cameras/b/command")
    made.append(api := connect(broker, "api", broker.passwords["api"]))
    api.subscribe("vigil/cameras/+/motion")
    api.subscribe("vigil/cameras/+/frame")
    made.append(ingest := connect(broker, "ingest", broker.passwords["ingest"]))
    made.append(recorder := connect(broker, "recorder", broker.passwords["recorder"]))
    # Only the api commands cameras; nobody but the camera publishes its frames.
    ingest.publish("vigil/cameras/b/command", b'{"action": "stop"}')
    recorder.publish("vigil/cameras/b/command", b'{"action": "stop"}')
    api.publish("vigil/cameras/b/frame", b"forged by api")
    ingest.publish("vigil/cameras/b/frame", b"forged by ingest")
    # The recorder publishes motion, which the api reads.
    recorder.publish("vigil/cameras/b/motion", b"ON")
    wait_for(lambda: ("vigil/cameras/b/motion", b"ON") in api.received, 5, "motion at the api")
    _settle()
    assert cam_b.received == []
    assert not [p for t, p in api.received if t.endswith("/frame")]


def test_the_detector_publishes_object_events_and_nothing_else(broker: Broker, made: list[Client]) -> None:
    made.append(cam_b := connect(broker, "b", CAMERA_PASSWORDS["b"]))
    cam_b.subscribe("vigil/cameras/b/command")
    made.append(api := connect(broker, "api", broker.passwords["api"]))
    api.subscribe("vigil/cameras/#")
    made.append(notifier := connect(broker, "notifier", broker.passwords["notifier"]))
    notifier.subscribe("vigil/cameras/+/object_event")
    made.append(detector := connect(broker, "detector", broker.passwords["detector"]))
    detector.subscribe("vigil/cameras/+/frame")  # it reads frames from Redis, never from the broker
    # Its three topics reach the api and (object events) the notifier ...
    for kind in ("objects", "object_event", "closeup"):
        detector.publish(f"vigil/cameras/b/{kind}", kind.encode())
    wait_for(lambda: {t for t, _ in api.received} >= {f"vigil/cameras/b/{k}" for k in ("objects", "object_event",
                                                                                     "closeup")}, 5, "at the api")
    wait_for(lambda: ("vigil/cameras/b/object_event", b"object_event") in notifier.received, 5, "at the notifier")
    # ... and it can neither command a camera, nor forge its frames or motion, nor watch them.
    detector.publish("vigil/cameras/b/command", b'{"action": "stop"}')
    detector.publish("vigil/cameras/b/frame", b"forged by the detector")
    detector.publish("vigil/cameras/b/motion", b"ON")
    _settle()
    assert cam_b.received == [] and detector.received == []
    assert not [t for t, _ in api.received if t.endswith(("/frame", "/motion"))]


def test_ipcams_speaks_for_every_camera_and_does_nothing_else(broker: Broker, made: list[Client]) -> None:
    """`vigil ipcams` runs the capture of each IP camera on the server: it publishes as any camera
    (frames, heartbeats, status) and reads the cameras' commands, but it commands no camera,
    reads no frames, forges no motion and no other service's presence."""
    made.append(ingest := connect(broker, "ingest", broker.passwords["ingest"]))
    ingest.subscribe("vigil/cameras/+/frame")
    ingest.subscribe("vigil/cameras/+/heartbeat")
    made.append(api := connect(broker, "api", broker.passwords["api"]))
    api.subscribe("vigil/cameras/+/motion")
    made.append(notifier := connect(broker, "notifier", broker.passwords["notifier"]))
    notifier.subscribe("vigil/services/+/status")
    made.append(cam_b := connect(broker, "b", CAMERA_PASSWORDS["b"]))
    cam_b.subscribe("vigil/cameras/b/command")
    made.append(ipcams := connect(broker, "ipcams", broker.passwords["ipcams"]))
    assert ipcams.connack is not None and not ipcams.connack.is_failure
    ipcams.subscribe("vigil/cameras/+/command")
    ipcams.subscribe("vigil/cameras/+/frame")  # write-only for it: nothing arrives
    # As the capture of IP cameras `door` and `gate` ...
    ipcams.publish("vigil/cameras/door/frame", b"door frame")
    ipcams.publish("vigil/cameras/gate/heartbeat", b"{}")
    ipcams.publish("vigil/services/ipcams/status", b"online")
    wait_for(lambda: {("vigil/cameras/door/frame", b"door frame"), ("vigil/cameras/gate/heartbeat", b"{}")}
             <= set(ingest.received), 5, "the IP cameras' frame and heartbeat at ingest")
    wait_for(lambda: ("vigil/services/ipcams/status", b"online") in notifier.received, 5, "its presence")
    api.publish("vigil/cameras/door/command", b'{"action": "stop"}')
    wait_for(lambda: ("vigil/cameras/door/command", b'{"action": "stop"}') in ipcams.received, 5,
             "the api's command to an IP camera")
    # ... and nothing else.
    ipcams.publish("vigil/cameras/b/command", b'{"action": "stop"}')
    ipcams.publish("vigil/cameras/b/motion", b"ON")
    ipcams.publish("vigil/services/ingest/status", b"offline")
    cam_b.publish("vigil/cameras/b/frame", b"b frame")
    wait_for(lambda: ("vigil/cameras/b/frame", b"b frame") in ingest.received, 5, "camera b's frame at ingest")
    _settle()
    assert cam_b.received == [] and api.received == []
    assert ("vigil/services/ingest/status", b"offline") not in notifier.received
    assert not [t for t, _ in ipcams.received if t.endswith("/frame")]


def _entrypoint(auth_dir: Path, passwords: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIGIL_BROKER_AUTH_DIR": str(auth_dir)}
    env.update({f"MQTT_{k.upper()}_PASSWORD": v for k, v in passwords.items()})
    return subprocess.run(["sh", str(MOSQUITTO_DIR / "entrypoint.sh"), "true"], env=env, capture_output=True,
                          text=True, timeout=60)


def test_entrypoint_refuses_a_missing_service_password(tmp_path: Path) -> None:
    out = _entrypoint(tmp_path / "auth", {"ingest": "a1", "recorder": "b2", "notifier": "d4", "detector": "e5",
                                            "ipcams": "f6"})
    assert out.returncode == 1 and "MQTT_API_PASSWORD is not set" in out.stderr


def test_entrypoint_keeps_cameras_and_updates_service_passwords(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    first = {"ingest": "i1", "recorder": "r1", "api": "a1", "notifier": "n1", "detector": "d1", "ipcams": "c1"}
    assert _entrypoint(auth, first).returncode == 0
    mosquitto_passwd.set_password(auth / "passwd", "porch", "camera-password")
    second = {**first, "api": "a2"}  # a changed .env, then `docker compose up -d` restarts the broker
    out = _entrypoint(auth, second)
    assert out.returncode == 0, out.stderr
    entries = mosquitto_passwd.read_entries(auth / "passwd")
    assert set(entries) == {"ingest", "recorder", "api", "notifier", "detector", "ipcams", "porch"}
    assert mosquitto_passwd.verify_password("camera-password", entries["porch"])
    assert mosquitto_passwd.verify_password("a2", entries["api"])
    assert not mosquitto_passwd.verify_password("a1", entries["api"])
    if os.geteuid() == 0:  # as in the container: the broker's group reads, the vigil user writes
        st = (auth / "passwd").stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (10001, 0o640)
        assert stat.S_IMODE(auth.stat().st_mode) == 0o2770


def test_the_shipped_acl_is_the_one_vigil_up_uses() -> None:
    """deploy/mosquitto/acl and vigil_common.contract.broker_acl (embedded broker) say the same thing."""
    from vigil_common.contract.broker_acl import mosquitto_acl

    shipped = [line.strip() for line in (MOSQUITTO_DIR / "acl").read_text().splitlines()
               if line.strip() and not line.strip().startswith("#")]
    assert shipped == [line for line in mosquitto_acl("vigil").splitlines() if line.strip()]
