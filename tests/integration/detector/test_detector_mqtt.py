"""Object events on MQTT, against a real Mosquitto: the detector service tells each event's
start, better sightings and end on ``object_event``, keeps the retained per-label counts on
``objects`` and the newest close-up on ``closeup``, and clears the retained state of a camera
that is disabled. Every message is read by a plain paho client and checked against the contract
model and the stored rows."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import update

from tests.integration.detector.test_detector_models import scene
from tests.integration.detector.test_detector_service import (
    Clock,
    add_camera,
    end_motion,
    env,  # noqa: F401 - the fixture
    events,
    jpeg,
    push,
    yolo,  # noqa: F401 - the fixture
)
from vigil_common.bus.mqtt import MqttBus, parse_mqtt_url
from vigil_common.contract.envelope import Codec
from vigil_common.contract.messages import ObjectEventMessage, ObjectPhase, object_counts
from vigil_common.contract.topics import Topics
from vigil_common.contract.urls import closeup_url
from vigil_common.db.models import Camera
from vigil_common.runtime.settings import Settings
from vigil_detector.model import Model
from vigil_detector.service import DetectorService

pytestmark = pytest.mark.integration


class Listener:
    """Everything published under ``{prefix}/cameras/#``, retained messages included."""

    def __init__(self, url: str, prefix: str, name: str = "listener") -> None:
        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.subscribed = threading.Event()
        addr = parse_mqtt_url(url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{prefix}")
        if addr.username:
            self.client.username_pw_set(addr.username, addr.password)
        self.client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/cameras/#", 1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.put((m.topic, m.payload, bool(m.retain)))
        self.client.connect(addr.host, addr.port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def until(self, topic: str, match: object = None, timeout: float = 10.0) -> bytes:
        """The next payload on ``topic`` (equal to ``match`` when given)."""
        while True:
            t, payload, _ = self.messages.get(timeout=timeout)
            if t == topic and (match is None or payload == match):
                return payload

    def event(self, topic: str, phase: ObjectPhase) -> ObjectEventMessage:
        while True:
            message = ObjectEventMessage.model_validate_json(self.until(topic))
            if message.type is phase:
                return message

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def bus(settings: Settings) -> Iterator[MqttBus]:
    b = MqttBus(settings.mqtt_url, f"detector-test-{settings.topic_prefix}", max_queued=1000)
    b.start()
    assert b.wait_connected(10)
    yield b
    b.stop()


def test_an_object_event_is_told_on_mqtt_from_start_to_end(yolo: Model, env, bus: MqttBus) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    settings, client, sessions = env
    topics = Topics(settings.topic_prefix)
    listener = Listener(settings.mqtt_url, settings.topic_prefix)
    add_camera(sessions, "porch", motion=True)
    clock = Clock()
    svc = DetectorService(settings, sessions, client, yolo,
                          publish=lambda t, p, q, r: bus.publish(t, p, q, r) and None,
                          monotonic=lambda: clock.mono, wall_ns=lambda: clock.wall_ns)
    try:
        for k in range(4):  # a person walks by, 2 frames/s
            frame, _ = scene("astronaut.png", (300 + 30 * k, 200))
            push(client, "porch", Codec.JPEG, jpeg(frame), clock.wall_ns)
            svc.tick()
            clock.advance(0.5)
        # Taken on: nothing in view; then the person, confirmed on the second sighting.
        assert listener.until(topics.objects("porch")) == b"{}"
        start = listener.event(topics.object_event("porch"), ObjectPhase.START)
        [row] = events(sessions, "porch")
        assert (start.id, start.camera_id, start.label, start.end) == (row.id, "porch", "person", None)
        assert start.closeup_url == closeup_url(row.id) and start.score >= 0.5
        x, y, w, h = start.box
        assert 0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1
        assert object_counts(listener.until(topics.objects("porch"))) == {"person": 1}
        picture = listener.until(topics.closeup("porch"))
        assert cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR) is not None
        # Gone for longer than the gap: the end, the count back to 0, the best close-up retained.
        end_motion(sessions, "porch")
        clock.advance(settings.detector_gap_s + 0.5)
        svc.tick()
        end = listener.event(topics.object_event("porch"), ObjectPhase.END)
        [row] = events(sessions, "porch")
        assert end.id == row.id and end.end is not None and end.end >= end.start
        assert abs(end.score - row.score) < 1e-3
        assert object_counts(listener.until(topics.objects("porch"))) == {"person": 0}
        best = listener.until(topics.closeup("porch"))
        assert best == (settings.data_dir / row.closeup_path).read_bytes()
        # A new subscriber finds the retained state at once.
        late = Listener(settings.mqtt_url, settings.topic_prefix, "late")
        retained = {}
        while len(retained) < 2:
            t, payload, was_retained = late.messages.get(timeout=10)
            if was_retained and t in (topics.objects("porch"), topics.closeup("porch")):
                retained[t] = payload
        assert json.loads(retained[topics.objects("porch")]) == {"person": 0}
        late.close()
        # Disabled: its retained counts and close-up are cleared.
        with sessions.begin() as s:
            s.execute(update(Camera).where(Camera.id == "porch").values(enabled=False))
        clock.advance(11.0)
        svc.tick()
        listener.until(topics.objects("porch"), b"")
        listener.until(topics.closeup("porch"), b"")
    finally:
        svc.close()
        listener.close()
