"""End to end: `vigil up` with demo cameras, plus an external HTTP camera and a bare-JPEG
publisher, against real Mosquitto, Redis and PostgreSQL. Recordings are fetched through the
API and decoded with PyAV; a killed service is restarted by `vigil up`."""

from __future__ import annotations

import io
import itertools
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import httpx
import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import create_database, drop_database, free_port
from tests.helpers import Stack, make_jpeg, running_stack, wait_for
from tests.support.rtsp import RtspServer, rtsp_server  # noqa: F401 - the fixture
from vigil_common.bus.mqtt import parse_mqtt_url
from vigil_common.contract import envelope
from vigil_common.contract.envelope import Codec
from vigil_common.contract.h264 import split_annexb
from vigil_common.contract.messages import MotionConfig, MotionScore, ObjectEventMessage, ObjectPhase, object_counts
from vigil_recorder.remux.avc import parse_avcc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

E2E_REDIS = os.environ.get("VIGIL_TEST_E2E_REDIS_URL", "redis://127.0.0.1:6379/12")
PASSWORD = "e2e-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, mqtt_url: str) -> Iterator[Stack]:
    redis.Redis.from_url(E2E_REDIS).flushdb()
    db_url = create_database(migrate=False)  # `vigil up` migrates
    port = free_port()
    env = {
        **os.environ,
        "VIGIL_MQTT_URL": mqtt_url,
        "VIGIL_REDIS_URL": E2E_REDIS,
        "VIGIL_DATABASE_URL": db_url,
        "VIGIL_TOPIC_PREFIX": "e2e" + secrets.token_hex(3),
        "VIGIL_DATA_DIR": str(tmp_path_factory.mktemp("e2e-data")),
        "VIGIL_HTTP_PORT": str(port),
        "VIGIL_ADMIN_PASSWORD": PASSWORD,
        "VIGIL_SEGMENT_SECONDS": "2",
        "VIGIL_SEGMENT_GRACE_S": "1",
        # On the machine's shared broker: no retained discovery configs left behind (the
        # embedded-broker stack of test_embedded_stack.py tests Home Assistant discovery).
        "VIGIL_HA_DISCOVERY": "false",
    }
    try:
        with running_stack(env, ["--camera-fps", "8", "--camera-size", "320x240"], port, PASSWORD) as s:
            yield s
    finally:
        drop_database(db_url)


def recordings(s: Stack, camera_id: str) -> list[dict[str, object]]:
    r = s.api().get("/api/v1/recordings", params={"camera_id": camera_id, "limit": 100})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def decode(data: bytes) -> tuple[int, str, str]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, stream.codec_context.name, str(stream.codec_context.pix_fmt)


def assert_records(s: Stack, camera_id: str, at_least: int = 2, timeout: float = 60) -> list[dict[str, object]]:
    items = wait_for(lambda: len(recordings(s, camera_id)) >= at_least and recordings(s, camera_id),
                     timeout, f"recordings of {camera_id}")
    assert isinstance(items, list)
    for item in items[:3]:
        r = s.api().get(f"/api/v1/recordings/{item['id']}/video")
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
        frames, codec, pix_fmt = decode(r.content)
        assert (frames, codec, pix_fmt) == (item["frames"], "h264", "yuv420p")
        assert int(r.headers["content-length"]) == item["bytes"]
    return items


def test_the_banner_and_health(stack: Stack) -> None:
    banner = "\n".join(stack.output)
    assert stack.base + "/" in banner and "admin" in banner
    r = httpx.get(stack.base + "/api/v1/health")
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    assert httpx.get(stack.base + "/api/v1/cameras").status_code == 401


def test_demo_cameras_are_registered_and_recorded(stack: Stack) -> None:
    def cams() -> dict[str, dict[str, object]]:
        return {c["id"]: c for c in stack.api().get("/api/v1/cameras").json()}

    wait_for(lambda: {"demo-1", "demo-2"} <= set(cams()), 30, "demo cameras")
    wait_for(lambda: all(cams()[c]["status"] == "online" for c in ("demo-1", "demo-2")), 30, "online")
    # Name and location come with the first heartbeat (every 5 s); frames may register a camera first.
    wait_for(lambda: cams()["demo-2"]["location"] == "Front door", 15, "the heartbeat's location")
    for cam in ("demo-1", "demo-2"):
        items = assert_records(stack, cam)
        assert all(float(str(i["duration_s"])) > 0 for i in items)


