"""``vigil ipcams`` against real parts: an IP camera row (credentials sealed) pointing at a real
RTSP server that wants those credentials; the service starts a real ``vigil capture`` that
streams the camera's H.264 to the broker, keeps the password off its command line, and stops
it when the camera is disabled."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy.orm import Session, sessionmaker
from vigil_ipcams import records
from vigil_ipcams.secretbox import Credentials, SecretBox
from vigil_ipcams.service import IpCamsService

from tests.helpers import wait_for
from tests.support.rtsp import RtspServer, rtsp_server  # noqa: F401 - the fixture
from vigil_common.bus.mqtt import parse_mqtt_url
from vigil_common.db.models import IpCamera
from vigil_common.runtime.settings import Settings

pytestmark = pytest.mark.integration
PASSWORD = "rtsp-Pw-9x1"


def _heartbeats(settings: Settings, camera_id: str) -> tuple[mqtt.Client, list[dict[str, object]]]:
    got: list[dict[str, object]] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    url = parse_mqtt_url(settings.mqtt_url)
    client.on_message = lambda _c, _u, msg: got.append(json.loads(msg.payload))
    client.connect(url.host, url.port)
    client.subscribe(f"{settings.topic_prefix}/cameras/{camera_id}/heartbeat", qos=1)
    client.loop_start()
    return client, got


def test_an_enabled_ip_camera_is_captured_until_disabled(settings: Settings, factory: sessionmaker[Session],
                                                         rtsp_server: Callable[..., RtspServer],  # noqa: F811
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    server = rtsp_server(fps=15, key_int=15, user="cam", password=PASSWORD)
    tuned = settings.model_copy(update={"ipcams_poll_s": 0.5})
    monkeypatch.setenv("VIGIL_CREDENTIALS_KEY", "x" * 44)  # in the service's environment, never a capture's
    monkeypatch.setenv("VIGIL_DATABASE_URL", settings.database_url)
    box = SecretBox.from_settings(tuned)
    with factory.begin() as db:
        records.add(db, camera_id="ipcam1", name="Porch", location="front", stream_uri=server.url(user=""),
                    sealed=box.seal(Credentials("cam", PASSWORD)))
    client, beats = _heartbeats(tuned, "ipcam1")
    service = IpCamsService(tuned)
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: any(b.get("streaming") and int(str(b.get("frames_sent", 0))) > 10 for b in beats),
                 timeout=60, what="the IP camera's capture streaming")
        beat = beats[-1]
        assert beat["codec"] == "h264" and beat["camera_id"] == "ipcam1"
        assert PASSWORD not in json.dumps(beats)
        [pid] = service.supervisor.pids().values()
        assert PASSWORD.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        child_env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert not any(v.startswith((b"VIGIL_CREDENTIALS_KEY=", b"VIGIL_DATABASE_URL=")) for v in child_env)

        with factory.begin() as db:
            row = db.get(IpCamera, "ipcam1")
            assert row is not None
            row.enabled = False
        wait_for(lambda: not service.running and not service.supervisor.pids(), timeout=20,
                 what="the capture stopped")
        assert not Path(f"/proc/{pid}").exists() or b"zombie" in Path(f"/proc/{pid}/status").read_bytes()
    finally:
        stop.set()
        thread.join(30)
        client.loop_stop()
        client.disconnect()
    assert not thread.is_alive()
