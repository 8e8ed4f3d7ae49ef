"""The detector service against real Redis streams and PostgreSQL: motion-gated JPEG and H.264
frames become object events with close-ups; what has no motion is looked at only on the
heartbeat; a frame that does not decode is counted and skipped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
import redis
from sqlalchemy import select

from tests.integration.detector.test_detector_models import FRAME, scene
from tests.integration.support.h264 import H264Encoder
from vigil_common.contract import keys, streams
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Camera, MotionEvent, ObjectEvent
from vigil_common.runtime.settings import Settings
from vigil_detector.model import Model, default_spec, load
from vigil_detector.service import DetectorService
from vigil_detector.tracking import NS_PER_S

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall_ns = 1_764_000_000 * NS_PER_S

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall_ns += int(seconds * NS_PER_S)


@pytest.fixture(scope="module")
def yolo() -> Model:
    return load(default_spec())


@pytest.fixture
def env(settings: Settings, redis_url: str) -> Iterator[tuple[Settings, redis.Redis, object]]:
    engine = make_engine(settings.database_url)
    client = redis.Redis.from_url(redis_url)
    try:
        yield settings.model_copy(update={"detector_heartbeat_s": 30.0, "detector_gap_s": 3.0}), client, \
            make_sessionmaker(engine)
    finally:
        client.close()
        engine.dispose()


def add_camera(sessions: object, cam: str, motion: bool) -> None:
    with sessions.begin() as s:  # type: ignore[attr-defined]
        s.add(Camera(id=cam, name=cam, enabled=True))
        if motion:
            s.add(MotionEvent(camera_id=cam, start=datetime.now(UTC), end=None, score=0.5))


def end_motion(sessions: object, cam: str) -> None:
    with sessions.begin() as s:  # type: ignore[attr-defined]
        for row in s.execute(select(MotionEvent).where(MotionEvent.camera_id == cam)).scalars():
            row.end = datetime.now(UTC)


def push(client: redis.Redis, cam: str, codec: Codec, payload: bytes, at_ns: int, keyframe: bool = True) -> None:
    frame = Frame(codec, keyframe, 0, at_ns, FRAME[1], FRAME[0], payload)
    client.xadd(keys.frames_stream(cam), streams.to_fields(frame))


def jpeg(img: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


def h264_gop(img: np.ndarray, frames: int = 4) -> list[bytes]:
    enc = H264Encoder(img.shape[1], img.shape[0], gop=60, fps=15)
    return [enc.encode(img) for _ in range(frames)]


def service(settings: Settings, sessions: object, client: redis.Redis, model: Model, clock: Clock) -> DetectorService:
    """The service on ``clock`` (monotonic and wall time the test moves on)."""
    return DetectorService(settings, sessions, client, model,  # type: ignore[arg-type]
                           monotonic=lambda: clock.mono, wall_ns=lambda: clock.wall_ns)


def events(sessions: object, cam: str) -> list[ObjectEvent]:
    with sessions() as s:  # type: ignore[operator]
        return list(s.execute(select(ObjectEvent).where(ObjectEvent.camera_id == cam)).scalars())


def test_a_person_during_motion_becomes_an_event_with_a_close_up(yolo: Model, env) -> None:  # type: ignore[no-untyped-def]
    settings, client, sessions = env
    add_camera(sessions, "cam-jpeg", motion=True)
    clock = Clock()
    svc = service(settings, sessions, client, yolo, clock)
    for k in range(4):  # 2 frames/s of a person walking by
        frame, _ = scene("astronaut.png", (400 + 20 * k, 200))
        push(client, "cam-jpeg", Codec.JPEG, jpeg(frame), clock.wall_ns)
        assert svc.tick() == 1
        assert svc.tick() == 0  # not due again yet, and no new frame
        clock.advance(0.5)
    end_motion(sessions, "cam-jpeg")
    [open_event] = events(sessions, "cam-jpeg")
    assert open_event.label == "person" and open_event.end is None
    clock.advance(3.5)  # the person is gone for longer than the gap: the event ends on the clock
    svc.tick()
    [event] = events(sessions, "cam-jpeg")
    assert event.end is not None and event.closeup_path
    assert cv2.imread(str(settings.data_dir / event.closeup_path)) is not None
    assert svc.counts.frames == 4


def test_an_h264_camera_is_looked_at_on_its_keyframes(yolo: Model, env) -> None:  # type: ignore[no-untyped-def]
    settings, client, sessions = env
    add_camera(sessions, "cam-h264", motion=True)
    clock = Clock()
    svc = service(settings, sessions, client, yolo, clock)
    frame, _ = scene("chelsea.png", (600, 250))
    for _gop in range(3):
        units = h264_gop(frame)
        for i, unit in enumerate(units):
            push(client, "cam-h264", Codec.H264, unit, clock.wall_ns, keyframe=i == 0)
        assert svc.tick() == 1  # the GOP's IDR picture, found behind its P-frames
        clock.advance(0.5)
        assert svc.tick() == 0  # due, but no new keyframe since
        clock.advance(0.5)
    svc.close()
    [event] = events(sessions, "cam-h264")
    assert event.label == "cat" and event.end is not None


def test_without_motion_only_the_heartbeat_looks_and_bad_frames_are_skipped(yolo: Model, env) -> None:  # type: ignore[no-untyped-def]
    settings, client, sessions = env
    add_camera(sessions, "cam-still", motion=False)
    clock = Clock()
    svc = service(settings, sessions, client, yolo, clock)
    push(client, "cam-still", Codec.JPEG, b"\xff\xd8 not a jpeg", clock.wall_ns)
    assert svc.tick() == 0 and svc.counts.undecodable == 1  # the first look: a bad frame, skipped
    frame, _ = scene("astronaut.png", (300, 200))
    for _ in range(10):
        push(client, "cam-still", Codec.JPEG, jpeg(frame), clock.wall_ns)
        clock.advance(1.0)
        svc.tick()
    assert svc.counts.frames == 0  # 10 s without motion: the 30 s heartbeat has not come round
    clock.advance(21.0)
    push(client, "cam-still", Codec.JPEG, jpeg(frame), clock.wall_ns)
    assert svc.tick() == 1


def test_vigil_detector_runs_a_pass_as_a_process_and_says_it_is_alive(settings: Settings, redis_url: str) -> None:
    import subprocess
    import sys

    from tests.integration.support.recorder import env_for

    client = redis.Redis.from_url(redis_url)
    try:
        out = subprocess.run([sys.executable, "-m", "vigil_common.cli.main", "detector", "--once"],
                             env=env_for(settings), cwd=settings.data_dir.parent, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "detector running: yolov3-tiny.weights" in out.stdout + out.stderr
        assert [k for k in client.scan_iter(match=keys.service_health("detector", "*"))]
    finally:
        client.close()


def test_the_registry_s_zones_decide_what_becomes_an_event(yolo: Model, env) -> None:  # type: ignore[no-untyped-def]
    from vigil_common.contract import object_zones

    settings, client, sessions = env
    add_camera(sessions, "cam-porch", motion=True)
    porch = object_zones.ObjectZone(name="porch", points=[[0.5, 0], [1, 0], [1, 1], [0.5, 1]], labels=["person"])
    with sessions.begin() as s:
        cam = s.get(Camera, "cam-porch")
        cam.object_zones = object_zones.dump([porch])
    clock = Clock()
    svc = service(settings, sessions, client, yolo, clock)

    def walk(x0: int) -> None:
        for k in range(3):
            frame, _ = scene("astronaut.png", (x0 + 20 * k, 200))
            push(client, "cam-porch", Codec.JPEG, jpeg(frame), clock.wall_ns)
            svc.tick()
            clock.advance(0.5)
        clock.advance(4.0)
        svc.tick()

    walk(40)  # on the left: not the porch
    assert events(sessions, "cam-porch") == []
    walk(820)  # on the porch
    [event] = events(sessions, "cam-porch")
    assert event.label == "person" and event.zones == "porch" and event.end is not None


def test_faces_are_looked_for_on_the_cameras_that_ask_for_them(yolo: Model, env) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    settings, client, sessions = env
    add_camera(sessions, "cam-faces", motion=False)
    add_camera(sessions, "cam-plain", motion=False)
    with sessions.begin() as s:
        s.execute(update(Camera).where(Camera.id == "cam-faces").values(detect_faces=True))
    clock = Clock()
    svc = service(settings, sessions, client, yolo, clock)
    svc.tick()
    assert svc.cameras["cam-faces"].objects.faces is not None  # loaded once, on first use
    assert svc.cameras["cam-plain"].objects.faces is None
    with sessions.begin() as s:
        s.execute(update(Camera).where(Camera.id == "cam-faces").values(detect_faces=False))
    clock.advance(11.0)  # the registry is read every 10 s
    svc.tick()
    assert svc.cameras["cam-faces"].objects.faces is None


def test_two_detector_processes_share_the_cameras_and_take_over_from_one_that_stops(
        yolo: Model, env) -> None:  # type: ignore[no-untyped-def]
    settings, client, sessions = env
    cams = [f"cam-{i}" for i in range(8)]
    for cam in cams:
        add_camera(sessions, cam, motion=False)
    clock = Clock()

    def member(name: str) -> DetectorService:
        return DetectorService(settings, sessions, client, yolo, monotonic=lambda: clock.mono,
                               wall_ns=lambda: clock.wall_ns, instance=name)

    a, b = member("detector-a"), member("detector-b")
    a.tick()
    b.tick()  # b joins: a sees it at its next refresh
    clock.advance(11.0)
    a.tick()
    b.tick()
    assert set(a.cameras).isdisjoint(b.cameras) and set(a.cameras) | set(b.cameras) == set(cams)
    assert a.cameras and b.cameras  # both have a share
    b.close()  # b leaves cleanly: a takes everything at its next refresh
    clock.advance(11.0)
    a.tick()
    assert set(a.cameras) == set(cams)
    # A member that dies without leaving is dropped after 30 s of silence.
    c = member("detector-c")
    c.tick()
    clock.advance(11.0)
    a.tick()
    assert set(a.cameras) != set(cams)  # c has its share now
    clock.advance(31.0)  # c says nothing for 31 s
    a.tick()
    assert set(a.cameras) == set(cams)


def test_events_a_killed_detector_left_open_are_ended_when_a_camera_is_taken_on(yolo: Model, env) -> None:  # type: ignore[no-untyped-def]
    """An open row nobody tracks would protect the camera's footage and match ?label= forever."""
    settings, client, sessions = env
    add_camera(sessions, "cam-left", motion=False)
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    with sessions.begin() as s:
        s.add(ObjectEvent(camera_id="cam-left", label="person", score=0.7, start=start, end=None, width=1280,
                          height=720, closeup_path=None, zones="",
                          track=f"[[{int(start.timestamp() * 1000)},1,2,3,4,0.7],"
                                f"[{int(start.timestamp() * 1000) + 4500},1,2,3,4,0.7]]"))
        s.add(ObjectEvent(camera_id="cam-left", label="cat", score=0.7, start=start, end=None, width=1280,
                          height=720, closeup_path=None, zones="", track="not json"))
    svc = service(settings, sessions, client, yolo, Clock())
    svc.tick()
    ended = {e.label: e.end for e in events(sessions, "cam-left")}
    assert ended["person"] is not None and (ended["person"] - start).total_seconds() == 4.5  # its last sighting
    assert ended["cat"] == start  # no track to go by: its start
