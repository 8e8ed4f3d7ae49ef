"""The notifier across broker restarts (a private mosquitto stopped and started on its port):
retained statuses replayed prove nothing, and losing the broker is one summary, not N outages."""


from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import start_private_mosquitto, wait_port
from tests.helpers import wait_for
from tests.integration.support.notifier import Cameras, CaptureServer, Running, notifier_settings
from vigil_common.runtime.settings import Settings

pytestmark = pytest.mark.integration


class Broker:
    def __init__(self, tmp: Path) -> None:
        self.dir = tmp
        self.proc, self.port = start_private_mosquitto(
            tmp, f"persistence true\npersistence_location {tmp}/\nautosave_interval 1\n")
        self.conf = tmp / f"mosquitto-{self.port}.conf"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port("127.0.0.1", self.port)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    yield b
    if b.proc.poll() is None:
        b.stop()


def test_broker_restart_replays_retained_statuses_without_false_emails(
        settings: Settings, capture: CaptureServer, broker: Broker, topic_prefix: str) -> None:
    s = notifier_settings(settings, capture, mqtt_url=broker.url, offline_grace_s=6.0)
    svc = Running(s)
    cams = Cameras(broker.url, topic_prefix)
    try:
        cams.status("a", "online")
        cams.status("b", "online")
        cams.start("a", "b")
        wait_for(lambda: len(capture.mails()) >= 2, 10, "two new-camera e-mails")
        cams.stop("b")  # b goes silent; its retained status stays "online" (no Last Will)
        wait_for(lambda: len(capture.mails()) >= 3, 15, "b's outage e-mail")
        assert capture.subjects()[2] == '[Vigil] Camera "Camera b" (b) is offline'
        broker.stop()
        time.sleep(1.0)
        broker.start()
        wait_for(svc.service.bus.connected.is_set, 20, "notifier reconnected")
        wait_for(cams.client.is_connected, 20, "cameras reconnected")
        time.sleep(6)  # retained "online" for a and b replayed; a beats again; b stays silent
        assert len(capture.subjects()) == 3, capture.subjects()
    finally:
        cams.close()
        svc.stop()


def test_losing_the_broker_is_one_summary_not_camera_outages(
        settings: Settings, capture: CaptureServer, broker: Broker, topic_prefix: str) -> None:
    """The issue's case: the broker down for 30 s, under a 15 s grace: one "notifier lost the
    broker" summary, no camera e-mails (their silence was the notifier's blindness)."""
    s = notifier_settings(settings, capture, mqtt_url=broker.url, offline_grace_s=15.0)
    svc = Running(s)
    cams = Cameras(broker.url, topic_prefix)
    try:
        cams.start("a", "b", "c")
        wait_for(lambda: len(capture.mails()) >= 3, 10, "three new-camera e-mails")
        broker.stop()
        time.sleep(30)  # twice the grace
        broker.start()
        wait_for(lambda: len(capture.mails()) >= 4, 60, "broker-lost summary")
        subject = capture.subjects()[3]
        assert subject.startswith("[Vigil] Notifier lost the MQTT broker for "), subject
        assert "min" in subject or int(subject.rsplit(" ", 2)[-2]) >= 30, subject
        wait_for(cams.client.is_connected, 60, "cameras reconnected")
        time.sleep(5)  # the cameras are back within their fresh grace period: no outage e-mails
        assert len(capture.subjects()) == 4, capture.subjects()
    finally:
        cams.close()
        svc.stop()
