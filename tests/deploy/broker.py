"""The shipped broker setup (deploy/mosquitto) run by the real ``mosquitto`` on a free port.

The config is the shipped file with only its listener moved to a free loopback port and its
container paths mapped into a temporary directory; the service accounts are written by the
shipped entrypoint script (with the real ``mosquitto_passwd``), cameras by ``vigil camera add``'s
module.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
MOSQUITTO_DIR = ROOT / "deploy" / "mosquitto"
SERVICE_ACCOUNTS = ("ingest", "recorder", "api", "notifier", "detector", "ipcams")
# Accounts the entrypoint creates only when their password is set (Home Assistant's).
INTEGRATION_ACCOUNTS = ("homeassistant",)


@dataclass
class Broker:
    port: int
    auth_dir: Path
    passwords: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def passwd(self) -> Path:
        return self.auth_dir / "passwd"

    def url(self, user: str, password: str | None = None) -> str:
        return f"mqtt://{user}:{password or self.passwords[user]}@127.0.0.1:{self.port}"

    def reload(self) -> None:
        """What `docker compose kill -s SIGHUP mosquitto` does: re-read password file and ACL."""
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        shutil.rmtree(self.auth_dir, ignore_errors=True)
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def shipped_config(port: int, auth_dir: Path) -> str:
    text = (MOSQUITTO_DIR / "mosquitto.conf").read_text()
    text = re.sub(r"^listener 1883$", f"listener {port} 127.0.0.1", text, flags=re.M)
    text = text.replace("/mosquitto/auth/passwd", str(auth_dir / "passwd"))
    text = text.replace("/mosquitto/config/acl", str(MOSQUITTO_DIR / "acl"))
    assert f"listener {port} 127.0.0.1" in text
    return text


def start_shipped_broker(tmp: Path, passwords: dict[str, str] | None = None) -> Broker:
    """``passwords``: the service accounts' (default: random ones), as the broker container's
    MQTT_<NAME>_PASSWORD environment gives them to the shipped entrypoint."""
    import pytest

    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd missing (scripts/ensure-deploy-tools.sh installs mosquitto)")
    passwords = passwords or {name: secrets.token_urlsafe(16)
                              for name in (*SERVICE_ACCOUNTS, *INTEGRATION_ACCOUNTS)}
    # The broker drops to user `mosquitto` before reading the password file: the auth directory
    # must be reachable by it (pytest's own temporary root is private to root).
    auth_dir = Path(tempfile.mkdtemp(prefix="vigil-broker-auth-"))
    Path(auth_dir).chmod(0o711)
    env = {**os.environ, "VIGIL_BROKER_AUTH_DIR": str(auth_dir)}
    env.update({f"MQTT_{name.upper()}_PASSWORD": pw for name, pw in passwords.items()})
    # The shipped entrypoint writes the service accounts, then execs its arguments (here: true).
    subprocess.run(["sh", str(MOSQUITTO_DIR / "entrypoint.sh"), "true"], env=env, check=True,
                   capture_output=True)
    port = free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(shipped_config(port, auth_dir))
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    log = tmp / "mosquitto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([exe, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    wait_port("127.0.0.1", port)
    return Broker(port, auth_dir, passwords, proc, log)


class Client:
    """A paho client that records CONNACK, SUBACK and received messages."""

    def __init__(self, port: int, username: str | None, password: str | None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{username}-{secrets.token_hex(3)}")
        if username is not None:
            self.client.username_pw_set(username, password)
        self.connack: mqtt.ReasonCode | None = None
        self.connected = threading.Event()
        self.subacked = threading.Event()
        self.received: list[tuple[str, bytes]] = []
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, msg: self.received.append((msg.topic, msg.payload))
        self.client.on_subscribe = lambda *_a: self.subacked.set()
        self.client.reconnect_delay_set(60, 60)  # never retry on its own during a test
        self.client.connect(("127.0.0.1"), port)
        self.client.loop_start()

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, reason: mqtt.ReasonCode, _p: object) -> None:
        self.connack = reason
        self.connected.set()

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self.subacked.clear()
        self.client.subscribe(topic, qos)
        assert self.subacked.wait(5), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def connect(broker: Broker, username: str | None, password: str | None = None) -> Client:
    client = Client(broker.port, username, password)
    assert client.connected.wait(5), "no CONNACK"
    return client

