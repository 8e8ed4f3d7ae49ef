"""Pure pieces of the API: lockout, status, time parsing, metrics, errors, paths, limits, live hub."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from vigil_api.auth import LOCKOUT, MAX_FAILED_LOGINS, after_failure, hash_secret, locked_for, new_secret
from vigil_api.errors import describe_validation_errors
from vigil_api.limits import BodyLimitMiddleware
from vigil_api.live import BOUNDARY, LiveHub, Viewer, mjpeg_part
from vigil_api.metrics import RequestMetrics, exposition, redis_families
from vigil_api.store.cameras import effective_status
from vigil_api.timeparse import TimeParseError, parse_client_time
from vigil_common.contract import keys
from vigil_common.contract.envelope import Codec
from vigil_common.contract.metrics import CATALOG, metric_field
from vigil_common.contract.paths import real_path_under

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_lockout_counts_then_locks() -> None:
    failed, locked = 0, None
    for _ in range(MAX_FAILED_LOGINS - 1):
        failed, locked = after_failure(failed, NOW)
        assert locked is None
    failed, locked = after_failure(failed, NOW)
    assert failed == 0 and locked == NOW + LOCKOUT
    assert locked_for(locked, NOW) == LOCKOUT.total_seconds()
    assert locked_for(locked, NOW + LOCKOUT) == 0
    assert locked_for(None, NOW) == 0


def test_secrets_are_random_and_hashed() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and len(a) >= 43
    assert len(hash_secret(a)) == 64 and hash_secret(a) != a


def test_effective_status() -> None:
    assert effective_status("online", NOW - timedelta(seconds=5), NOW) == "online"
    assert effective_status("online", NOW - timedelta(seconds=15), NOW) == "online"
    assert effective_status("online", NOW - timedelta(seconds=16), NOW) == "offline"
    assert effective_status("online", None, NOW) == "offline"
    assert effective_status("offline", NOW, NOW) == "offline"


def test_parse_client_time() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert parse_client_time("2024-05-01T12:00:00Z", paris) == NOW
    assert parse_client_time("2024-05-01T14:00:00+02:00", UTC) == NOW
    assert parse_client_time("2024-05-01T14:00:00", paris) == NOW  # naive: server zone (CEST)
    assert parse_client_time("2024-05-01", UTC) == datetime(2024, 5, 1, tzinfo=UTC)
    for bad in ("", "yesterday", "2024-13-01", "1714560000", "x" * 100, "0001-01-01T00:00:00+01:00"):
        with pytest.raises(TimeParseError):
            parse_client_time(bad, UTC)


def _exposition(families: list[Any], requests: RequestMetrics | None = None) -> str:
    return exposition(requests or RequestMetrics(), families).decode()


def test_redis_families_sum_processes_and_drop_anything_off_the_catalog() -> None:
    frames = metric_field("vigil_ingest_frames_total", {"camera": "x"})
    text = _exposition(redis_families([
        {frames: "2", metric_field("vigil_ingest_frames_total", {"camera": "y"}): "1",
         'vigil_ingest_frames_total{camera="x"}': "7",  # the old text field format
         metric_field("vigil_unknown_total"): "1",  # not in the catalog
         metric_field("vigil_ingest_frames_total", {"camera": "x", "extra": "1"}): "1",  # other labels
         metric_field("vigil_api_requests_total", {"method": "GET", "route": "/", "status": "200"}): "9",  # the API's
         metric_field("vigil_ingest_bytes_total", {"camera": "x"}): "nan",
         metric_field("vigil_ingest_frames_total", {"camera": 'q"}\n# HELP x'}): "1",  # escaped on output
         "bad field\n# injected": "1"},
        {frames: "3", metric_field("vigil_ingest_queue_frames"): "4.5"},
    ]))
    assert 'vigil_ingest_frames_total{camera="x"} 5.0' in text
    assert 'vigil_ingest_frames_total{camera="y"} 1.0' in text
    assert "# TYPE vigil_ingest_frames_total counter" in text
    assert "vigil_ingest_queue_frames 4.5" in text and "# TYPE vigil_ingest_queue_frames gauge" in text
    assert 'vigil_ingest_frames_total{camera="q\\"}\\n# HELP x"} 1.0' in text
    assert "unknown" not in text and "extra" not in text and "injected" not in text and "nan" not in text.lower()
    assert "vigil_api_requests_total{" not in text and "vigil_ingest_bytes_total{" not in text


def test_redis_histograms_are_cumulative_with_the_sum_in_seconds() -> None:
    name = "vigil_recorder_segment_write_seconds"
    buckets = CATALOG[name].buckets
    text = _exposition(redis_families([
        {metric_field(name, part=str(buckets[0])): "2", metric_field(name, part=str(buckets[3])): "1",
         metric_field(name, part="sum_us"): "1500000", metric_field(name, part="+Inf"): "1",
         metric_field(name, part="0.0123"): "5",  # a bound the catalog does not have (any more)
         metric_field(name, part="nope"): "5"},
        {metric_field(name, part=str(buckets[3])): "1"},
    ]))
    assert f'{name}_bucket{{le="{buckets[0]}"}} 2.0' in text
    assert f'{name}_bucket{{le="{buckets[2]}"}} 2.0' in text
    assert f'{name}_bucket{{le="{buckets[3]}"}} 4.0' in text
    assert f'{name}_bucket{{le="+Inf"}} 5.0' in text
    assert f"{name}_count 5.0" in text and f"{name}_sum 1.5" in text


def test_request_metrics_render() -> None:
    m = RequestMetrics()
    m.observe("GET", "/api/v1/cameras", 200, 0.003)
    m.observe("GET", "/api/v1/cameras", 200, 0.2)
    text = _exposition([], m)
    assert 'vigil_api_requests_total{method="GET",route="/api/v1/cameras",status="200"} 2.0' in text
    assert 'vigil_api_request_duration_seconds_bucket{le="0.005",route="/api/v1/cameras"} 1.0' in text
    assert 'vigil_api_request_duration_seconds_bucket{le="+Inf",route="/api/v1/cameras"} 2.0' in text
    assert _exposition([], RequestMetrics()).count("vigil_api_requests_total{") == 0  # each app its own


def test_validation_errors_are_described_without_input() -> None:
    detail, items = describe_validation_errors(
        [
            {
                "loc": ("query", "limit"),
                "msg": "Input should be less than or equal to 1000",
                "type": "x",
                "input": "99999",
            }
        ]
    )
    assert detail == "query parameter 'limit': Input should be less than or equal to 1000"
    assert items == [{"loc": ["query", "limit"], "msg": "Input should be less than or equal to 1000", "type": "x"}]
    detail, _ = describe_validation_errors(
        [{"loc": ("body", 3), "msg": "JSON decode error", "type": "json_invalid", "ctx": {"error": "Expecting value"}}]
    )
    assert detail == "body field '3': invalid JSON: Expecting value"


def test_a_recording_path_stays_inside(tmp_path: Path) -> None:
    """/recordings/{id}/video serves only through vigil_common.contract.paths (the one rule)."""

    def resolve_recording(data: Path, rel: str) -> Path | None:
        return real_path_under(data, rel, "recordings")

    data = tmp_path / "data"
    (data / "recordings" / "cam1").mkdir(parents=True)
    ok = resolve_recording(data, "recordings/cam1/a.mp4")
    assert ok == (data / "recordings" / "cam1" / "a.mp4").resolve()
    for bad in (
        "",
        "../x",
        "/etc/passwd",
        "recordings",
        "recordings/../vigil.db",
        "recordings/cam1/\x00",
        "recordings/../../etc/passwd",
        "vigil.db",
    ):
        assert resolve_recording(data, bad) is None, bad
    (data / "recordings" / "cam1" / "evil.mp4").symlink_to(tmp_path / "outside")
    assert resolve_recording(data, "recordings/cam1/evil.mp4") is None


def _echo_app() -> BodyLimitMiddleware:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"n": len(await request.body())})

    app = Starlette(routes=[Route("/{p:path}", echo, methods=["POST"])])
    return BodyLimitMiddleware(app, default=100, per_path={"/small": 10})


def test_body_limit_by_length_and_by_counting() -> None:
    client = TestClient(_echo_app())  # type: ignore[arg-type]
    assert client.post("/x", content=b"a" * 100).json() == {"n": 100}
    r = client.post("/x", content=b"a" * 101)
    assert r.status_code == 413 and "limit 100 bytes" in r.json()["detail"]
    assert client.post("/small", content=b"a" * 11).status_code == 413
    assert client.post("/x", content=b"a", headers={"content-length": "abc"}).status_code == 400


def test_mjpeg_part_framing() -> None:
    part = mjpeg_part(b"\xff\xd8abc\xff\xd9")
    assert part.startswith(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: 7\r\n\r\n".encode())
    assert part.endswith(b"\xff\xd8abc\xff\xd9\r\n")


def test_viewer_queue_drops_oldest() -> None:
    v = Viewer("cam1", queue_size=2)
    for b in (b"1", b"2", b"3"):
        v.offer(b)
    assert v.dropped == 1
    assert [v.queue.get_nowait(), v.queue.get_nowait()] == [b"2", b"3"]


class FakeRedis:
    """Just enough of redis.asyncio for LiveHub: one stream, XREAD BLOCK fed by a queue."""

    def __init__(self, swallow_cancel: bool = False) -> None:
        self.entries: asyncio.Queue[tuple[bytes, dict[bytes, bytes]]] = asyncio.Queue()
        self.xread_calls = 0
        self.swallow_cancel = swallow_cancel
        self.n = 0

    def add(self, payload: bytes, codec: Codec = Codec.JPEG) -> None:
        self.n += 1
        fields = {
            keys.F_CODEC: str(int(codec)).encode(),
            keys.F_SEQ: str(self.n).encode(),
            keys.F_CAPTURE_NS: b"1",
            keys.F_WIDTH: b"64",
            keys.F_HEIGHT: b"48",
            keys.F_KEYFRAME: b"1",
            keys.F_DATA: payload,
        }
        self.entries.put_nowait((f"{self.n}-0".encode(), fields))

    async def xrevrange(self, name: str, count: int) -> list[Any]:
        return []

    async def xread(self, streams: dict[str, Any], count: int, block: int) -> list[Any]:
        self.xread_calls += 1
        try:
            entry = await asyncio.wait_for(self.entries.get(), block / 1000)
        except TimeoutError:
            return []
        except asyncio.CancelledError:
            if self.swallow_cancel:  # what a client library might do by mistake
                return []
            raise
        (name,) = streams
        return [(name.encode(), [entry])]


def test_hub_shares_one_reader_and_stops_it() -> None:
    async def scenario() -> None:
        fake = FakeRedis()
        hub = LiveHub(fake, max_viewers=3, block_ms=50)  # type: ignore[arg-type]
        a, b = hub.join("cam1"), hub.join("cam1")
        assert (hub.viewers, hub.readers) == (2, 1)
        fake.add(b"\xff\xd8one")
        assert await asyncio.wait_for(a.queue.get(), 5) == b"\xff\xd8one"
        assert await asyncio.wait_for(b.queue.get(), 5) == b"\xff\xd8one"
        fake.add(b"h264", Codec.H264)  # not for MJPEG viewers
        fake.add(b"\xff\xd8two")
        assert await asyncio.wait_for(a.queue.get(), 5) == b"\xff\xd8two"
        c = hub.join("cam1")  # a late viewer sees the newest frame at once
        assert c.queue.get_nowait() == b"\xff\xd8two"
        with pytest.raises(Exception, match="too many"):
            hub.join("cam2")
        for v in (a, b, c):
            hub.leave(v)
        hub.leave(a)  # idempotent
        assert hub.viewers == 0
        while hub.readers:  # the cancelled reader winds down
            await asyncio.sleep(0.01)
        await hub.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_hub_reader_stops_even_if_the_client_swallows_cancellation() -> None:
    async def scenario() -> None:
        fake = FakeRedis(swallow_cancel=True)
        hub = LiveHub(fake, block_ms=50)  # type: ignore[arg-type]
        v = hub.join("cam1")
        await asyncio.sleep(0.01)
        hub.leave(v)
        while hub.readers:
            await asyncio.sleep(0.01)
        await hub.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_hub_end_streams_and_invalid_ids() -> None:
    async def scenario() -> None:
        hub = LiveHub(FakeRedis(), block_ms=50)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            hub.join("../etc")
        v = hub.join("cam1")
        hub.end_streams()
        assert await v.queue.get() is None
        with pytest.raises(Exception, match="shutting down"):
            hub.join("cam1")
        hub.leave(v)
        await hub.close()
        assert hub.readers == 0

    asyncio.run(scenario())


def test_one_viewer_account_cannot_take_every_live_slot() -> None:
    """Issue 12, point 5: per-user limits, and the last slots are the admins'."""
    async def scenario() -> None:
        hub = LiveHub(FakeRedis(), max_viewers=6, block_ms=50, max_per_user=3, admin_reserve=2)  # type: ignore[arg-type]
        mine = [hub.join(f"cam{i}", 7) for i in range(3)]
        with pytest.raises(Exception, match="limit per user"):
            hub.join("cam9", 7)
        theirs = [hub.join("cam1", 8)]
        with pytest.raises(Exception, match="kept for admins"):
            hub.join("cam1", 9)  # a third viewer account: only the admins' slots are left
        admins = [hub.join("cam1", 1, admin=True), hub.join("cam2", 1, admin=True)]
        with pytest.raises(Exception, match="too many live viewers"):
            hub.join("cam3", 2, admin=True)  # really full
        for v in mine + theirs + admins:
            hub.leave(v)
        assert hub.viewers == 0
        hub.join("cam1", 7)  # the slots came back
        await hub.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_request_metrics_do_not_take_the_method_from_the_client() -> None:
    """Issue 12: an invented method became a label value (unbounded /metrics)."""
    from fastapi import FastAPI

    from vigil_api.metrics import RequestMetrics, RequestMetricsMiddleware

    metrics = RequestMetrics()
    app = FastAPI()
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    with TestClient(app) as client:
        for method in ("GET", "FROBNICATE", "X" * 50):
            client.request(method, "/nowhere")
    text = exposition(metrics, []).decode()
    methods = {line.split('method="')[1].split('"')[0] for line in text.splitlines()
               if line.startswith("vigil_api_requests_total{")}
    assert methods == {"GET", "other"}
