"""live.mjpeg against a real uvicorn process: distinct frames, one shared reader, cleanup."""


from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import ADMIN_PASSWORD, Api, ApiProcess, add_camera, jpeg, xadd_frame
from vigil_common.runtime.settings import Settings

pytestmark = pytest.mark.integration


def wait_for(cond: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class PartReader:
    """Splits a multipart/x-mixed-replace body into its JPEG parts."""

    def __init__(self, response: httpx.Response, boundary: str) -> None:
        self._chunks = response.iter_bytes()
        self._buf = b""
        self._delim = f"--{boundary}\r\n".encode()

    def next_part(self) -> bytes:
        while True:
            part = self._try_parse()
            if part is not None:
                return part
            self._buf += next(self._chunks)

    def _try_parse(self) -> bytes | None:
        if not self._buf.startswith(self._delim):
            assert len(self._buf) < len(self._delim), self._buf[:40]
            return None
        head_end = self._buf.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        headers = dict(line.split(": ", 1) for line in self._buf[len(self._delim) : head_end].decode().split("\r\n"))
        assert headers["Content-Type"] == "image/jpeg"
        length = int(headers["Content-Length"])
        start = head_end + 4
        if len(self._buf) < start + length + 2:
            return None
        body = self._buf[start : start + length]
        assert self._buf[start + length : start + length + 2] == b"\r\n"
        self._buf = self._buf[start + length + 2 :]
        return body

    def distinct(self, n: int) -> list[bytes]:
        seen: list[bytes] = []
        while len(seen) < n:
            part = self.next_part()
            assert part[:2] == b"\xff\xd8" and part[-2:] == b"\xff\xd9", "not a JPEG"
            if part not in seen:
                seen.append(part)
        return seen


def gauge(http: httpx.Client, name: str) -> int:
    text = http.get("/metrics").text
    m = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert m, name
    return int(float(m.group(1)))


@pytest.fixture
def feeder(settings: Settings) -> Iterator[threading.Event]:
    """XADDs a new, different JPEG for cam1 every 30 ms while the test runs."""
    stop = threading.Event()
    client = redis.Redis.from_url(settings.redis_url)

    def run() -> None:
        i = 0
        while not stop.is_set():
            xadd_frame(client, "cam1", jpeg(i), seq=i)
            i += 1
            stop.wait(0.03)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield stop
    stop.set()
    thread.join(5)
    client.close()


def test_live_mjpeg_streams_and_shares_one_reader(
    api_process: ApiProcess, factory: sessionmaker[Session], feeder: threading.Event
) -> None:
    add_camera(factory, "cam1")
    with httpx.Client(base_url=api_process.base_url, timeout=15) as http:
        login = http.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        csrf = login.json()["csrf_token"]
        token = http.post("/api/v1/tokens", json={"name": "live"}, headers={"X-CSRF-Token": csrf}).json()["token"]
        http.cookies.clear()
        http.headers["Authorization"] = f"Bearer {token}"
        assert gauge(http, "vigil_api_live_readers") == 0

        with ExitStack() as stack:
            viewers = [stack.enter_context(http.stream("GET", "/api/v1/cameras/cam1/live.mjpeg")) for _ in range(2)]
            for v in viewers:
                assert v.status_code == 200
                assert v.headers["content-type"] == "multipart/x-mixed-replace; boundary=vigilframe"
                assert v.headers["cache-control"] == "no-store"
            # Both viewers are registered before their responses start: one reader serves both.
            assert gauge(http, "vigil_api_live_viewers") == 2
            assert gauge(http, "vigil_api_live_readers") == 1
            for v in viewers:
                parts = PartReader(v, "vigilframe").distinct(3)
                assert len(set(parts)) == 3

        # Client disconnects are noticed: the viewers leave and the reader stops.
        wait_for(lambda: gauge(http, "vigil_api_live_viewers") == 0, "viewers to leave")
        wait_for(lambda: gauge(http, "vigil_api_live_readers") == 0, "the reader to stop")

        # A second session on the same camera starts a fresh reader.
        with http.stream("GET", "/api/v1/cameras/cam1/live.mjpeg") as again:
            assert len(PartReader(again, "vigilframe").distinct(3)) == 3
        wait_for(lambda: gauge(http, "vigil_api_live_readers") == 0, "the reader to stop again")

        # Unknown cameras and anonymous viewers are refused before streaming.
        assert http.get("/api/v1/cameras/nope/live.mjpeg").status_code == 404
        assert httpx.get(f"{api_process.base_url}/api/v1/cameras/cam1/live.mjpeg").status_code == 401

    # SIGTERM stops the server cleanly.
    api_process.proc.send_signal(signal.SIGTERM)
    assert api_process.proc.wait(20) == 0
    log = api_process.log_path.read_text()
    assert "api stopped" in log and "Traceback" not in log


def test_viewer_limit_is_503(api: Api, factory: sessionmaker[Session]) -> None:
    add_camera(factory, "cam1")
    api.login()
    api.app.state.vigil.hub.max_viewers = 0
    r = api.client.get("/api/v1/cameras/cam1/live.mjpeg")
    assert r.status_code == 503 and "too many live viewers" in r.json()["detail"]
    assert r.headers["retry-after"]
