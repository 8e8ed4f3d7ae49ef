"""End to end: `vigil up` with demo cameras, plus an external HTTP camera and a bare-JPEG
publisher, against real Mosquitto, Redis and PostgreSQL. Recordings are fetched through the
API and decoded with PyAV; a killed service is restarted by `vigil up`."""

from __future__ import annotations

import io
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import create_database, drop_database, free_port
from tests.helpers import Stack, make_jpeg, running_stack, wait_for
from vigil_common.bus.mqtt import parse_mqtt_url

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


def test_notifier_logs_new_camera_emails_to_the_console(stack: Stack) -> None:
    # No SendGrid key / SMTP / webhook: `vigil up`'s notifier logs each e-mail and records it.
    def logged() -> set[str]:
        r = stack.api().get("/api/v1/notifications", params={"kind": "camera_new"})
        assert r.status_code == 200, r.text
        return {i["camera_id"] for i in r.json()["items"] if i["status"] == "logged" and i["channel"] == "console"}

    wait_for(lambda: {"demo-1", "demo-2"} <= logged(), 30, "new-camera notifications")
    assert any("notifier |" in line and "[Vigil] New camera" in line for line in stack.output)


def test_live_mjpeg_yields_changing_frames(stack: Stack) -> None:
    parts: list[bytes] = []
    with stack.api().stream("GET", "/api/v1/cameras/demo-1/live.mjpeg", timeout=20) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("multipart/x-mixed-replace")
        buf = b""
        for chunk in r.iter_bytes():
            buf += chunk
            while (start := buf.find(b"\xff\xd8")) != -1 and (end := buf.find(b"\xff\xd9", start)) != -1:
                parts.append(buf[start:end + 2])
                buf = buf[end + 2:]
            if len(parts) >= 4:
                break
    assert len(set(parts)) >= 3
    snap = stack.api().get("/api/v1/cameras/demo-1/snapshot.jpg")
    assert snap.status_code == 200 and snap.content[:2] == b"\xff\xd8"


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
