"""A plain MQTT publisher (the ``publisher`` fixture) for tests that feed ingest."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from vigil_common.bus.mqtt import parse_mqtt_url


@pytest.fixture
def publisher(mqtt_url: str) -> Iterator[mqtt.Client]:
    addr = parse_mqtt_url(mqtt_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{os.getpid()}-{time.monotonic_ns()}")
    client.connect(addr.host, addr.port)
    client.loop_start()
    yield client
    client.loop_stop()
    client.disconnect()