def test_demo_cameras_send_h264_that_is_recorded_untouched(stack: Stack) -> None:
    """The demo cameras encode at the edge (--codec h264): the recorder remuxes their access units,
    so a recording's SPS is the camera's own, byte for byte."""
    addr = parse_mqtt_url(stack.env["VIGIL_MQTT_URL"])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="e2e-sps-" + secrets.token_hex(3))
    camera_sps: list[bytes] = []

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        frame = envelope.parse(msg.payload)
        if frame.codec == Codec.H264 and frame.keyframe:
            camera_sps.extend(u for u in split_annexb(frame.payload) if u[0] & 0x1F == 7)

    client.on_message = on_message
    client.connect(addr.host, addr.port)
    client.subscribe(f"{stack.env['VIGIL_TOPIC_PREFIX']}/cameras/demo-1/frame", 0)
    client.loop_start()
    try:
        wait_for(lambda: bool(camera_sps), 30, "a keyframe from demo-1")
    finally:
        client.loop_stop()
        client.disconnect()
    item = assert_records(stack, "demo-1", at_least=1)[0]
    r = stack.api().get(f"/api/v1/recordings/{item['id']}/video")
    with av.open(io.BytesIO(r.content)) as container:
        recorded = parse_avcc(container.streams.video[0].codec_context.extradata or b"")
    assert recorded.sps[0] == camera_sps[0]


def test_demo_cameras_measure_motion_themselves(stack: Stack) -> None:
    """Motion at the edge: the capture publishes scores (its bouncing box is motion), ingest keeps
    them in Redis, the recorder turns them into a retained ON, and it told the camera how to
    measure with a retained motion_config (docs/protocol.md#motion-at-the-edge)."""
    prefix = stack.env["VIGIL_TOPIC_PREFIX"]
    addr = parse_mqtt_url(stack.env["VIGIL_MQTT_URL"])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="e2e-motion-" + secrets.token_hex(3))
    got: dict[str, list[bytes]] = {"motion_score": [], "motion_config": [], "motion": []}

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        got[msg.topic.rsplit("/", 1)[1]].append(msg.payload)

    client.on_message = on_message
    client.connect(addr.host, addr.port)
    for kind in got:
        client.subscribe(f"{prefix}/cameras/demo-1/{kind}", 1)
    client.loop_start()
    try:
        wait_for(lambda: sum(MotionScore.model_validate_json(p).hot for p in got["motion_score"]) >= 3, 30,
                 "hot motion scores from demo-1")
        wait_for(lambda: bool(got["motion_config"]), 30, "the retained motion_config")
        config = MotionConfig.model_validate_json(got["motion_config"][-1])
        assert config.enabled and config.sensitivity == 0.5
        wait_for(lambda: got["motion"][-1:] == [b"ON"], 30, "motion ON from the camera's own scores")
    finally:
        client.loop_stop()
        client.disconnect()
    assert redis.Redis.from_url(E2E_REDIS).xlen("vigil:motion:demo-1") > 0


def test_the_scene_camera_makes_object_events_with_close_ups(stack: Stack) -> None:
    """Demo camera 2 (``--source scene``) shows a person, a cat and a motorbike walking by: motion
    at the edge opens a motion event, the detector finds the visitor on the H.264 keyframes, and
    the object event comes out on MQTT, in ``GET /events`` with its close-up and on the timeline."""
    prefix = stack.env["VIGIL_TOPIC_PREFIX"]
    addr = parse_mqtt_url(stack.env["VIGIL_MQTT_URL"])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="e2e-objects-" + secrets.token_hex(3))
    started: list[ObjectEventMessage] = []
    counts: list[dict[str, int]] = []

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.endswith("/object_event"):
            message = ObjectEventMessage.model_validate_json(msg.payload)
            if message.type is ObjectPhase.START:
                started.append(message)
        elif msg.payload:
            counts.append(object_counts(msg.payload))

    client.on_message = on_message
    client.connect(addr.host, addr.port)
    client.subscribe(f"{prefix}/cameras/demo-2/object_event", 1)
    client.subscribe(f"{prefix}/cameras/demo-2/objects", 1)
    client.loop_start()
    try:
        # A visitor every 30 s (three in turn): the next one is at most a minute and a half away.
        wait_for(lambda: bool(started), 150, "an object event from demo-2 on MQTT")
        wait_for(lambda: any(c.get(started[0].label) for c in counts), 15, "the retained objects count")
    finally:
        client.loop_stop()
        client.disconnect()
    event = started[0]
    assert event.camera_id == "demo-2" and event.label in ("person", "cat", "motorbike")
    r = stack.api().get("/api/v1/events", params={"kind": "object", "camera_id": "demo-2", "label": event.label})
    assert r.status_code == 200, r.text
    [item] = [i for i in r.json()["items"] if i["id"] == event.id]
    assert item["kind"] == "object" and item["closeup_url"] == event.closeup_url
    closeup = stack.api().get(event.closeup_url)
    assert closeup.status_code == 200 and closeup.content[:2] == b"\xff\xd8"
    day = event.start.astimezone(ZoneInfo(stack.env.get("VIGIL_TIMEZONE", "UTC"))).date().isoformat()
    timeline = stack.api().get(f"/api/v1/cameras/demo-2/days/{day}")
    assert timeline.status_code == 200, timeline.text
    assert event.id in {o["id"] for o in timeline.json()["objects"]}
    # demo-1 shows a bouncing box: motion, but nothing the model knows.
    r = stack.api().get("/api/v1/events", params={"kind": "object", "camera_id": "demo-1"})
    assert r.status_code == 200 and r.json()["items"] == []


