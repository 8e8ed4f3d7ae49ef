"""Home Assistant discovery with a real broker, Redis and database: the recorder's duty publishes
retained configs a late MQTT subscriber (as Home Assistant is) receives, removes a disabled
camera's entities with empty retained configs (also from a new leader, and when discovery is
turned off), publishes stats, and the snapshot duty feeds the camera entity's topic."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import update

from tests.helpers import wait_for
from tests.integration.support.api import add_camera
from vigil_common.bus.mqtt import MqttBus, parse_mqtt_url
from vigil_common.contract import keys, streams
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.contract.topics import CameraTopic, Topics
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Camera
from vigil_common.runtime.settings import Settings
from vigil_recorder.duties import DutyContext
from vigil_recorder.homeassistant.configs import discovery_topics
from vigil_recorder.homeassistant.duty import publish_discovery
from vigil_recorder.snapshots.duty import take_snapshots

pytestmark = pytest.mark.integration


@dataclass
class Listener:
    """A plain paho client subscribed to a filter: what Home Assistant sees."""

    url: str
    filters: tuple[str, ...]
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        addr = parse_mqtt_url(self.url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ha-{secrets.token_hex(4)}")
        self.client.on_message = self._on_message
        self.client.connect(addr.host, addr.port)
        for f in self.filters:
            self.client.subscribe(f, qos=1)
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def latest(self) -> dict[str, bytes]:
        with self.lock:
            return {t: p for t, p, _r in self.messages}

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def ha(settings: Settings) -> Iterator[tuple[DutyContext, str]]:
    prefix = "ha" + secrets.token_hex(3)
    cfg = settings.model_copy(update={"ha_discovery": True, "ha_discovery_prefix": prefix,
                                      "public_url": "http://vigil.test:8000", "detector_labels": "person,car"})
    engine = make_engine(cfg.database_url)
    client = redis.Redis.from_url(cfg.redis_url)
    client.delete(keys.HA_PUBLISHED)
    bus = MqttBus(cfg.mqtt_url, client_id=f"vigil-test-{secrets.token_hex(4)}")
    bus.start()
    assert bus.wait_connected(10)
    sent: set[str] = set()

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        sent.add(topic)
        bus.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    yield DutyContext(cfg, client, make_sessionmaker(engine), publish), prefix
    for topic in sent:  # leave no retained message on the shared broker
        bus.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    bus.stop()
    client.delete(keys.HA_PUBLISHED)
    client.close()
    engine.dispose()


def retained(url: str, *filters: str, settle_s: float = 1.0) -> dict[str, bytes]:
    """What a client connecting now receives (retained messages only)."""
    listener = Listener(url, filters)
    try:
        time.sleep(settle_s)
        return {t: p for t, p, r in listener.messages if r}
    finally:
        listener.close()


def test_configs_are_retained_removed_and_cleared(ha: tuple[DutyContext, str]) -> None:
    ctx, prefix = ha
    url = ctx.settings.mqtt_url
    add_camera(ctx.sessions, "cam1", name="Porch", location="Front door")
    add_camera(ctx.sessions, "cam2")
    labels = ctx.settings.event_labels()

    counts = publish_discovery(ctx)
    expected = {cam: set(discovery_topics(prefix, cam, labels)) for cam in ("cam1", "cam2")}
    assert counts["sent"] == len(expected["cam1"]) + len(expected["cam2"]) and counts["stats"] == 2
    seen = retained(url, f"{prefix}/#")
    assert set(seen) == expected["cam1"] | expected["cam2"]
    motion = json.loads(seen[f"{prefix}/binary_sensor/vigil/cam1_motion/config"])
    assert motion["device"]["name"] == "Porch" and motion["device"]["suggested_area"] == "Front door"
    assert motion["device"]["configuration_url"] == "http://vigil.test:8000/#/camera/cam1"
    assert motion["state_topic"] == Topics(ctx.settings.topic_prefix).camera("cam1", CameraTopic.MOTION)
    stats = retained(url, Topics(ctx.settings.topic_prefix).camera("cam1", CameraTopic.STATS))
    [doc] = [json.loads(p) for p in stats.values()]
    assert set(doc) == {"recording_lag_s", "storage_bytes", "updated_at"}  # no frames: no lag, nothing stored

    assert publish_discovery(ctx)["sent"] == 0  # unchanged configs are not sent again

    with ctx.sessions.begin() as db:
        db.execute(update(Camera).where(Camera.id == "cam2").values(enabled=False))
    # A new leader (nothing in memory) still knows cam2's entities from Redis and removes them.
    fresh = DutyContext(ctx.settings, ctx.redis, ctx.sessions, ctx.publish)
    counts = publish_discovery(fresh)
    assert counts["removed"] == len(expected["cam2"])
    assert set(retained(url, f"{prefix}/#")) == expected["cam1"]  # empty retained configs deleted cam2's
    cam2_stats = Topics(ctx.settings.topic_prefix).camera("cam2", CameraTopic.STATS)
    assert retained(url, cam2_stats, settle_s=0.3) == {}  # its stats (and snapshot) went too

    fresh.state["homeassistant"].resent_at -= 3600  # type: ignore[attr-defined]
    assert publish_discovery(fresh)["sent"] == len(expected["cam1"])  # all again now and then

    off = DutyContext(ctx.settings.model_copy(update={"ha_discovery": False}), ctx.redis, ctx.sessions, ctx.publish)
    assert publish_discovery(off)["removed"] == len(expected["cam1"])
    assert retained(url, f"{prefix}/#") == {}
    assert ctx.redis.hlen(keys.HA_PUBLISHED) == 0


def test_a_dropped_object_label_removes_its_entity(ha: tuple[DutyContext, str]) -> None:
    ctx, prefix = ha
    add_camera(ctx.sessions, "cam1")
    publish_discovery(ctx)
    fewer = DutyContext(ctx.settings.model_copy(update={"detector_labels": "person"}), ctx.redis, ctx.sessions,
                        ctx.publish)
    assert publish_discovery(fewer)["removed"] == 1
    topics = set(retained(ctx.settings.mqtt_url, f"{prefix}/#"))
    assert f"{prefix}/binary_sensor/vigil/cam1_object_car/config" not in topics
    assert f"{prefix}/binary_sensor/vigil/cam1_object_person/config" in topics


def test_the_snapshot_duty_feeds_the_camera_entity(ha: tuple[DutyContext, str]) -> None:
    ctx, _prefix = ha
    add_camera(ctx.sessions, "cam1")
    ok, buf = cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))
    assert ok
    frame = Frame(Codec.JPEG, True, 1, time.time_ns(), 64, 48, buf.tobytes())
    ctx.redis.xadd(keys.frames_stream("cam1"), streams.to_fields(frame))  # type: ignore[arg-type]
    try:
        assert take_snapshots(ctx) == {"cam1": "saved"}
        topic = Topics(ctx.settings.topic_prefix).camera("cam1", CameraTopic.SNAPSHOT)
        got = wait_for(lambda: retained(ctx.settings.mqtt_url, topic, settle_s=0.3).get(topic), 5, "the snapshot")
        assert isinstance(got, bytes) and got[:2] == b"\xff\xd8" and got[-2:] == b"\xff\xd9"
        assert cv2.imdecode(np.frombuffer(got, np.uint8), cv2.IMREAD_COLOR).shape == (48, 64, 3)
    finally:
        ctx.redis.delete(keys.frames_stream("cam1"))
