"""The capture service against the real broker on loopback (no MQTT mocks).

In-process cameras (a thread running ``CaptureService.run``) for the protocol behaviour, and
``python -m vigil_capture`` subprocesses for SIGTERM and SIGKILL.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from vigil_capture.config import CaptureConfig
from vigil_capture.service import CaptureService, ServiceOptions
from vigil_capture.sources import SyntheticSource
from vigil_common.bus.mqtt import parse_mqtt_url
from vigil_common.contract.envelope import Frame, parse
from vigil_common.contract.jpeg import jpeg_dimensions
from vigil_common.contract.messages import CameraState, Heartbeat
from vigil_common.contract.topics import Topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Subscriber:
    """A plain paho client recording everything under one camera's topics."""

    def __init__(self, url: str, topics: Topics, camera_id: str) -> None:
        self.topics = topics
        self.camera_id = camera_id
        self._lock = threading.Lock()
        self._messages: list[mqtt.MQTTMessage] = []
        self._subscribed = threading.Event()
        address = parse_mqtt_url(url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{secrets.token_hex(4)}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        self.client.subscribe(f"{topics.prefix}/cameras/{camera_id}/#", qos=1)
        assert self._subscribed.wait(5), "no SUBACK"

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._messages.append(msg)

    def messages(self, kind: str) -> list[mqtt.MQTTMessage]:
        suffix = f"/{kind}"
        with self._lock:
            return [m for m in self._messages if m.topic.endswith(suffix)]

    def frames(self) -> list[Frame]:
        return [parse(m.payload) for m in self.messages("frame")]

    def heartbeats(self) -> list[Heartbeat]:
        return [Heartbeat.model_validate_json(m.payload) for m in self.messages("heartbeat")]

    def states(self) -> list[CameraState]:
        return [CameraState.model_validate_json(m.payload) for m in self.messages("state") if m.payload]

    def statuses(self) -> list[str]:
        return [m.payload.decode() for m in self.messages("status")]

    def command(self, action: str, params: dict[str, object] | None = None, request_id: str = "") -> None:
        body = {"action": action, "params": params or {}, "request_id": request_id}
        self.send_raw(json.dumps(body).encode())

    def send_raw(self, payload: bytes) -> None:
        self.client.publish(self.topics.command(self.camera_id), payload, qos=1).wait_for_publish(5)

    def clear_retained(self) -> None:
        for topic in (self.topics.status(self.camera_id), self.topics.state(self.camera_id)):
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Camera:
    camera_id: str
    topics: Topics
    service: CaptureService
    source: SyntheticSource
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    result: list[int] = field(default_factory=list)

    def shutdown(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(10)
            assert not self.thread.is_alive(), "capture service did not stop"
        self.source.close()


def new_camera_id() -> str:
    return f"cam-{secrets.token_hex(4)}"


@pytest.fixture
def camera_factory(mqtt_url: str, topic_prefix: str) -> Iterator[Callable[..., tuple[Camera, Subscriber]]]:
    started: list[tuple[Camera, Subscriber]] = []

    def start(
        *, fps: float = 20, width: int = 160, height: int = 120, autostart: bool = True, heartbeat_s: float = 0.5
    ) -> tuple[Camera, Subscriber]:
        camera_id = new_camera_id()
        topics = Topics(topic_prefix)
        subscriber = Subscriber(mqtt_url, topics, camera_id)
        source = SyntheticSource(width, height)
        source.open()
        config = CaptureConfig(
            fps=fps, width=width, height=height, quality=75, overlay=True, name="Test cam", location="Lab"
        )
        options = ServiceOptions(
            camera_id=camera_id,
            mqtt_url=mqtt_url,
            topic_prefix=topic_prefix,
            heartbeat_s=heartbeat_s,
            autostart=autostart,
        )
        camera = Camera(camera_id, topics, CaptureService(options, source, config), source)
        camera.thread = threading.Thread(target=lambda: camera.result.append(camera.service.run(camera.stop)))
        camera.thread.start()
        started.append((camera, subscriber))
        return camera, subscriber

    yield start
    for camera, subscriber in started:
        camera.shutdown()
        subscriber.clear_retained()
        subscriber.close()


def latest_state(sub: Subscriber) -> CameraState | None:
    states = sub.states()
    return states[-1] if states else None


# --- in-process ------------------------------------------------------------------------------


def test_frames_heartbeats_and_retained_status_and_state(
    camera_factory: Callable[..., tuple[Camera, Subscriber]], mqtt_url: str
) -> None:
    camera, sub = camera_factory()
    wait_until(lambda: len(sub.messages("frame")) >= 8, what="frames")
    wait_until(lambda: len(sub.heartbeats()) >= 2, what="heartbeats")

    frames = sub.frames()
    seqs = [f.seq for f in frames]
    assert all(b > a for a, b in itertools.pairwise(seqs)), seqs
    now_ns = time.time_ns()
    for frame in frames:
        assert frame.keyframe and (frame.width, frame.height) == (160, 120)
        assert jpeg_dimensions(frame.payload) == (160, 120)
        assert abs(now_ns - frame.capture_ns) < 30 * 10**9
    image = cv2.imdecode(np.frombuffer(frames[-1].payload, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (120, 160, 3)

    raw = json.loads(sub.messages("heartbeat")[-1].payload)
    assert set(raw) == set(Heartbeat.model_fields)  # exactly the contract's fields
    heartbeat = sub.heartbeats()[-1]
    assert heartbeat.camera_id == camera.camera_id and heartbeat.streaming
    assert heartbeat.source == "synthetic" and heartbeat.codec == "jpeg"
    assert (heartbeat.width, heartbeat.height, heartbeat.fps_target) == (160, 120, 20)
    assert heartbeat.frames_sent > 0 and heartbeat.last_frame_at is not None
    assert (heartbeat.name, heartbeat.location) == ("Test cam", "Lab")
    assert [h.seq for h in sub.heartbeats()] == sorted(h.seq for h in sub.heartbeats())

    # a late subscriber gets the retained status and state
    late = Subscriber(mqtt_url, camera.topics, camera.camera_id)
    try:
        wait_until(lambda: late.messages("status") and late.messages("state"), what="retained messages")
        status = late.messages("status")[0]
        assert status.retain and status.payload == b"online"
        state_msg = late.messages("state")[0]
        assert state_msg.retain
        state = CameraState.model_validate_json(state_msg.payload)
        assert state.streaming and state.source == "synthetic" and state.width == 160
    finally:
        late.close()


def test_stop_and_start_commands(camera_factory: Callable[..., tuple[Camera, Subscriber]]) -> None:
    _camera, sub = camera_factory()
    wait_until(lambda: len(sub.messages("frame")) >= 3, what="frames")

    sub.command("stop", request_id="req-stop")
    wait_until(
        lambda: (s := latest_state(sub)) is not None and s.last_request_id == "req-stop" and not s.streaming,
        what="stopped state",
    )
    time.sleep(0.3)  # frames already on their way
    frames_when_stopped = len(sub.messages("frame"))
    heartbeats_when_stopped = len(sub.heartbeats())
    wait_until(lambda: len(sub.heartbeats()) >= heartbeats_when_stopped + 2, what="heartbeats while stopped")
    assert len(sub.messages("frame")) == frames_when_stopped
    assert not sub.heartbeats()[-1].streaming

    sub.command("start", request_id="req-start")
    wait_until(lambda: len(sub.messages("frame")) >= frames_when_stopped + 3, what="frames after start")
    wait_until(lambda: (s := latest_state(sub)) is not None and s.streaming and s.last_request_id == "req-start")


def test_the_home_assistant_switch_stops_and_starts_a_camera(
    camera_factory: Callable[..., tuple[Camera, Subscriber]],
) -> None:
    """Issue 16: the discovery config's switch payloads, sent as Home Assistant sends them (raw,
    to the config's command_topic), stop and start a real camera; its state topic renders the
    switch's state."""
    from vigil_recorder.homeassistant.configs import CameraInfo, configs

    _camera, sub = camera_factory()
    wait_until(lambda: len(sub.messages("frame")) >= 3, what="frames")
    by_topic = configs(CameraInfo(sub.camera_id), topics=sub.topics, prefix="homeassistant", labels=(),
                       sw_version="test")
    [switch] = [c for t, c in by_topic.items() if t.startswith("homeassistant/switch/")]
    assert switch["command_topic"] == sub.topics.command(sub.camera_id)
    assert switch["state_topic"] == sub.topics.state(sub.camera_id)

    def press(payload: object) -> None:
        assert isinstance(payload, str)
        sub.client.publish(str(switch["command_topic"]), payload.encode(), qos=1).wait_for_publish(5)

    press(switch["payload_off"])
    wait_until(lambda: (s := latest_state(sub)) is not None and not s.streaming, what="stopped by the switch")
    time.sleep(0.3)
    stopped = len(sub.messages("frame"))
    time.sleep(0.5)
    assert len(sub.messages("frame")) == stopped
    press(switch["payload_on"])
    wait_until(lambda: len(sub.messages("frame")) >= stopped + 3, what="frames after the switch's start")
    state = latest_state(sub)
    assert state is not None and state.streaming and state.last_request_id == "homeassistant"


def test_snapshot_while_stopped_sends_exactly_one_frame(
    camera_factory: Callable[..., tuple[Camera, Subscriber]],
) -> None:
    _camera, sub = camera_factory(autostart=False, fps=2)
    wait_until(lambda: len(sub.heartbeats()) >= 1 and latest_state(sub) is not None, what="camera up")
    state = latest_state(sub)
    assert state is not None and not state.streaming
    time.sleep(0.5)
    assert sub.messages("frame") == []

    sub.command("snapshot", request_id="snap-1")
    wait_until(lambda: len(sub.messages("frame")) >= 1, timeout=3, what="snapshot frame")
    time.sleep(1.0)
    assert len(sub.messages("frame")) == 1
    frame = sub.frames()[0]
    assert jpeg_dimensions(frame.payload) == (160, 120)
    wait_until(lambda: (s := latest_state(sub)) is not None and s.last_request_id == "snap-1")
    assert not sub.heartbeats()[-1].streaming


def test_configure_changes_what_arrives(camera_factory: Callable[..., tuple[Camera, Subscriber]]) -> None:
    _camera, sub = camera_factory(fps=20)
    wait_until(lambda: len(sub.messages("frame")) >= 3, what="frames")

    sub.command("configure", {"width": 64, "height": 48, "fps": 4, "quality": 40}, request_id="cfg-1")
    wait_until(lambda: (s := latest_state(sub)) is not None and s.last_request_id == "cfg-1", what="state")
    state = latest_state(sub)
    assert state is not None and (state.width, state.height, state.fps_target, state.quality) == (64, 48, 4, 40)
    wait_until(lambda: sub.frames()[-1].width == 64, what="resized frames")
    mark = len(sub.messages("frame"))
    time.sleep(1.5)
    new_frames = sub.frames()[mark:]
    assert 1 <= len(new_frames) <= 9  # about 6 at 4 fps (20 fps would give ~30)
    for frame in new_frames:
        assert (frame.width, frame.height) == (64, 48) and jpeg_dimensions(frame.payload) == (64, 48)
    wait_until(lambda: sub.heartbeats()[-1].fps_target == 4, what="heartbeat fps_target")


def test_bad_commands_are_ignored(camera_factory: Callable[..., tuple[Camera, Subscriber]]) -> None:
    camera, sub = camera_factory()
    wait_until(lambda: latest_state(sub) is not None and len(sub.messages("frame")) >= 2, what="camera up")
    states_before = len(sub.states())

    for payload in (b"{not json", b"\xff\x00", b'{"action": "self-destruct"}', b"[]", b"x" * 100_000):
        sub.send_raw(payload)
    sub.command("configure", {"quality": 500}, request_id="bad-cfg")
    sub.command("configure", {"fps": 5, "brightness": 9}, request_id="bad-cfg-2")
    time.sleep(0.5)
    assert len(sub.states()) == states_before  # nothing changed, nothing published
    assert camera.thread is not None and camera.thread.is_alive()

    frames = len(sub.messages("frame"))
    heartbeats = len(sub.heartbeats())
    wait_until(lambda: len(sub.messages("frame")) > frames + 3, what="still streaming")
    wait_until(lambda: len(sub.heartbeats()) > heartbeats, what="still heartbeating")
    sub.command("configure", {"name": "Renamed"}, request_id="good")
    wait_until(lambda: (s := latest_state(sub)) is not None and s.name == "Renamed", what="later command works")
    assert sub.heartbeats()[-1].frames_sent > 0


def test_graceful_stop_in_process_leaves_retained_offline(
    camera_factory: Callable[..., tuple[Camera, Subscriber]], mqtt_url: str
) -> None:
    camera, sub = camera_factory()
    wait_until(lambda: "online" in sub.statuses(), what="online")
    camera.shutdown()
    assert camera.result == [0]
    late = Subscriber(mqtt_url, camera.topics, camera.camera_id)
    try:
        wait_until(lambda: late.messages("status") and late.messages("state"), what="retained messages")
        assert late.messages("status")[-1].payload == b"offline"
        assert not late.states()[-1].streaming
    finally:
        late.close()


# --- subprocess: signals ----------------------------------------------------------------------


def spawn(mqtt_url: str, topic_prefix: str, camera_id: str, cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return subprocess.Popen(
        [
            sys.executable, "-m", "vigil_capture",
            "--camera-id", camera_id, "--source", "synthetic", "--mqtt-url", mqtt_url,
            "--topic-prefix", topic_prefix, "--fps", "10", "--width", "160", "--height", "120",
            "--heartbeat-s", "0.5",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip


@pytest.fixture
def subscriber_for(mqtt_url: str, topic_prefix: str) -> Iterator[Callable[[str], Subscriber]]:
    subs: list[Subscriber] = []

    def make(camera_id: str) -> Subscriber:
        sub = Subscriber(mqtt_url, Topics(topic_prefix), camera_id)
        subs.append(sub)
        return sub

    yield make
    if subs:
        subs[0].clear_retained()
    for sub in subs:
        sub.close()


def test_sigterm_publishes_retained_offline(
    mqtt_url: str, topic_prefix: str, tmp_path: Path, subscriber_for: Callable[[str], Subscriber]
) -> None:
    camera_id = new_camera_id()
    sub = subscriber_for(camera_id)
    proc = spawn(mqtt_url, topic_prefix, camera_id, tmp_path)
    try:
        wait_until(lambda: len(sub.messages("frame")) >= 2 and "online" in sub.statuses(), timeout=15)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate()[0].decode(errors="replace")
    assert "SIGTERM" in output
    late = subscriber_for(camera_id)
    wait_until(lambda: late.messages("status") and late.messages("state"), what="retained messages")
    assert late.messages("status")[-1].retain and late.messages("status")[-1].payload == b"offline"
    assert not late.states()[-1].streaming


def test_sigkill_delivers_the_last_will(
    mqtt_url: str, topic_prefix: str, tmp_path: Path, subscriber_for: Callable[[str], Subscriber]
) -> None:
    camera_id = new_camera_id()
    sub = subscriber_for(camera_id)
    proc = spawn(mqtt_url, topic_prefix, camera_id, tmp_path)
    try:
        wait_until(lambda: "online" in sub.statuses() and sub.heartbeats(), timeout=15, what="camera up")
        proc.kill()
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    # The kernel closes the socket without an MQTT DISCONNECT, so the broker sends the will.
    wait_until(lambda: sub.statuses()[-1] == "offline", timeout=10, what="Last Will")
    late = subscriber_for(camera_id)
    wait_until(lambda: bool(late.messages("status")), what="retained status")
    assert late.messages("status")[-1].payload == b"offline"
