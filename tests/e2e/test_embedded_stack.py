"""Issue 12, point 1: `vigil up` with nothing configured (what `make up` runs) starts its own
mosquitto and redis-server; neither may be open to the other users and processes of the machine.

An attacker on the same machine can reach both ports on loopback. Redis answers nothing without
the generated password; the broker refuses anonymous clients, and a camera's account can neither
command a camera nor publish for another one. The secrets are in a file only the owner can read,
never on a command line. And the stack still records with them.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.conftest import free_port
from tests.helpers import Stack, running_stack, wait_for
from vigil_common.cli.embedded import find_binary

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PASSWORD = "embedded-" + secrets.token_hex(8)

if not (find_binary("mosquitto") and find_binary("redis-server")):
    pytest.skip("needs mosquitto and redis-server (make test installs them)", allow_module_level=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    port = free_port()
    data = tmp_path_factory.mktemp("embedded-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update({"VIGIL_DATA_DIR": str(data), "VIGIL_HTTP_PORT": str(port), "VIGIL_ADMIN_PASSWORD": PASSWORD,
                "VIGIL_SEGMENT_SECONDS": "2", "VIGIL_SEGMENT_GRACE_S": "1"})
    with running_stack(env, ["--camera-fps", "5", "--camera-size", "160x120"], port, PASSWORD, cwd=data) as s:
        yield s


def credentials(s: Stack) -> dict[str, object]:
    return dict(json.loads((Path(s.env["VIGIL_DATA_DIR"]) / "run" / "credentials.json").read_text()))


def embedded_port(s: Stack, kind: str) -> int:
    line = next(line for line in s.output if f"starting embedded {kind} on 127.0.0.1:" in line)
    return int(line.split("127.0.0.1:", 1)[1].split()[0])


def test_the_secrets_are_the_owners_alone(stack: Stack) -> None:
    run = Path(stack.env["VIGIL_DATA_DIR"]) / "run"
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    for name in ("credentials.json", "redis.conf", "mosquitto.conf", "mosquitto.passwd", "mosquitto.acl"):
        assert stat.S_IMODE((run / name).stat().st_mode) == 0o600, name
    creds = credentials(stack)
    secrets_ = [str(creds["redis_password"]), *map(str, dict(creds["mqtt"]).values())]  # type: ignore[call-overload]
    for entry in Path("/proc").iterdir():  # no process shows one on its command line
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert not any(s in cmdline for s in secrets_), cmdline


def test_redis_refuses_a_client_without_the_password(stack: Stack) -> None:
    port = embedded_port(stack, "redis-server")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port).ping()
    # the attack: enqueue a job (here: just write the queue) without credentials
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port).rpush("rq:queue:vigil-recorder-slow", "attack")
    assert redis.Redis(port=port, password=str(credentials(stack)["redis_password"])).ping()


def connect(port: int, user: str | None = None, password: str | None = None) -> tuple[mqtt.Client, list[object]]:
    result: list[object] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="probe-" + secrets.token_hex(3))
    if user is not None:
        client.username_pw_set(user, password)
    client.on_connect = lambda _c, _u, _f, rc, _p: result.append(rc)
    client.connect("127.0.0.1", port)
    client.loop_start()
    wait_for(lambda: result, 10, "CONNACK")
    return client, result


def test_the_broker_refuses_anonymous_clients_and_confines_cameras(stack: Stack) -> None:
    port = embedded_port(stack, "mosquitto")
    anon, rc = connect(port)
    anon.loop_stop()
    assert isinstance(rc[0], ReasonCode) and rc[0].is_failure  # not authorised

    mqtt_pw = dict(credentials(stack)["mqtt"])  # type: ignore[call-overload]
    seen: list[tuple[str, bytes]] = []
    api, rc = connect(port, "api", mqtt_pw["api"])
    assert not rc[0].is_failure  # type: ignore[attr-defined]
    api.on_message = lambda _c, _u, msg: seen.append((msg.topic, bytes(msg.payload)))
    api.subscribe("vigil/cameras/+/command", 1)
    cam, rc = connect(port, "demo-1", mqtt_pw["demo-1"])
    assert not rc[0].is_failure  # type: ignore[attr-defined]
    try:
        time.sleep(0.5)
        # a camera account may not command cameras nor speak for another camera
        cam.publish("vigil/cameras/demo-2/command", b'{"action": "stop"}', qos=1).wait_for_publish(5)
        cam.publish("vigil/cameras/demo-1/command", b'{"action": "stop"}', qos=1).wait_for_publish(5)
        cam.publish("vigil/cameras/demo-2/status", b"offline", qos=1).wait_for_publish(5)
        time.sleep(1.0)
        assert seen == []
        status = stack.api().get("/api/v1/cameras/demo-2").json()
        assert status["status"] == "online" and status["streaming"]
    finally:
        for c in (api, cam):
            c.loop_stop()
            c.disconnect()


def test_the_stack_records_with_its_credentials(stack: Stack) -> None:
    def recorded() -> bool:
        r = stack.api().get("/api/v1/recordings", params={"camera_id": "demo-1", "limit": 5})
        return r.status_code == 200 and len(r.json()["items"]) >= 2

    wait_for(recorded, 90, "demo-1 recorded", poll=1.0)
    r = stack.api().post("/api/v1/cameras/demo-2/commands", json={"action": "stop"})  # the API may
    assert r.status_code == 202, r.text
    wait_for(lambda: not stack.api().get("/api/v1/cameras/demo-2").json()["streaming"], 30, "demo-2 stopped")
    stack.api().post("/api/v1/cameras/demo-2/commands", json={"action": "start"})


def test_home_assistant_discovers_the_demo_cameras_and_its_switch_works(stack: Stack) -> None:
    """Issue 16, with `make up`: Home Assistant's account on the embedded broker receives the
    retained discovery configs of each demo camera, the snapshot topic carries JPEGs, and the
    switch's payloads, sent by that account as Home Assistant sends them, stop and start a camera."""
    from vigil_common.runtime.settings import Settings
    from vigil_recorder.homeassistant.configs import discovery_topics

    assert any("Home Assistant:   MQTT discovery under homeassistant/" in line for line in stack.output)
    port = embedded_port(stack, "mosquitto")
    mqtt_pw = dict(credentials(stack)["mqtt"])  # type: ignore[call-overload]
    got: dict[str, bytes] = {}
    ha, rc = connect(port, "homeassistant", mqtt_pw["homeassistant"])
    assert not rc[0].is_failure  # type: ignore[attr-defined]
    ha.on_message = lambda _c, _u, msg: got.__setitem__(msg.topic, bytes(msg.payload))
    ha.subscribe([("homeassistant/#", 1), ("vigil/cameras/+/snapshot", 0)])
    labels = Settings().event_labels()
    wanted = {t for cam in ("demo-1", "demo-2") for t in discovery_topics("homeassistant", cam, labels)}
    try:
        wait_for(lambda: wanted <= set(got), 60, "every demo camera's discovery configs", poll=0.5)
        configs = {t: json.loads(got[t]) for t in wanted}
        switch = configs["homeassistant/switch/vigil/demo-1_streaming/config"]
        assert switch["device"]["configuration_url"] == f"{stack.base}/#/camera/demo-1"
        assert switch["availability"][0]["topic"] == "vigil/cameras/demo-1/status"
        camera = configs["homeassistant/camera/vigil/demo-1_snapshot/config"]
        wait_for(lambda: got.get(camera["topic"], b"")[:2] == b"\xff\xd8", 60, "a snapshot JPEG", poll=0.5)
        assert got[camera["topic"]][-2:] == b"\xff\xd9"

        def streaming() -> bool:
            return bool(stack.api().get("/api/v1/cameras/demo-1").json()["streaming"])

        ha.publish(switch["command_topic"], switch["payload_off"].encode(), qos=1).wait_for_publish(5)
        wait_for(lambda: not streaming(), 30, "demo-1 stopped by the switch", poll=0.5)
        ha.publish(switch["command_topic"], switch["payload_on"].encode(), qos=1).wait_for_publish(5)
        wait_for(streaming, 30, "demo-1 started by the switch", poll=0.5)
    finally:
        ha.loop_stop()
        ha.disconnect()
