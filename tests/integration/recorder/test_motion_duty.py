"""The motion duty against real Redis, PostgreSQL and Mosquitto, on simulated time.

Frames are XADDed with explicit entry ids (arrival times) half a second apart and the runner's
clock is set to the newest one, so a minute of camera time takes a second of test time.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import wait_for
from tests.integration.support.api import add_camera
from vigil_common.bus.mqtt import MqttBus, parse_mqtt_url
from vigil_common.contract import keys, streams
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.contract.messages import MotionConfig
from vigil_common.contract.topics import Topics
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Camera, MotionEvent
from vigil_common.runtime.settings import Settings
from vigil_recorder.duties import DutyContext
from vigil_recorder.motion.duty import MotionRunner, duties, run_motion
from vigil_recorder.segment.motion_gate import Action, keep_window, read_progress

pytestmark = pytest.mark.integration

STEP_MS = 500
RNG = np.random.default_rng(7)
BACKGROUND = np.clip(
    110 + 50 * np.sin(np.mgrid[0:240, 0:320][1] / 13.0)[..., None] * np.ones(3), 0, 255
).astype(np.uint8)


def picture(square_x: int | None = None) -> bytes:
    img = np.clip(BACKGROUND.astype(np.int16) + RNG.normal(0, 2, BACKGROUND.shape), 0, 255).astype(np.uint8)
    if square_x is not None:
        cv2.rectangle(img, (square_x, 100), (square_x + 40, 140), (255, 255, 255), -1)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return buf.tobytes()


@dataclass
class Broker:
    """A paho subscriber collecting (topic, payload, retain) from the loopback broker."""

    url: str
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def payloads(self, topic: str) -> list[str]:
        with self.lock:
            return [p.decode() for t, p, _r in self.messages if t == topic]

    def retained(self, topic: str, timeout: float = 10.0) -> str:
        """A fresh subscriber's view: the retained payload of ``topic``."""
        got: list[bytes] = []
        addr = parse_mqtt_url(self.url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{secrets.token_hex(4)}")
        client.on_message = lambda _c, _u, msg: got.append(msg.payload) if msg.retain else None
        client.connect(addr.host, addr.port)
        client.subscribe(topic, qos=1)
        client.loop_start()
        try:
            wait_for(lambda: got, timeout, f"retained message on {topic}")
        finally:
            client.loop_stop()
            client.disconnect()
        return got[-1].decode()


@dataclass
class Rig:
    settings: Settings
    ctx: DutyContext
    runner: MotionRunner
    broker: Broker
    now_ms: int

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.ctx.sessions

    def topic(self, cam: str) -> str:
        return Topics(self.settings.topic_prefix).motion(cam)

    def frame(self, cam: str, square_x: int | None = None) -> None:
        """XADD one frame arriving at the current simulated time (captured 40 ms earlier)."""
        fr = Frame(Codec.JPEG, True, 0, (self.now_ms - 40) * 1_000_000, 320, 240, picture(square_x))
        self.ctx.redis.xadd(keys.frames_stream(cam), streams.to_fields(fr), id=f"{self.now_ms}-0")  # type: ignore[arg-type]

    def score(self, cam: str, score: float, hot: bool) -> None:
        """XADD a motion score measured by the camera (as ingest writes it) at the current time."""
        fields = streams.motion_fields(0, (self.now_ms - 40) * 1_000_000, score, hot)
        self.ctx.redis.xadd(keys.motion_stream(cam), fields, id=f"{self.now_ms}-0")  # type: ignore[arg-type]

    def tick(self, cams: dict[str, int | None], runner: MotionRunner | None = None) -> None:
        """Advance half a second: a frame per camera (square position or None), then one run."""
        self.now_ms += STEP_MS
        for cam, x in cams.items():
            self.frame(cam, x)
        (runner or self.runner).run(self.ctx)

    def events(self, cam: str) -> list[MotionEvent]:
        with self.sessions() as db:
            return list(db.scalars(select(MotionEvent).where(MotionEvent.camera_id == cam).order_by(MotionEvent.id)))


@pytest.fixture
def rig(settings: Settings) -> Iterator[Rig]:
    engine = make_engine(settings.database_url)
    client = redis.Redis.from_url(settings.redis_url)
    bus = MqttBus(settings.mqtt_url, client_id=f"vigil-test-{secrets.token_hex(4)}")
    broker = Broker(settings.mqtt_url)
    addr = parse_mqtt_url(settings.mqtt_url)
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{secrets.token_hex(4)}")

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with broker.lock:
            broker.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    sub.on_message = on_message
    sub.connect(addr.host, addr.port)
    sub.subscribe(f"{settings.topic_prefix}/cameras/+/motion", qos=1)
    sub.subscribe(f"{settings.topic_prefix}/cameras/+/motion_config", qos=1)
    sub.loop_start()
    bus.start()
    assert bus.wait_connected(10)

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        bus.publish(topic, payload, qos=qos, retain=retain)

    ctx = DutyContext(settings, client, make_sessionmaker(engine), publish)
    rig = Rig(settings, ctx, MotionRunner(settings), broker, int(time.time() * 1000))
    rig.runner.clock = lambda: rig.now_ms
    yield rig
    # Leave no retained messages behind on the shared broker.
    with broker.lock:
        topics = {t for t, _p, _r in broker.messages}
    for topic in topics:
        bus.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    bus.stop()
    sub.loop_stop()
    sub.disconnect()
    client.close()
    engine.dispose()


def test_the_duty_samples_at_the_configured_rate(settings: Settings) -> None:
    [duty] = duties(settings)
    assert (duty.name, duty.interval_s) == ("motion", 0.5)
    assert duties(settings.model_copy(update={"motion_enabled": False})) == []


def test_motion_event_rows_thumbnails_and_retained_state(rig: Rig) -> None:
    add_camera(rig.sessions, "cam1")
    add_camera(rig.sessions, "cam2", enabled=False)
    for _ in range(10):  # 5 s of a still scene
        rig.tick({"cam1": None, "cam2": 10})
    assert rig.events("cam1") == []
    wait_for(lambda: rig.broker.payloads(rig.topic("cam1")) == ["OFF"], what="initial OFF")
    first_hot_ms = rig.now_ms + STEP_MS
    for i in range(6):  # 3 s of a square crossing the frame
        rig.tick({"cam1": 20 + 40 * i, "cam2": 10})
    [ev] = rig.events("cam1")
    assert ev.end is None
    assert ev.start == datetime.fromtimestamp((first_hot_ms - 40) / 1000, UTC)
    assert ev.thumbnail_path and ev.thumbnail_path.startswith("thumbnails/cam1/")
    thumb = rig.settings.data_dir / ev.thumbnail_path
    assert cv2.imread(str(thumb)) is not None
    wait_for(lambda: rig.broker.payloads(rig.topic("cam1")) == ["OFF", "ON"], what="ON")
    assert rig.broker.retained(rig.topic("cam1")) == "ON"
    last_hot_ms = rig.now_ms

    for _ in range(19):  # 9.5 s of stillness: not yet quiet long enough (10 s)
        rig.tick({"cam1": None})
    assert rig.events("cam1")[0].end is None
    for _ in range(4):
        rig.tick({"cam1": None})
    [ev] = rig.events("cam1")
    assert ev.end == datetime.fromtimestamp((last_hot_ms - 40) / 1000, UTC)
    assert 0.01 < ev.score < 0.2  # a 40x40 square and its old place in 320x240
    assert cv2.imread(str(rig.settings.data_dir / ev.thumbnail_path)).shape == (240, 320, 3)  # type: ignore[operator]
    wait_for(lambda: rig.broker.payloads(rig.topic("cam1")) == ["OFF", "ON", "OFF"], what="OFF")
    assert rig.broker.retained(rig.topic("cam1")) == "OFF"
    assert rig.events("cam2") == []  # disabled: never sampled
    assert rig.broker.payloads(rig.topic("cam2")) == []
    progress = read_progress(rig.ctx.redis, "cam1")
    assert progress is not None and progress.event_id is None
    assert progress.settled_ms == progress.capture_ms == rig.now_ms - 40 and progress.offset_ms == -40


def test_masked_motion_and_insensitive_cameras_stay_quiet(rig: Rig) -> None:
    add_camera(rig.sessions, "masked", motion_mask="[[0, 0, 1, 1]]")
    add_camera(rig.sessions, "badmask", motion_mask="not json")  # ignored: detection goes on
    for _ in range(4):
        rig.tick({"masked": None, "badmask": None})
    for i in range(6):
        rig.tick({"masked": 20 + 40 * i, "badmask": 20 + 40 * i})
    assert rig.events("masked") == []
    assert len(rig.events("badmask")) == 1


def test_a_new_leader_closes_events_left_open(rig: Rig) -> None:
    add_camera(rig.sessions, "cam1")
    for _ in range(4):
        rig.tick({"cam1": None})
    for i in range(4):
        rig.tick({"cam1": 20 + 40 * i})
    last_hot_ms = rig.now_ms
    [ev] = rig.events("cam1")
    assert ev.end is None
    wait_for(lambda: "ON" in rig.broker.payloads(rig.topic("cam1")), what="ON")

    successor = MotionRunner(rig.settings, clock=lambda: rig.now_ms)  # the old leader died
    rig.tick({"cam1": None}, runner=successor)
    [ev] = rig.events("cam1")
    assert ev.end == datetime.fromtimestamp((last_hot_ms - 40) / 1000, UTC)  # its last hot sample
    wait_for(lambda: rig.broker.payloads(rig.topic("cam1"))[-1:] == ["OFF"], what="OFF")


def test_orphans_of_other_recorders_are_closed_after_a_few_minutes(rig: Rig) -> None:
    add_camera(rig.sessions, "cam1")
    rig.tick({"cam1": None})  # first run done: the startup sweep is over
    started = datetime.fromtimestamp(rig.now_ms / 1000, UTC)
    with rig.sessions.begin() as db:
        db.add(MotionEvent(camera_id="cam1", start=started, end=None, score=0.1))
    for _ in range(130):  # 65 s: the minute sweep skips it, it is too young
        rig.tick({"cam1": None})
    assert rig.events("cam1")[0].end is None
    with rig.sessions.begin() as db:
        db.execute(update(MotionEvent).values(start=started.replace(year=started.year - 1)))
    for _ in range(125):
        rig.tick({"cam1": None})
    assert rig.events("cam1")[0].end is not None


def test_run_motion_keeps_one_runner_per_leadership(rig: Rig) -> None:
    add_camera(rig.sessions, "cam1")
    rig.frame("cam1")
    run_motion(rig.ctx)
    runner = rig.ctx.state["motion"]
    run_motion(rig.ctx)
    assert rig.ctx.state["motion"] is runner


def test_motion_only_recording_decisions(rig: Rig) -> None:
    add_camera(rig.sessions, "cam1")
    add_camera(rig.sessions, "cont")
    with rig.sessions.begin() as db:
        db.execute(update(Camera).where(Camera.id == "cam1").values(record_mode="motion"))
    t0 = rig.now_ms
    for _ in range(60):  # 30 s still
        rig.tick({"cam1": None})
    for i in range(6):  # motion from t0 + 30.5 s to t0 + 33 s
        rig.tick({"cam1": 20 + 40 * i})
    for _ in range(60):  # still until t0 + 63 s
        rig.tick({"cam1": None})
    now = rig.now_ms

    def decision(start_s: float) -> Action:
        start = t0 + int(start_s * 1000)
        return keep_window(rig.sessions, rig.ctx.redis, rig.settings, "cam1", start, start + 2000, now_ms=now).action

    assert decision(2) is Action.SKIP  # long before the event's pre-roll
    assert decision(20) is Action.KEEP  # within the 10 s pre-roll
    assert decision(31) is Action.KEEP  # during it
    assert decision(42) is Action.KEEP  # within the 10 s post-roll
    assert decision(47) is Action.SKIP  # after it, and the detector has seen far enough
    assert decision(58) is Action.WAIT  # an event could still start within its pre-roll
    assert keep_window(rig.sessions, rig.ctx.redis, rig.settings, "cont", t0, t0 + 2000).action is Action.KEEP
    assert keep_window(rig.sessions, rig.ctx.redis, rig.settings, "nobody", t0, t0 + 2000).action is Action.KEEP


def test_motion_only_decision_keeps_when_the_database_is_down(rig: Rig) -> None:
    down = make_sessionmaker(make_engine("postgresql://postgres@127.0.0.1:1/none", pool_pre_ping=False))
    decision = keep_window(down, rig.ctx.redis, rig.settings, "cam1", 0, 2000)
    assert decision.action is Action.KEEP and "kept to be safe" in decision.reason


# --- cameras that measure motion themselves (docs/protocol.md#motion-at-the-edge) -----------------


def edge_tick(rig: Rig, cam: str, score: float | None, hot: bool = False) -> None:
    """Half a second: a frame (still scene) and, unless ``score`` is None, the camera's score."""
    rig.now_ms += STEP_MS
    rig.frame(cam)
    if score is not None:
        rig.score(cam, score, hot)
    rig.runner.run(rig.ctx)


def test_scores_from_the_camera_make_events_and_nothing_is_decoded(rig: Rig) -> None:
    add_camera(rig.sessions, "edge1", motion_mask="[[0.5, 0, 0.5, 1]]")
    with rig.sessions.begin() as db:
        db.execute(update(Camera).where(Camera.id == "edge1").values(motion_sensitivity=0.8))
    for _ in range(6):
        edge_tick(rig, "edge1", 0.0)
    first_hot_ms = rig.now_ms + STEP_MS
    for _ in range(6):
        edge_tick(rig, "edge1", 0.05, hot=True)  # the frames show a still scene: only the score says motion
    last_hot_ms = rig.now_ms
    [ev] = rig.events("edge1")
    assert ev.start == datetime.fromtimestamp((first_hot_ms - 40) / 1000, UTC) and ev.end is None
    assert ev.thumbnail_path and cv2.imread(str(rig.settings.data_dir / ev.thumbnail_path)) is not None
    wait_for(lambda: rig.broker.payloads(rig.topic("edge1")) == ["OFF", "ON"], what="ON")
    for _ in range(24):
        edge_tick(rig, "edge1", 0.0)
    [ev] = rig.events("edge1")
    assert ev.end == datetime.fromtimestamp((last_hot_ms - 40) / 1000, UTC)
    assert ev.score == pytest.approx(0.05)
    wait_for(lambda: rig.broker.payloads(rig.topic("edge1")) == ["OFF", "ON", "OFF"], what="OFF")
    cm = rig.runner.cameras["edge1"]
    assert rig.runner.cpu.samples == 0 and cm.edge_samples == 36  # measured by the camera, not here
    # The camera was told how to measure: the registry's sensitivity and mask, the server's rest.
    topic = Topics(rig.settings.topic_prefix).motion_config("edge1")
    config = MotionConfig.model_validate_json(rig.broker.retained(topic))
    assert config == MotionConfig(enabled=True, sensitivity=0.8, min_area=rig.settings.motion_min_area,
                                  sample_fps=rig.settings.motion_sample_fps, mask=[[0.5, 0.0, 0.5, 1.0]])
    progress = read_progress(rig.ctx.redis, "edge1")
    assert progress is not None and progress.capture_ms == rig.now_ms - 40


def test_a_camera_that_stops_scoring_is_measured_here_again(rig: Rig) -> None:
    add_camera(rig.sessions, "edge2")
    for _ in range(4):
        edge_tick(rig, "edge2", 0.0)
    assert rig.runner.cpu.samples == 0
    for _ in range(12):  # no scores for 6 s (older capture, --no-motion): frames are decoded again
        edge_tick(rig, "edge2", None)
    assert rig.runner.cpu.samples > 0
    for i in range(6):
        rig.tick({"edge2": 20 + 40 * i})
    assert len(rig.events("edge2")) == 1


def test_stale_or_malformed_scores_are_skipped_and_settings_follow_the_registry(rig: Rig) -> None:
    add_camera(rig.sessions, "edge3")
    old = rig.now_ms - 60_000
    for k in range(6):  # a minute old: a restarted recorder must not replay them as events
        rig.ctx.redis.xadd(keys.motion_stream("edge3"), streams.motion_fields(0, old * 1_000_000, 0.5, True),
                           id=f"{old + k * STEP_MS}-0")  # type: ignore[arg-type]
    rig.ctx.redis.xadd(keys.motion_stream("edge3"), {b"score": b"not a number"}, id=f"{rig.now_ms}-0")
    for _ in range(4):
        edge_tick(rig, "edge3", 0.0)
    assert rig.events("edge3") == [] and rig.runner.cameras["edge3"].edge_samples == 4
    topic = Topics(rig.settings.topic_prefix).motion_config("edge3")
    assert MotionConfig.model_validate_json(rig.broker.retained(topic)).sensitivity == rig.settings.motion_sensitivity
    with rig.sessions.begin() as db:
        db.execute(update(Camera).where(Camera.id == "edge3").values(motion_sensitivity=0.1))
    rig.now_ms += 6_000  # past the registry refresh
    edge_tick(rig, "edge3", 0.0)
    wait_for(lambda: '"sensitivity":0.1' in (rig.broker.payloads(topic) or [""])[-1], what="new settings")
    with rig.sessions.begin() as db:
        db.execute(update(Camera).where(Camera.id == "edge3").values(enabled=False))
    rig.now_ms += 6_000
    edge_tick(rig, "edge3", 0.0)
    wait_for(lambda: rig.broker.payloads(topic)[-1:] == [""], what="settings cleared for a disabled camera")
