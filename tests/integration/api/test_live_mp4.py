"""live.mp4 against a real uvicorn process and real Redis: init first, a keyframe first, frames
as they arrive, one shared reader, a slow viewer that stalls nobody, a new size ending the
stream, and the 409s between the JPEG and H.264 routes."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
import redis
import redis.asyncio as aioredis
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import wait_for
from tests.integration.support.api import ADMIN_PASSWORD, Api, ApiProcess, add_camera, jpeg, xadd_frame
from tests.integration.support.h264 import decode_mp4, decode_time, first_sample_flags, frames, xadd
from vigil_api.live import LiveHub
from vigil_api.live_mp4 import KEY_FLAGS, to_sample
from vigil_common.contract.envelope import Frame

pytestmark = pytest.mark.integration

GOP = 15


class BoxReader:
    """Splits a fragmented-MP4 body into its top-level boxes as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.iter_bytes()
        self._buf = b""

    def next_box(self) -> tuple[bytes, bytes]:
        while True:
            if len(self._buf) >= 8:
                size = int.from_bytes(self._buf[:4], "big")
                assert size >= 8, self._buf[:16]
                if len(self._buf) >= size:
                    whole, self._buf = self._buf[:size], self._buf[size:]
                    return whole[4:8], whole
            self._buf += next(self._chunks)  # StopIteration: the body ended

    def init(self) -> bytes:
        kinds = [self.next_box() for _ in range(2)]
        assert [k for k, _ in kinds] == [b"ftyp", b"moov"]
        return b"".join(b for _, b in kinds)

    def fragment(self) -> bytes:
        (k1, moof), (k2, mdat) = self.next_box(), self.next_box()
        assert (k1, k2) == (b"moof", b"mdat")
        return moof + mdat

    def ended(self) -> bool:
        try:
            self.next_box()
        except StopIteration:
            return True
        return False


def sample_of(fragment: bytes) -> bytes:
    mdat = fragment.index(b"mdat") - 4
    return fragment[mdat + 8 :]


def gauge(http: httpx.Client, name: str) -> int:
    m = re.search(rf"^{name} (\S+)$", http.get("/metrics").text, re.MULTILINE)
    assert m, name
    return int(float(m.group(1)))


@contextmanager
def bearer_client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=15) as http:
        login = http.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        csrf = login.json()["csrf_token"]
        token = http.post("/api/v1/tokens", json={"name": "live"}, headers={"X-CSRF-Token": csrf}).json()["token"]
        http.cookies.clear()
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


class Feeder:
    """XADDs frames to a camera's stream at ``fps`` in a thread."""

    def __init__(self, client: redis.Redis, camera_id: str, items: list[Frame], fps: float = 30) -> None:
        self.done = threading.Event()
        self.sent: list[Frame] = []

        def run() -> None:
            for f in items:
                if self.done.is_set():
                    return
                # capture time = now, as a camera stamps it
                now = Frame(f.codec, f.keyframe, f.seq, time.time_ns(), f.width, f.height, f.payload)
                xadd(client, camera_id, now)
                self.sent.append(now)
                time.sleep(1 / fps)
            self.done.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(10)


@pytest.fixture
def clip() -> list[Frame]:
    return frames(6 * GOP, gop=GOP)  # 3 s at 30 fps, a keyframe every 15 frames


def test_live_mp4_init_keyframe_first_live_frames_and_one_shared_reader(
    api_process: ApiProcess, factory: sessionmaker[Session], rds: redis.Redis, clip: list[Frame]
) -> None:
    add_camera(factory, "cam1", codec="h264", width=160, height=96)
    # What the stream already holds: 20 frames; the newest keyframe is frame 15.
    for f in clip[:20]:
        xadd(rds, "cam1", f)
    with bearer_client(api_process.base_url) as http, ExitStack() as stack:
        assert gauge(http, "vigil_api_live_readers") == 0
        viewers = [stack.enter_context(http.stream("GET", "/api/v1/cameras/cam1/live.mp4")) for _ in range(2)]
        for v in viewers:
            assert v.status_code == 200
            assert v.headers["content-type"] == "video/mp4"
            assert v.headers["cache-control"] == "no-store"
            assert "content-length" not in v.headers
        assert gauge(http, "vigil_api_live_viewers") == 2
        assert gauge(http, "vigil_api_live_readers") == 1  # one reader, two viewers
        readers = [BoxReader(v) for v in viewers]
        bodies = []
        for r in readers:
            init = r.init()
            assert b"avcC" in init and b"avc1" in init
            first = r.fragment()
            assert first_sample_flags(first) == KEY_FLAGS and decode_time(first) == 0
            assert sample_of(first) == to_sample(clip[15].payload)  # the newest keyframe
            rest = [r.fragment() for _ in range(4)]
            assert [sample_of(f) for f in rest] == [to_sample(f.payload) for f in clip[16:20]]
            bodies.append([init, first, *rest])
        # Frames arriving now appear on both, in order, each as its own fragment.
        feeder = Feeder(rds, "cam1", clip[20:])
        try:
            for r, body in zip(readers, bodies, strict=True):
                live = [r.fragment() for _ in range(len(clip) - 20)]
                assert [sample_of(f) for f in live] == [to_sample(f.payload) for f in clip[20:]]
                body += live
                times = [decode_time(f) for f in body[1:]]
                assert times == sorted(times) and len(set(times)) == len(times)
                pictures = decode_mp4(b"".join(body))
                assert len(pictures) == len(clip) - 15
        finally:
            feeder.stop()
    with httpx.Client(base_url=api_process.base_url, timeout=15) as anon:
        assert anon.get("/api/v1/cameras/cam1/live.mp4").status_code == 401
    with bearer_client(api_process.base_url) as http:
        wait_for(lambda: gauge(http, "vigil_api_live_viewers") == 0, 15, "viewers to leave")
        wait_for(lambda: gauge(http, "vigil_api_live_readers") == 0, 15, "the reader to stop")