def test_metrics_has_a_sample_of_everything_the_grafana_dashboard_plots(stack: Stack) -> None:
    """Issue 16: the dashboard in deploy/grafana/ loads every metric it plots from a running stack
    (the object-event test before this one has run the detector)."""
    from tests.support.dashboard import dashboard_metrics, exposed_metrics

    plotted = dashboard_metrics()
    missing: set[str] = set(plotted)

    def complete() -> bool:
        nonlocal missing
        r = stack.api().get("/metrics")
        assert r.status_code == 200, r.text
        missing = plotted - exposed_metrics(r.text)
        return not missing

    try:
        wait_for(complete, 90, "every metric the dashboard plots", poll=1.0)
    except AssertionError:
        raise AssertionError(f"/metrics lacks {sorted(missing)}") from None


def test_notifier_logs_new_camera_emails_to_the_console(stack: Stack) -> None:
    # No SendGrid key / SMTP / webhook: `vigil up`'s notifier logs each e-mail and records it.
    def logged() -> set[str]:
        r = stack.api().get("/api/v1/notifications", params={"kind": "camera_new"})
        assert r.status_code == 200, r.text
        return {i["camera_id"] for i in r.json()["items"] if i["status"] == "logged" and i["channel"] == "console"}

    wait_for(lambda: {"demo-1", "demo-2"} <= logged(), 30, "new-camera notifications")
    assert any("notifier |" in line and "[Vigil] New camera" in line for line in stack.output)


def test_live_mp4_plays_the_h264_demo_camera(stack: Stack) -> None:
    data = b""
    with stack.api().stream("GET", "/api/v1/cameras/demo-1/live.mp4", timeout=20) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "video/mp4"
        for chunk in r.iter_bytes():
            data += chunk
            if data.count(b"moof") >= 12:
                break
    assert data[4:8] == b"ftyp"
    with av.open(io.BytesIO(data)) as container:
        pictures = [f for f in container.decode(video=0)]
    assert len(pictures) >= 10  # init, the newest keyframe, then frames as they arrive: all decode
    assert stack.api().get("/api/v1/cameras/demo-1/live.mjpeg").status_code == 409  # an H.264 camera
    wait_for(lambda: stack.api().get("/api/v1/cameras/demo-1/snapshot.jpg").status_code == 200, 30,
             "a still of the H.264 camera")
    snap = stack.api().get("/api/v1/cameras/demo-1/snapshot.jpg")
    assert snap.content[:2] == b"\xff\xd8"


