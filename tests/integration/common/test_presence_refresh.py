"""Replicas share one presence topic: a live instance puts ``online`` back after another one's
clean stop left ``offline`` retained (so the notifier does not report a running service down)."""

from __future__ import annotations

import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.helpers import wait_for
from vigil_common.bus.mqtt import MqttBus, Will, parse_mqtt_url
from vigil_common.contract.topics import Topics

pytestmark = pytest.mark.integration


def retained(mqtt_url: str, topic: str) -> bytes | None:
    """The retained payload on ``topic`` as a new subscriber sees it (None if there is none)."""
    addr = parse_mqtt_url(mqtt_url)
    got: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{time.monotonic_ns()}")
    client.on_message = lambda _c, _u, msg: got.append(bytes(msg.payload))
    client.connect(addr.host, addr.port)
    client.subscribe(topic, 1)
    client.loop_start()
    time.sleep(0.4)
    client.loop_stop()
    client.disconnect()
    return got[-1] if got else None


def test_a_live_replica_restores_online_after_another_stops(mqtt_url: str, topic_prefix: str) -> None:
    topic = Topics(topic_prefix).service_status("recorder")

    def replica(name: str, every: float | None) -> MqttBus:
        bus = MqttBus(mqtt_url, f"{topic_prefix}-{name}", will=Will(topic, b"offline"),
                      on_connect_publish=[(topic, b"online", 1, True)], republish_every_s=every)
        bus.start()
        assert bus.wait_connected(10)
        return bus

    alive = replica("a", 0.5)
    leaving = replica("b", None)
    try:
        leaving.stop(final=[(topic, b"offline", 1, True)])  # a clean stop of one replica
        assert retained(mqtt_url, topic) in (b"offline", b"online")
        wait_for(lambda: retained(mqtt_url, topic) == b"online", timeout=5, what="online restored by the live replica")
    finally:
        alive.stop(final=[(topic, b"offline", 1, True)])
    time.sleep(1.0)  # stopped: it no longer re-sends
    assert retained(mqtt_url, topic) == b"offline"
    cleanup = mqtt.Client(CallbackAPIVersion.VERSION2)
    addr = parse_mqtt_url(mqtt_url)
    cleanup.connect(addr.host, addr.port)
    cleanup.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    cleanup.disconnect()