def test_a_new_size_ends_the_stream_and_a_reconnect_gets_the_new_init(
    api_process: ApiProcess, factory: sessionmaker[Session], rds: redis.Redis
) -> None:
    add_camera(factory, "cam1", codec="h264")
    small, large = frames(GOP + 1, 160, 96, gop=GOP), frames(GOP, 320, 192, gop=GOP)
    for f in small:
        xadd(rds, "cam1", f)
    with bearer_client(api_process.base_url) as http:
        with http.stream("GET", "/api/v1/cameras/cam1/live.mp4") as v:
            r = BoxReader(v)
            assert b"\x00\xa0\x00\x60" in r.init()  # 160x96 in avc1
            r.fragment()  # the keyframe of `small` at 15
            xadd(rds, "cam1", large[0])
            assert r.ended(), "a keyframe with other parameter sets ends the body"
        with http.stream("GET", "/api/v1/cameras/cam1/live.mp4") as v:
            r = BoxReader(v)
            assert b"\x01\x40\x00\xc0" in r.init()  # 320x192
            assert sample_of(r.fragment()) == to_sample(large[0].payload)
            # the camera switches to JPEG: the MP4 body ends too
            xadd_frame(rds, "cam1", jpeg(1), seq=1)
            assert r.ended()


def test_live_routes_refuse_the_other_codec_with_409(
    api: Api, factory: sessionmaker[Session], rds: redis.Redis
) -> None:
    add_camera(factory, "jcam")  # a JPEG camera
    add_camera(factory, "hcam", codec="h264")
    api.login()
    r = api.client.get("/api/v1/cameras/jcam/live.mp4")
    assert r.status_code == 409 and "live.mjpeg" in r.json()["detail"]
    r = api.client.get("/api/v1/cameras/hcam/live.mjpeg")  # from the registry (nothing buffered)
    assert r.status_code == 409 and "live.mp4" in r.json()["detail"]
    # The newest frame decides over the registry: "jcam" now sends H.264.
    xadd(rds, "jcam", frames(1)[0])
    assert api.client.get("/api/v1/cameras/jcam/live.mjpeg").status_code == 409
    assert api.client.get("/api/v1/cameras/nope/live.mp4").status_code == 404
    assert api.client.get("/api/v1/cameras/Bad..id/live.mp4").status_code == 422
    api.app.state.vigil.hub.max_viewers = 0
    r = api.client.get("/api/v1/cameras/hcam/live.mp4")
    assert r.status_code == 503 and "too many live viewers" in r.json()["detail"] and r.headers["retry-after"]
    paths = api.client.get("/openapi.json").json()["paths"]
    doc = paths["/api/v1/cameras/{camera_id}/live.mp4"]["get"]
    assert "video/mp4" in doc["responses"]["200"]["content"] and {"404", "409", "503"} <= set(doc["responses"])


def test_a_slow_viewer_drops_to_a_keyframe_and_stalls_nobody(redis_url: str, clip: list[Frame]) -> None:
    """The hub on real Redis: one viewer reads everything, the other nothing until the end."""

    async def scenario() -> tuple[list[tuple[bool, bool]], int]:
        client = aioredis.Redis.from_url(redis_url)
        sync = redis.Redis.from_url(redis_url)
        hub = LiveHub(client, block_ms=100, mp4_queue_frames=10)
        fast, slow = hub.join_mp4("cam1"), hub.join_mp4("cam1")
        await asyncio.sleep(0.2)  # the reader is blocked in XREAD
        got = 0
        for f in clip:
            await asyncio.to_thread(xadd, sync, "cam1", f)
            item = await asyncio.wait_for(fast.get(), 5)  # the fast viewer gets each frame at once
            assert item is not None and item[0].sample == to_sample(f.payload)
            got += 1
        assert slow.queued <= 10 and slow.dropped > 0
        taken: list[tuple[bool, bool]] = []  # (start, gap) of what the slow viewer has queued
        while slow.queued:
            item = await slow.get()
            assert item is not None
            taken.append((item[0].start, item[1]))
        for v in (fast, slow):
            hub.leave(v)
        await hub.close()
        await client.aclose()
        sync.close()
        return taken, got

    taken, got = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert got == len(clip)
    # What the slow viewer holds starts at a keyframe after the drop: decodable on its own.
    assert taken[0] == (True, True)
    assert all(not start for start, _ in taken[1:]) and not any(gap for _, gap in taken[1:])
    assert len(taken) == 10  # the last keyframe (75) and the 9 frames after it; 85..89 overflowed
