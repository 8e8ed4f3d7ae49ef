"""Small builders shared by tests (JPEG frames, envelopes, heartbeats, a running stack)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import httpx
import numpy as np

from vigil_common.contract import envelope
from vigil_common.contract.envelope import Codec, Frame


def make_jpeg(width: int = 64, height: int = 48, value: int = 0, quality: int = 80) -> bytes:
    img = np.zeros((height, width, 3), np.uint8)
    img[:, :, 0] = value % 256
    img[: height // 2, : width // 2, 1] = 200
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def make_envelope(seq: int = 0, width: int = 64, height: int = 48, capture_ns: int | None = None,
                  jpeg: bytes | None = None) -> bytes:
    payload = jpeg if jpeg is not None else make_jpeg(width, height, seq)
    return envelope.pack(Frame(Codec.JPEG, True, seq, capture_ns or time.time_ns(), width, height, payload))


def heartbeat_doc(cam: str, **over: object) -> dict[str, object]:
    now = datetime.now(UTC).isoformat()
    doc: dict[str, object] = {
        "camera_id": cam, "seq": 1, "sent_at": now, "streaming": True, "fps": 10.0,
        "fps_target": 10, "frames_sent": 100, "frames_dropped": 0, "last_frame_at": now,
        "width": 64, "height": 48, "codec": "jpeg", "source": "synthetic", "name": "Front door",
        "location": "porch", "uptime_s": 12.5, "version": "0.1.0",
    }
    doc.update(over)
    return doc


def heartbeat_bytes(cam: str, **over: object) -> bytes:
    return json.dumps(heartbeat_doc(cam, **over)).encode()


def wait_for(cond: Callable[[], object], timeout: float = 10.0, what: str = "condition", poll: float = 0.05) -> object:
    """Poll ``cond`` until it returns something truthy (returned), else fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Stack:
    """A ``vigil up`` started by a test: its URL, environment, process, output lines and an
    HTTP client logged in by the fixture."""

    base: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    output: list[str] = field(default_factory=list)
    client: httpx.Client | None = None

    def api(self) -> httpx.Client:
        assert self.client is not None
        return self.client


@contextlib.contextmanager
def running_stack(env: dict[str, str], up_args: list[str], port: int, admin_password: str,
                  cwd: Path | None = None) -> Iterator[Stack]:
    """``vigil up`` with ``env``, its output collected, until its banner; then an HTTP client
    logged in as admin (CSRF header set). Stopped with SIGTERM (the whole group if it hangs)."""
    from tests.conftest import wait_port

    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil_common.cli.main", "up", *up_args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd,
    )
    s = Stack(f"http://127.0.0.1:{port}", env, proc)

    def pump() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            s.output.append(raw.decode(errors="replace").rstrip())

    threading.Thread(target=pump, daemon=True).start()
    try:
        wait_port("127.0.0.1", port, timeout=90)
        wait_for(lambda: any("Vigil is running" in line for line in s.output), 60, "the banner")
        s.client = httpx.Client(base_url=s.base, timeout=30)
        r = s.client.post("/api/v1/auth/login", json={"username": "admin", "password": admin_password})
        assert r.status_code == 200, r.text
        s.client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        yield s
    finally:
        if s.client:
            s.client.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log_path = os.environ.get("VIGIL_TEST_STACK_LOG")  # keep the stack's output for a post-mortem
        if log_path:
            Path(log_path).write_text("\n".join(s.output) + "\n")


def private_redis(port: int, workdir: Path, *extra: str) -> subprocess.Popen[bytes]:
    """A redis-server of the test's own on loopback (for restarts, limits: never the shared one)."""
    import redis

    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port).ping()
            return proc
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "private redis did not start"
            time.sleep(0.05)
