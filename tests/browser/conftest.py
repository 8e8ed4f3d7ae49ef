"""Browser tests: the web app in Debian's chromium (Playwright for Python, sync API) against a
whole stack started with `vigil up` (two demo cameras) plus a light MQTT publisher for 14 more
cameras, so the live wall carries 16. One stack per module keeps the suite's wall time low.

Every page records console errors, uncaught exceptions and 5xx responses; a test fails if any
appear. ``VIGIL_SCREENSHOTS=1`` saves screenshots of the main pages to docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import create_database, drop_database, free_port
from tests.helpers import Stack, running_stack
from vigil_common.bus.mqtt import parse_mqtt_url
from vigil_common.contract import envelope
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.contract.topics import Topics

CHROMIUM = os.environ.get("VIGIL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--autoplay-policy=no-user-gesture-required"]
E2E_REDIS = os.environ.get("VIGIL_TEST_E2E_REDIS_URL", "redis://127.0.0.1:6379/12")
PASSWORD = "browser-" + secrets.token_hex(8)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
EXTRA_CAMERAS = 14  # + the two demo cameras = 16 on the wall
SEGMENT_SECONDS = 5  # 16 cameras on one recorder worker: 3.2 jobs/s (at 3 s the slower CI host fell behind)

if not Path(CHROMIUM).exists():  # `make test` installs it (scripts/ensure-browser.sh)
    pytest.skip(f"no chromium at {CHROMIUM} (run scripts/ensure-browser.sh)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


def _jpeg(i: int, cam: int) -> bytes:
    img = np.zeros((120, 160, 3), np.uint8)
    img[:, :] = ((cam * 53) % 256, (i * 29) % 256, (i * 7 + cam * 11) % 256)
    cv2.putText(img, f"{cam}:{i}", (4, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 70])
    assert ok
    return bytes(buf)


class Publisher:
    """Frames (2 fps, 160x120) and heartbeats (every 5 s) for cameras ``wall-01``..``wall-NN``."""

    def __init__(self, mqtt_url: str, prefix: str, count: int) -> None:
        self.topics = Topics(prefix)
        self.ids = [f"wall-{i + 1:02d}" for i in range(count)]
        addr = parse_mqtt_url(mqtt_url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="browser-wall-" + secrets.token_hex(3))
        self.client.connect(addr.host, addr.port)
        self.client.loop_start()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def heartbeat(self, n: int, cam: str, seq: int) -> bytes:
        now = datetime.now(UTC).isoformat()
        return json.dumps({
            "camera_id": cam, "seq": seq, "sent_at": now, "streaming": True, "fps": 2.0, "fps_target": 2,
            "frames_sent": seq * 10, "frames_dropped": 0, "last_frame_at": now, "width": 160, "height": 120,
            "codec": "jpeg", "source": "synthetic", "name": f"Wall camera {n + 1}", "location": f"Floor {n % 3 + 1}",
            "uptime_s": float(seq), "version": "test",
        }).encode()

    def run(self) -> None:
        i = 0
        while not self.stop.wait(0.5):
            for n, cam in enumerate(self.ids):
                frame = Frame(Codec.JPEG, True, i, time.time_ns(), 160, 120, _jpeg(i, n))
                self.client.publish(self.topics.frame(cam), envelope.pack(frame), qos=0)
                if i % 10 == 0:
                    self.client.publish(self.topics.heartbeat(cam), self.heartbeat(n, cam, i // 10), qos=1)
            i += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory, mqtt_url: str) -> Iterator[Stack]:
    redis.Redis.from_url(E2E_REDIS).flushdb()
    db_url = create_database(migrate=False)  # `vigil up` migrates
    port = free_port()
    prefix = "web" + secrets.token_hex(3)
    env = {
        **os.environ,
        "VIGIL_MQTT_URL": mqtt_url,
        "VIGIL_REDIS_URL": E2E_REDIS,
        "VIGIL_DATABASE_URL": db_url,
        "VIGIL_TOPIC_PREFIX": prefix,
        "VIGIL_DATA_DIR": str(tmp_path_factory.mktemp("browser-data")),
        "VIGIL_HTTP_PORT": str(port),
        "VIGIL_ADMIN_PASSWORD": PASSWORD,
        "VIGIL_SEGMENT_SECONDS": str(SEGMENT_SECONDS),
        "VIGIL_SEGMENT_GRACE_S": "1",
        # 16 cameras on one recorder worker on 2 shared cores run a few segments behind at times
        "VIGIL_RECORDING_STALL_SEGMENTS": "6",
        "VIGIL_LOG_LEVEL": os.environ.get("VIGIL_TEST_STACK_LOG_LEVEL", "WARNING"),
        "VIGIL_TIMEZONE": "UTC",
        # The wall's 14 changing JPEG cameras all count as moving: at the default 2 frames/s each
        # the detector would take a whole core from the recorder (one worker for 16 cameras).
        "VIGIL_DETECTOR_FPS": "0.5",
        "VIGIL_HA_DISCOVERY": "false",  # the shared broker: no retained discovery configs left behind
    }
    publisher: Publisher | None = None
    try:
        with running_stack(env, ["--camera-fps", "6", "--camera-size", "320x180"], port, PASSWORD,
                           cwd=Path(__file__).resolve().parents[2]) as s:
            publisher = Publisher(mqtt_url, prefix, EXTRA_CAMERAS)
            yield s
    finally:
        if publisher is not None:
            publisher.close()
        drop_database(db_url)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@dataclass
class Problems:
    """What went wrong in a page: JavaScript errors, console errors, 5xx answers, dialogs."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        def on_console(msg: Any) -> None:
            # The browser logs every 4xx fetch as "Failed to load resource"; those are answers the
            # app handles (401 before login, 404 for a camera without a picture), not JS errors.
            if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
                self.errors.append(f"console: {msg.text}")

        def on_response(resp: Any) -> None:
            if resp.status >= 500:
                self.errors.append(f"HTTP {resp.status} {resp.url}")

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("response", on_response)
        page.on("dialog", on_dialog)


@dataclass
class Session:
    page: Any
    context: Any
    problems: Problems
    stack: Stack

    def goto(self, route: str) -> None:
        """Show a page of the app and wait until the router has rendered it."""
        self.page.goto(f"{self.stack.base}/#/{route}")
        name = route.split("?")[0].split("/")[0]
        self.page.wait_for_selector(f"#main[data-route='{name}']")

    def shot(self, name: str) -> None:
        if os.environ.get("VIGIL_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), type="png")


def open_session(browser: Any, stack: Stack, *, viewport: dict[str, int] | None = None, login: bool = True,
                 **context_args: Any) -> Session:
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800}, accept_downloads=True,
                                  timezone_id="UTC", locale="en-GB", **context_args)
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems = Problems()
    problems.watch(page)
    s = Session(page, context, problems, stack)
    if login:
        page.goto(stack.base + "/")
        page.fill("#username", "admin")
        page.fill("#password", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_selector("#wall")
    return s


@pytest.fixture
def session(browser: Any, stack: Stack) -> Iterator[Session]:
    s = open_session(browser, stack)
    yield s
    s.context.close()
    assert not s.problems.errors, s.problems.errors
    assert not s.problems.dialogs, s.problems.dialogs


