"""/api/v1/storage, /storage/hours, /cameras/{id}/days?month= and DELETE /cameras/{id}?footage=true."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import Api, add_camera, add_segment
from tests.integration.support.days import run_burst_worker
from tests.integration.support.retention import fake_segment
from vigil_common.db.models import Camera, CameraEvent, MotionEvent, Segment, Snapshot
from vigil_common.runtime.settings import Settings
from vigil_recorder.retention.duty import publish_camera_totals, run_pass

pytestmark = pytest.mark.integration


def _seg_file(api: Api, factory: sessionmaker[Session], cam: str, start: datetime, size: int = 100) -> int:
    rel = f"recordings/{cam}/{int(start.timestamp())}.mp4"
    path = api.settings.data_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    return add_segment(factory, cam, start, 10.0, path=rel)


def test_storage_summary_counts_bytes_per_camera_and_the_disk(api: Api, factory: sessionmaker[Session]) -> None:
    api.login()
    t = datetime(2024, 5, 1, 10, tzinfo=UTC)
    add_camera(factory, "a")
    add_segment(factory, "a", t)
    add_segment(factory, "a", t + timedelta(seconds=10))
    add_segment(factory, "b", t)  # footage of a camera no longer in the registry counts too
    with factory.begin() as db:
        db.add(Snapshot(camera_id="a", time=t, path="snapshots/a/x.jpg", bytes=55, width=1, height=1))
    r = api.client.get("/api/v1/storage")
    assert r.status_code == 200, r.text
    body = r.json()
    per = {c["camera_id"]: c for c in body["cameras"]}
    assert per["a"]["segments"] == 2 and per["a"]["bytes"] == 2 * 1010 and per["b"]["bytes"] == 1010
    assert per["a"]["oldest"].startswith("2024-05-01T10:00:00") and per["a"]["newest"].startswith("2024-05-01T10:00:20")
    assert body["bytes_snapshots"] == 55 and body["bytes_total"] == 3 * 1010 + 55
    disk = body["disk"]
    assert disk["total"] > 0 and 0 <= disk["free"] <= disk["total"]
    assert body["retention"]["days"] == api.settings.retention_days
    # No retention pass has published figures: the API counted the index itself, and says so.
    assert body["source"] == "index" and body["updated_at"]


@contextmanager
def _statements(api: Api) -> Iterator[list[str]]:
    """The SQL the API sends while the block runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()).lower())

    engine = api.app.state.vigil.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _scans(statements: list[str]) -> list[str]:
    """Statements that aggregate over segments or snapshots (a scan of the whole table)."""
    return [q for q in statements if ("from segments" in q or "from snapshots" in q)
            and ("count(" in q or "sum(" in q or "group by" in q)]