def test_external_capture_from_an_ffmpeg_mjpeg_http_feed_records(stack: Stack) -> None:
    import imageio_ffmpeg

    port = free_port()
    feed = f"http://127.0.0.1:{port}/feed.mjpg"
    ffmpeg = subprocess.Popen(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
         "-i", "testsrc=size=320x240:rate=10", "-t", "120", "-f", "mpjpeg", "-listen", "1", feed],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    # ffmpeg's `-listen 1` serves exactly one client: look for the listening socket, don't connect.
    wait_for(lambda: _listening(port), 15, "ffmpeg listening")
    capture = subprocess.Popen(
        [sys.executable, "-m", "vigil_common.cli.main", "capture", "--camera-id", "ext-http", "--source", feed,
         "--fps", "5", "--width", "320", "--height", "240", "--name", "HTTP cam", "--location", "Garage"],
        env=stack.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        items = assert_records(stack, "ext-http")
        assert items[0]["width"] == 320
        cam = stack.api().get("/api/v1/cameras/ext-http").json()
        assert (cam["name"], cam["location"], cam["source"]) == ("HTTP cam", "Garage", "url")
    finally:
        capture.terminate()
        capture.wait(15)
        ffmpeg.kill()
        ffmpeg.wait()


def test_an_rtsp_h264_camera_is_recorded_byte_for_byte(
    stack: Stack, rtsp_server: Callable[..., RtspServer],  # noqa: F811
) -> None:
    """A real RTSP server (gst-rtsp-server, x264enc) -> `vigil capture` passthrough -> ingest ->
    recorder: the recording carries the camera's own SPS, and every indexed frame decodes."""
    camera = rtsp_server(size=(320, 240), fps=15, key_int=15, user="viewer", password="s3cret-rtsp")
    url = camera.url("viewer", "s3cret-rtsp")
    with av.open(url, options={"rtsp_transport": "tcp"}) as probe:
        own_sps = next(u for packet in probe.demux(video=0) if packet.is_keyframe
                       for u in split_annexb(bytes(packet)) if u[0] & 0x1F == 7)
    capture = subprocess.Popen(
        [sys.executable, "-m", "vigil_common.cli.main", "capture", "--camera-id", "ext-rtsp", "--source", url,
         "--codec", "h264", "--name", "RTSP cam"],
        env=stack.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        items = assert_records(stack, "ext-rtsp")
        assert (items[0]["width"], items[0]["height"]) == (320, 240)
        r = stack.api().get(f"/api/v1/recordings/{items[0]['id']}/video")
        with av.open(io.BytesIO(r.content)) as container:
            recorded = parse_avcc(container.streams.video[0].codec_context.extradata or b"")
        assert recorded.sps[0] == own_sps
        cam = stack.api().get("/api/v1/cameras/ext-rtsp").json()
        assert (cam["source"], cam["codec"]) == ("url", "h264")
        # Motion from the camera's keyframes (one decode per GOP, in the capture process).
        key = "vigil:motion:ext-rtsp"
        e2e_redis = redis.Redis.from_url(E2E_REDIS)
        wait_for(lambda: e2e_redis.xlen(key) >= 3, 30, "motion scores from the RTSP camera's keyframes")
        times = [int(f[b"t"]) for _id, f in e2e_redis.xrange(key)]
        assert all(b - a >= 900_000_000 for a, b in itertools.pairwise(times))  # a keyframe a second
    finally:
        capture.terminate()
        capture.wait(15)


def test_bare_jpeg_publisher_records(stack: Stack) -> None:
    addr = parse_mqtt_url(stack.env["VIGIL_MQTT_URL"])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="esp32-like-" + secrets.token_hex(3))
    client.connect(addr.host, addr.port)
    client.loop_start()
    topic = f"{stack.env['VIGIL_TOPIC_PREFIX']}/cameras/esp32-cam/frame"
    stop = threading.Event()

    def publish() -> None:
        i = 0
        while not stop.wait(0.2):
            client.publish(topic, make_jpeg(160, 120, value=i * 7), qos=0)
            i += 1

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    try:
        items = assert_records(stack, "esp32-cam")
        assert items[0]["width"] == 160 and items[0]["height"] == 120
    finally:
        stop.set()
        thread.join()
        client.loop_stop()
        client.disconnect()


def _listening(port: int) -> bool:
    needle = f":{port:04X} 00000000:0000 0A"
    return any(needle in line for line in Path("/proc/net/tcp").read_text().splitlines())


def _children_named(parent: int, service: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"vigil_common.cli.main" in cmd and service.encode() in cmd:
            pids.append(int(entry.name))
    return pids


def test_a_killed_service_is_restarted_and_recording_goes_on(stack: Stack) -> None:
    pids = _children_named(stack.proc.pid, "ingest")
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGKILL)
    wait_for(lambda: any("ingest" in line and "restarting in" in line for line in stack.output), 20,
             "the supervisor reporting the restart")
    wait_for(lambda: _children_named(stack.proc.pid, "ingest"), 30, "a new ingest process")
    before = {i["id"] for i in recordings(stack, "demo-1")}
    wait_for(lambda: {i["id"] for i in recordings(stack, "demo-1")} - before, 60,
             "a new demo-1 segment after the restart")
