"""Shared fixtures and helpers for the API integration tests (imported by test_api_*.py).

Run with ``VIGIL_TEST_REDIS_URL=redis://127.0.0.1:6379/11`` when other suites share Redis.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from vigil_api.app import create_app
from vigil_common.contract import keys, streams
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Camera, Segment
from vigil_common.db.users import set_user
from vigil_common.runtime.settings import Settings

pytestmark = pytest.mark.integration

ADMIN_PASSWORD = "correct-horse-battery"
VIEWER_PASSWORD = "viewer-password-1"


@dataclass
class Api:
    client: TestClient
    app: FastAPI
    settings: Settings

    def login(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
        """Log in (cookie kept by the client); returns the CSRF token."""
        r = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return str(r.json()["csrf_token"])

    def token(self, name: str = "test") -> str:
        return self.token_for("admin", ADMIN_PASSWORD, name)

    def token_for(self, username: str, password: str, name: str = "test") -> str:
        """An API token of ``username``, made from a session (then logged out of); a bearer
        header the client carries is set aside meanwhile (it would win over the session)."""
        bearer = self.client.headers.pop("Authorization", None)
        try:
            csrf = self.login(username, password)
            r = self.client.post("/api/v1/tokens", json={"name": name}, headers={"X-CSRF-Token": csrf})
            assert r.status_code == 201, r.text
            self.client.cookies.clear()
            return str(r.json()["token"])
        finally:
            if bearer is not None:
                self.client.headers["Authorization"] = bearer


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    app = create_app(settings)
    with TestClient(app) as client:
        yield Api(client, app, settings)


@pytest.fixture
def rds(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def add_user(factory: sessionmaker[Session], username: str, password: str, role: str = "viewer") -> None:
    with factory.begin() as db:
        set_user(db, username, password, role)  # type: ignore[arg-type]


def add_camera(factory: sessionmaker[Session], camera_id: str, **fields: object) -> None:
    now = datetime.now(UTC)
    values: dict[str, object] = {
        "id": camera_id,
        "name": camera_id.title(),
        "location": "garden",
        "status": "online",
        "streaming": True,
        "fps": 10.0,
        "fps_target": 10.0,
        "width": 64,
        "height": 48,
        "codec": "jpeg",
        "source": "synthetic",
        "first_seen": now - timedelta(hours=1),
        "last_seen": now,
        "last_heartbeat_at": now,
    }
    values.update(fields)
    with factory.begin() as db:
        db.add(Camera(**values))


def add_segment(
    factory: sessionmaker[Session], camera_id: str, start: datetime, duration_s: float = 10.0, path: str = ""
) -> int:
    with factory.begin() as db:
        seg = Segment(
            camera_id=camera_id,
            start=start,
            end=start + timedelta(seconds=duration_s),
            duration_s=duration_s,
            frames=int(duration_s * 10),
            bytes=1000 + int(duration_s),
            width=64,
            height=48,
            codec="h264",
            path=path or f"recordings/{camera_id}/{int(start.timestamp())}.mp4",
        )
        db.add(seg)
        db.flush()
        return seg.id


def jpeg(i: int) -> bytes:
    """A small JPEG that differs for every ``i``."""
    img = np.zeros((48, 64, 3), dtype=np.uint8)
    img[:, :] = ((i * 37) % 256, (i * 91) % 256, (i * 13) % 256)
    cv2.putText(img, str(i), (2, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return bytes(buf)


def xadd_frame(rds: redis.Redis, camera_id: str, payload: bytes, seq: int, codec: Codec = Codec.JPEG) -> None:
    frame = Frame(codec=codec, keyframe=True, seq=seq, capture_ns=time.time_ns(), width=64, height=48, payload=payload)
    rds.xadd(keys.frames_stream(camera_id), streams.to_fields(frame))  # type: ignore[arg-type]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def api_env(settings: Settings) -> dict[str, str]:
    """Environment for a `vigil api` subprocess wired like ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(
        VIGIL_DATABASE_URL=settings.database_url,
        VIGIL_REDIS_URL=settings.redis_url,
        VIGIL_MQTT_URL=settings.mqtt_url,
        VIGIL_TOPIC_PREFIX=settings.topic_prefix,
        VIGIL_DATA_DIR=str(settings.data_dir),
        VIGIL_ADMIN_PASSWORD=ADMIN_PASSWORD,
        VIGIL_LOG_LEVEL="INFO",
        VIGIL_ONVIF_PROBE_TARGETS="127.0.0.1",  # a camera search never leaves this machine
    )
    return env


@dataclass
class ApiProcess:
    proc: subprocess.Popen[bytes]
    base_url: str
    log_path: Path


@pytest.fixture
def api_process(settings: Settings, tmp_path: Path) -> Iterator[ApiProcess]:
    """`vigil api` under uvicorn in a subprocess on a free port (stderr kept in a file)."""
    from tests.conftest import free_port, wait_port

    port = free_port()
    log_path = tmp_path / "api.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vigil_common.cli.main", "api", "--host", "127.0.0.1", "--port", str(port)],
            env=api_env(settings),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_port("127.0.0.1", port, timeout=30)
        yield ApiProcess(proc, f"http://127.0.0.1:{port}", log_path)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