def test_storage_serves_what_the_retention_pass_published(
    api: Api, factory: sessionmaker[Session], sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    api.login()
    now = datetime.now(UTC).replace(microsecond=0)
    add_camera(factory, "a")
    first = fake_segment(api.settings, sessions, "a", now - timedelta(hours=3), size=300)
    fake_segment(api.settings, sessions, "a", now - timedelta(hours=2), size=200)
    fake_segment(api.settings, sessions, "b", now - timedelta(hours=1), size=50)
    run_pass(api.settings, sessions, rclient, now=now)
    assert rclient.hgetall("vigil:storage:cameras") == {b"a": b"2 500", b"b": b"1 50"}
    late = fake_segment(api.settings, sessions, "a", now - timedelta(minutes=5), size=7)  # after the pass
    with _statements(api) as seen:
        r = api.client.get("/api/v1/storage")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "recorder"
    stamp = float(rclient.hget("vigil:storage", "updated_at") or 0)
    assert abs(datetime.fromisoformat(body["updated_at"]).timestamp() - stamp) < 0.01
    assert body["cameras_updated_at"] is not None
    per = {c["camera_id"]: c for c in body["cameras"]}
    # Counts and bytes as of the pass; oldest/newest read live (two indexed LIMIT 1 reads).
    assert (per["a"]["segments"], per["a"]["bytes"], per["b"]["bytes"]) == (2, 500, 50)
    assert datetime.fromisoformat(per["a"]["oldest"]) == first.start
    assert datetime.fromisoformat(per["a"]["newest"]) == late.end
    assert body["bytes_segments"] == 550 and body["bytes_total"] == 550
    assert _scans(seen) == [], seen
    # Bounded: a handful of reads per camera, however many segments there are.
    assert len([q for q in seen if "from segments" in q]) == 2 * 2, seen


def test_the_pass_recounts_cameras_only_every_few_minutes(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    fake_segment(settings, sessions, "a", now - timedelta(hours=1), size=10)
    run_pass(settings, sessions, rclient, now=now)
    assert rclient.hget("vigil:storage:cameras", "a") == b"1 10"
    stamp = rclient.hget("vigil:storage", "cameras_updated_at")
    fake_segment(settings, sessions, "a", now - timedelta(minutes=30), size=20)
    fake_segment(settings, sessions, "c", now - timedelta(minutes=30), size=5)
    run_pass(settings, sessions, rclient, now=now)  # the plain totals follow; the grouped count waits
    assert rclient.hget("vigil:storage", "bytes_segments") == b"35"
    assert rclient.hgetall("vigil:storage:cameras") == {b"a": b"1 10"}
    assert rclient.hget("vigil:storage", "cameras_updated_at") == stamp
    assert publish_camera_totals(sessions, rclient, force=True)  # (or CAMERA_TOTALS_EVERY_S later)
    assert rclient.hgetall("vigil:storage:cameras") == {b"a": b"2 30", b"c": b"1 5"}


def test_storage_counts_the_index_itself_at_most_every_few_minutes(
    api: Api, factory: sessionmaker[Session], rds: redis.Redis
) -> None:
    api.login()
    t = datetime(2024, 5, 1, 10, tzinfo=UTC)
    add_segment(factory, "a", t)
    with _statements(api) as seen:
        first = api.client.get("/api/v1/storage").json()
    assert first["source"] == "index" and first["bytes_segments"] == 1010 and _scans(seen)
    add_segment(factory, "a", t + timedelta(seconds=10))
    with _statements(api) as seen:
        again = api.client.get("/api/v1/storage").json()
    assert _scans(seen) == [], seen  # the count is cached, not redone per page view
    assert again["bytes_segments"] == 1010 and again["updated_at"] == first["updated_at"]
    assert again["cameras"][0]["newest"].startswith("2024-05-01T10:00:20")  # live
    ttl = int(rds.ttl("vigil:storage:api_count"))  # type: ignore[arg-type]
    assert 0 < ttl <= 300


def test_storage_ignores_a_garbled_published_hash(api: Api, factory: sessionmaker[Session],
                                                  rds: redis.Redis) -> None:
    api.login()
    add_camera(factory, "a")
    add_camera(factory, "idle")  # no footage: not listed
    add_segment(factory, "a", datetime(2024, 5, 1, 10, tzinfo=UTC))
    rds.hset("vigil:storage", mapping={"updated_at": "soon", "bytes_segments": "x"})
    rds.hset("vigil:storage:cameras", mapping={"BAD!": "1 2", "a": "junk"})
    body = api.client.get("/api/v1/storage").json()
    assert body["source"] == "index" and body["cameras"][0]["bytes"] == 1010
    rds.hset("vigil:storage", mapping={"updated_at": "1700000000", "bytes_segments": "12",
                                       "cameras_updated_at": "1700000000"})
    body = api.client.get("/api/v1/storage").json()
    assert body["source"] == "recorder" and body["bytes_segments"] == 12
    # "a" has footage (read live) but no readable published count; the bad id is left out.
    assert [(c["camera_id"], c["segments"]) for c in body["cameras"]] == [("a", 0)]
    # A recorder that publishes totals but no per-camera counts: those come from the API's own count.
    rds.hdel("vigil:storage", "cameras_updated_at")
    body = api.client.get("/api/v1/storage").json()
    assert body["bytes_segments"] == 12 and body["cameras"][0]["bytes"] == 1010 and body["cameras_updated_at"]


def test_bytes_per_hour_per_camera(api: Api, factory: sessionmaker[Session]) -> None:
    api.login()
    t = datetime(2024, 5, 1, 10, 59, 55, tzinfo=UTC)  # straddles 10:00 and 11:00 (server zone UTC)
    add_segment(factory, "a", t)
    add_segment(factory, "b", datetime(2024, 5, 1, 23, 0, tzinfo=UTC))
    add_segment(factory, "a", datetime(2024, 5, 2, 1, 0, tzinfo=UTC))  # next day: not counted
    r = api.client.get("/api/v1/storage/hours", params={"date": "2024-05-01"})
    assert r.status_code == 200, r.text
    cams = {c["camera_id"]: c["bytes_per_hour"] for c in r.json()["cameras"]}
    assert set(cams) == {"a", "b"}
    assert cams["a"][10] == 505 and cams["a"][11] == 505 and sum(cams["a"]) == 1010
    assert cams["b"][23] == 1010
    assert api.client.get("/api/v1/storage/hours", params={"date": "2024-13-01"}).status_code == 422
    assert api.client.get("/api/v1/storage/hours", params={"date": "yesterday"}).status_code == 422
    assert api.client.get("/api/v1/storage/hours").status_code == 200  # today


def test_days_with_footage_for_the_calendar(api: Api, factory: sessionmaker[Session]) -> None:
    api.login()
    add_camera(factory, "a")
    add_segment(factory, "a", datetime(2024, 5, 1, 0, 0, 5, tzinfo=UTC))
    add_segment(factory, "a", datetime(2024, 5, 1, 12, tzinfo=UTC))
    add_segment(factory, "a", datetime(2024, 5, 31, 23, 59, tzinfo=UTC))
    add_segment(factory, "a", datetime(2024, 6, 1, 0, 0, 1, tzinfo=UTC))
    r = api.client.get("/api/v1/cameras/a/days", params={"month": "2024-05"})
    assert r.status_code == 200, r.text
    assert r.json() == {"camera_id": "a", "month": "2024-05", "days": [
        {"date": "2024-05-01", "segments": 2, "bytes": 2020}, {"date": "2024-05-31", "segments": 1, "bytes": 1010}]}
    assert api.client.get("/api/v1/cameras/a/days", params={"month": "2024-04"}).json()["days"] == []
    for bad in ("2024-13", "2024-5", "x", "2024-05-01"):
        assert api.client.get("/api/v1/cameras/a/days", params={"month": bad}).status_code == 422, bad
    assert api.client.get("/api/v1/cameras/a/days").status_code == 422
    assert api.client.get("/api/v1/cameras/nope/days", params={"month": "2024-05"}).status_code == 404
    assert api.client.get("/api/v1/cameras/BAD!/days", params={"month": "2024-05"}).status_code == 422


def test_delete_a_camera_with_or_without_its_footage(api: Api, factory: sessionmaker[Session]) -> None:
    h = {"X-CSRF-Token": api.login()}
    t = datetime.now(UTC) - timedelta(hours=1)
    add_camera(factory, "keep")
    add_camera(factory, "gone")
    kept = _seg_file(api, factory, "keep", t)
    _seg_file(api, factory, "gone", t)
    _seg_file(api, factory, "gone", t + timedelta(seconds=10))
    thumb = api.settings.data_dir / "thumbnails" / "gone" / "1.jpg"
    thumb.parent.mkdir(parents=True)
    thumb.write_bytes(b"j")
    with factory.begin() as db:
        db.add(MotionEvent(camera_id="gone", start=t, end=t + timedelta(seconds=3), score=0.1,
                           thumbnail_path="thumbnails/gone/1.jpg"))
        db.add(CameraEvent(camera_id="gone", time=t, kind="online"))
    # Without footage: the row goes, the recordings stay.
    assert api.client.delete("/api/v1/cameras/keep", headers=h).status_code == 204
    assert api.client.get("/api/v1/recordings", params={"camera_id": "keep"}).json()["total"] == 1
    assert (api.settings.data_dir / f"recordings/keep/{int(t.timestamp())}.mp4").exists()
    # With footage: the recordings leave the listings at once, and the recorder (the one owner
    # of deletion, through a job) removes the files and rows.
    assert api.client.delete("/api/v1/cameras/gone", params={"footage": "true"}, headers=h).status_code == 204
    assert api.client.get("/api/v1/recordings", params={"camera_id": "gone"}).json()["total"] == 0
    assert list((api.settings.data_dir / "recordings" / "gone").iterdir())  # not yet: no recorder has run
    run_burst_worker(api.settings)
    with factory() as db:
        assert db.get(Camera, "gone") is None
        assert db.scalar(select(func.count()).select_from(Segment).where(Segment.camera_id == "gone")) == 0
        assert db.scalar(select(func.count()).select_from(MotionEvent)) == 0
        assert db.scalar(select(func.count()).select_from(CameraEvent)) == 0
        assert db.get(Segment, kept) is not None
    assert not list((api.settings.data_dir / "recordings" / "gone").iterdir())
    assert not thumb.exists()
    # A camera known only by its footage can still have it deleted; an unknown one is 404.
    assert api.client.delete("/api/v1/cameras/keep", params={"footage": "true"}, headers=h).status_code == 204
    assert api.client.get("/api/v1/recordings", params={"camera_id": "keep"}).json()["total"] == 0
    run_burst_worker(api.settings)
    assert not (api.settings.data_dir / f"recordings/keep/{int(t.timestamp())}.mp4").exists()
    assert api.client.delete("/api/v1/cameras/keep", params={"footage": "true"}, headers=h).status_code == 404
    assert api.client.delete("/api/v1/cameras/keep", params={"footage": "maybe"}, headers=h).status_code == 422


def test_new_routes_are_documented(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for p in ("/api/v1/storage", "/api/v1/storage/hours", "/api/v1/cameras/{camera_id}/days",
              "/api/v1/settings/retention"):
        assert p in paths, p
    params = {p["name"] for p in paths["/api/v1/cameras/{camera_id}"]["delete"]["parameters"]}
    assert "footage" in params


def test_deleting_footage_needs_the_recorder_queue_and_changes_nothing_without_it(
        api: Api, factory: sessionmaker[Session]) -> None:
    """Redis unreachable: 503 with a reason, and the camera and its footage are untouched."""
    from tests.conftest import free_port

    h = {"X-CSRF-Token": api.login()}
    add_camera(factory, "cam")
    _seg_file(api, factory, "cam", datetime.now(UTC) - timedelta(hours=1))
    state = api.app.state.vigil
    real = state.sync_redis
    state.sync_redis = redis.Redis(port=free_port(), socket_connect_timeout=1)  # nothing listens there
    try:
        r = api.client.delete("/api/v1/cameras/cam", params={"footage": "true"}, headers=h)
    finally:
        state.sync_redis = real
    assert r.status_code == 503 and "nothing was deleted" in r.json()["detail"]
    with factory() as db:
        assert db.get(Camera, "cam") is not None
    assert api.client.get("/api/v1/recordings", params={"camera_id": "cam"}).json()["total"] == 1
