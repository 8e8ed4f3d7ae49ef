"""`vigil health SERVICE` (the containers' probe) says "not alive" when nothing runs, refuses a
bad service name, and reads a retained presence from the broker. The "alive" side of every
service is exercised by the compose parity run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import free_port
from vigil_common.bus.mqtt import parse_mqtt_url

pytestmark = pytest.mark.integration


def health(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vigil_common.cli.main", "health", *args], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def env(redis_url: str, mqtt_url: str, topic_prefix: str, tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    e.update({"VIGIL_REDIS_URL": redis_url, "VIGIL_MQTT_URL": mqtt_url, "VIGIL_TOPIC_PREFIX": topic_prefix,
              "VIGIL_HTTP_PORT": str(free_port()), "VIGIL_DATA_DIR": str(tmp_path)})
    return e


def test_nothing_running_is_not_alive(env: dict[str, str]) -> None:
    for service in ("api", "ingest", "recorder", "notifier"):
        out = health(env, service)
        assert out.returncode == 1 and "NOT alive" in out.stdout, (service, out.stdout, out.stderr)


def test_a_bad_service_name_is_refused(env: dict[str, str]) -> None:
    out = health(env, "../x")
    assert out.returncode == 2 and "vigil health" in out.stderr
    out = health({**env, "VIGIL_CAMERA_ID": "Bad Id"}, "capture")
    assert out.returncode == 2


def test_liveness_keys_and_retained_presence(env: dict[str, str], redis_url: str, mqtt_url: str,
                                             topic_prefix: str) -> None:
    import socket

    import redis

    client = redis.Redis.from_url(redis_url)
    client.set(f"vigil:health:ingest:{socket.gethostname()}-1234", b"ok", ex=30)
    recorder = f"recorder-{socket.gethostname().split('.')[0]}-1234-abcdef"
    client.set(f"vigil:recorder:alive:{recorder}", b"1", ex=30)
    assert health(env, "ingest").returncode == 0
    assert health(env, "recorder").returncode == 0
    # alive, but its worker loop keeps failing: not healthy
    now = time.time()
    client.zadd("vigil:recorder:crashes", {f"{recorder}:{now - 20}": now - 20, "recorder-elsewhere-1:1": now})
    assert health(env, "recorder").returncode == 0  # one failure, and another host's
    client.zadd("vigil:recorder:crashes", {f"{recorder}:{now}": now})
    assert health(env, "recorder").returncode == 1
    client.close()

    addr = parse_mqtt_url(mqtt_url)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2)
    pub.connect(addr.host, addr.port)
    pub.loop_start()
    try:
        pub.publish(f"{topic_prefix}/services/notifier/status", b"online", qos=1, retain=True).wait_for_publish(5)
        pub.publish(f"{topic_prefix}/cameras/cam-1/status", b"offline", qos=1, retain=True).wait_for_publish(5)
        assert health(env, "notifier").returncode == 0
        assert health({**env, "VIGIL_CAMERA_ID": "cam-1"}, "capture").returncode == 1
        pub.publish(f"{topic_prefix}/cameras/cam-1/status", b"online", qos=1, retain=True).wait_for_publish(5)
        assert health({**env, "VIGIL_CAMERA_ID": "cam-1"}, "capture").returncode == 0
    finally:
        for topic in (f"{topic_prefix}/services/notifier/status", f"{topic_prefix}/cameras/cam-1/status"):
            pub.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
