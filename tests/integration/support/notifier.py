"""Helpers for the notifier's integration tests: a local HTTP server standing in for SendGrid's
API (and for webhooks), a notifier service run in-process, and cameras beating over MQTT."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from tests.helpers import heartbeat_bytes, wait_for
from vigil_common.bus.mqtt import parse_mqtt_url
from vigil_common.contract.topics import Topics
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Notification
from vigil_common.runtime.lifecycle import StopSignal
from vigil_common.runtime.settings import Settings
from vigil_notifier.service import Intervals, NotifierService

API_KEY = "SG.test-key-do-not-log"
SENDER = "vigil@example.org"
RECIPIENTS = ["ops@example.org", "boss@example.org"]


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float
    raw: bytes = b""


@dataclass
class CaptureServer:
    """Records every request; answers with the next scripted status (then ``default``)."""

    server: ThreadingHTTPServer
    requests: list[Captured] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    default: int = 202
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def mails(self) -> list[Captured]:
        with self.lock:
            return [r for r in self.requests if r.path == "/v3/mail/send"]

    def subjects(self) -> list[str]:
        return [m.body["subject"] for m in self.mails()]


def _handler(cap: CaptureServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with cap.lock:
                code = cap.script.pop(0) if cap.script else cap.default
                delay = cap.delay_s
                cap.requests.append(Captured("POST", self.path, dict(self.headers.items()), body, time.time(), raw))
            if delay:
                time.sleep(delay)
            payload = b"" if code == 202 else json.dumps({"errors": [{"message": f"status {code}"}]}).encode()
            try:
                self.send_response(code)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    cap = CaptureServer(server=ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler))
    cap.server.server_close()
    cap.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(cap))
    cap.server.daemon_threads = True
    thread = threading.Thread(target=cap.server.serve_forever, daemon=True)
    thread.start()
    yield cap
    cap.server.shutdown()
    cap.server.server_close()


def notifier_settings(settings: Settings, capture: CaptureServer, **over: object) -> Settings:
    values: dict[str, Any] = {
        "sendgrid_api_key": API_KEY, "sendgrid_host": capture.url, "email_from": SENDER,
        "alert_emails": ",".join(RECIPIENTS), "heartbeat_interval_s": 1.0, "offline_grace_s": 3.0,
        "notify_recovery_hold_s": 0.5, "notify_retry_base_s": 0.3, "notify_timeout_s": 2.0,
        "public_url": "http://vigil.test", "timezone": "Europe/Paris", "notify_group_window_s": 3.0,
    }
    values.update(over)
    return Settings(_env_file=None, **(settings.model_dump() | values))  # type: ignore[call-arg]


FAST = Intervals(tick_s=0.2, poll_s=0.2, config_s=1.0, conditions_s=0.5)


class Running:
    """A notifier service on a thread of this process."""

    def __init__(self, settings: Settings, intervals: Intervals = FAST) -> None:
        self.service = NotifierService(settings, intervals=intervals)
        self.stop_signal = StopSignal()
        self.thread = threading.Thread(target=self.service.run, args=(self.stop_signal,), daemon=True)
        self.thread.start()
        wait_for(self.service.bus.connected.is_set, 10, "notifier connected")

    def stop(self) -> None:
        self.stop_signal.set()
        self.thread.join(15)
        assert not self.thread.is_alive()


class Cameras:
    """Test cameras: a paho client publishing heartbeats for ``beating`` every ``interval_s``."""

    def __init__(self, mqtt_url: str, prefix: str, interval_s: float = 1.0) -> None:
        self.topics = Topics(prefix)
        self.interval_s = interval_s
        self.beating: set[str] = set()
        self.extra: dict[str, dict[str, object]] = {}
        self.retained: set[str] = set()
        addr = parse_mqtt_url(mqtt_url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"cams-{prefix}")
        self.client.reconnect_delay_set(1, 2)
        self.client.connect_async(addr.host, addr.port, keepalive=30)
        self.client.loop_start()
        wait_for(self.client.is_connected, 10, "test cameras connected")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            for cam in sorted(self.beating):
                self.heartbeat(cam)

    def heartbeat(self, cam: str, **over: object) -> None:
        doc = {"name": f"Camera {cam}", "location": "porch"} | self.extra.get(cam, {}) | over
        self.client.publish(self.topics.heartbeat(cam), heartbeat_bytes(cam, **doc), qos=1)

    def status(self, cam: str, status: str, retain: bool = True) -> None:
        if retain:
            self.retained.add(cam)
        self.client.publish(self.topics.status(cam), status.encode(), qos=1, retain=retain)

    def raw(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    def start(self, *cams: str) -> None:
        for cam in cams:
            self.heartbeat(cam)
        self.beating.update(cams)

    def stop(self, *cams: str) -> None:
        self.beating.difference_update(cams)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for cam in sorted(self.retained):
            self.client.publish(self.topics.status(cam), b"", qos=1, retain=True).wait_for_publish(2)
        self.client.loop_stop()
        self.client.disconnect()


def rows(database_url: str) -> list[Notification]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as db:
            return list(db.scalars(select(Notification).order_by(Notification.id)))
    finally:
        engine.dispose()
