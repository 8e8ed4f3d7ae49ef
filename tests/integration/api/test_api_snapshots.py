"""/api/v1/cameras/{id}/snapshots: listing (filters, paging, bad input) and the JPEG files,
end to end from the snapshot duty."""


from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import Api, add_camera, jpeg, xadd_frame
from vigil_common.db.models import Snapshot
from vigil_recorder.duties import DutyContext
from vigil_recorder.snapshots.duty import take_snapshots

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BASE = "/api/v1/cameras"


def add_snapshot(factory: sessionmaker[Session], cam: str, when: datetime, path: str = "") -> int:
    with factory.begin() as db:
        row = Snapshot(camera_id=cam, time=when, path=path or f"snapshots/{cam}/{when:%Y-%m-%d/%H_%M_%S}.jpg",
                       bytes=1234, width=64, height=48)
        db.add(row)
        db.flush()
        return int(row.id)


@pytest.fixture
def indexed(api: Api, factory: sessionmaker[Session]) -> Api:
    """cam1: 30 snapshots 5 s apart from T0; cam2: 3; camera 'gone' deleted but with one."""
    add_camera(factory, "cam1")
    add_camera(factory, "cam2")
    for i in range(30):
        add_snapshot(factory, "cam1", T0 + timedelta(seconds=5 * i))
    for i in range(3):
        add_snapshot(factory, "cam2", T0 + timedelta(minutes=i))
    add_snapshot(factory, "gone", T0)
    api.login()
    return api


def _get(api: Api, cam: str, **params: object) -> dict[str, object]:
    r = api.client.get(f"{BASE}/{cam}/snapshots", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_end_to_end_from_the_duty(api: Api, factory: sessionmaker[Session]) -> None:
    add_camera(factory, "cam1")
    client = redis.Redis.from_url(api.settings.redis_url)
    try:
        xadd_frame(client, "cam1", jpeg(3), seq=1)
        ctx = DutyContext(api.settings, client, factory, lambda *a: None)
        assert take_snapshots(ctx) == {"cam1": "saved"}
    finally:
        client.close()
    api.login()
    body = _get(api, "cam1")
    assert body["total"] == 1 and body["total_exact"] is True
    [item] = body["items"]  # type: ignore[misc]
    assert set(item) == {"id", "time", "url", "width", "height", "bytes"}
    assert (item["width"], item["height"], item["bytes"]) == (64, 48, len(jpeg(3)))
    assert item["url"] == f"{BASE}/cam1/snapshots/{item['id']}.jpg"
    r = api.client.get(item["url"])
    assert r.status_code == 200 and r.content == jpeg(3)
    assert r.headers["content-type"] == "image/jpeg"
    assert "max-age" in r.headers["cache-control"] and r.headers.get("etag")
    assert api.client.head(item["url"]).status_code == 200


def test_listing_filters_order_and_paging(indexed: Api) -> None:
    body = _get(indexed, "cam1")
    times = [i["time"] for i in body["items"]]  # type: ignore[union-attr]
    assert body["total"] == 30 and times == sorted(times)
    assert datetime.fromisoformat(times[0]) == T0
    body = _get(indexed, "cam1", start="2024-05-01T12:00:10Z", end="2024-05-01T12:00:30+00:00")
    assert body["total"] == 4  # 10, 15, 20, 25: start inclusive, end exclusive
    body = _get(indexed, "cam1", order="desc", limit=5, offset=5)
    got = [datetime.fromisoformat(i["time"]) for i in body["items"]]  # type: ignore[union-attr]
    assert got == [T0 + timedelta(seconds=5 * i) for i in range(24, 19, -1)]
    assert (body["total"], body["limit"], body["offset"]) == (30, 5, 5)
    assert _get(indexed, "cam2")["total"] == 3
    assert _get(indexed, "gone")["total"] == 1  # deleted from the registry, stills kept
    assert _get(indexed, "cam1", start="2030-01-01")["items"] == []


def test_naive_times_are_in_the_server_zone(indexed: Api) -> None:
    indexed.settings.timezone = "Europe/Paris"  # 14:00 in Paris is 12:00 UTC in May
    body = _get(indexed, "cam1", start="2024-05-01T14:00:00", end="2024-05-01T14:00:05")
    assert body["total"] == 1
    assert _get(indexed, "cam1", start="2024-05-01", end="2024-05-02")["total"] == 30


def test_authentication_is_required(indexed: Api) -> None:
    indexed.client.cookies.clear()
    for url in (f"{BASE}/cam1/snapshots", f"{BASE}/cam1/snapshots/1.jpg"):
        r = indexed.client.get(url)
        assert r.status_code == 401 and r.json()["detail"]


def test_unknown_camera_and_snapshot_are_404(indexed: Api, factory: sessionmaker[Session]) -> None:
    assert indexed.client.get(f"{BASE}/nobody/snapshots").status_code == 404
    other = add_snapshot(factory, "cam2", T0 + timedelta(hours=1))
    assert indexed.client.get(f"{BASE}/cam1/snapshots/{other}.jpg").status_code == 404  # not cam1's
    assert indexed.client.get(f"{BASE}/cam1/snapshots/999999.jpg").status_code == 404
    r = indexed.client.get(f"{BASE}/cam1/snapshots/1.jpg")  # indexed, file never written
    assert r.status_code == 404 and r.json() == {"detail": "image file missing"}


BAD_QUERIES: list[dict[str, object]] = [
    {"start": "yesterday"},
    {"end": "2024-13-01"},
    {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T11:00:00Z"},
    {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T12:00:00Z"},
    {"start": "x" * 100},
    {"limit": 0},
    {"limit": 1_000_000},
    {"limit": "many"},
    {"offset": -1},
    {"offset": 10**12},
    {"order": "sideways"},
]


def test_bad_query_input_is_422_with_a_reason(indexed: Api) -> None:
    for params in BAD_QUERIES:
        r = indexed.client.get(f"{BASE}/cam1/snapshots", params=params)
        assert r.status_code == 422, (params, r.status_code, r.text)
        assert "query parameter" in r.json()["detail"], params


def test_bad_ids_are_4xx_never_5xx(indexed: Api) -> None:
    for cam in ("CAM1", "-cam", "a" * 33, "cam%201", "..", "%2e%2e", "..%2F..%2Fetc", "cam1%00", "cam1;drop"):
        r = indexed.client.get(f"{BASE}/{cam}/snapshots")
        assert 400 <= r.status_code < 500, (cam, r.status_code)
        r = indexed.client.get(f"{BASE}/{cam}/snapshots/1.jpg")
        assert 400 <= r.status_code < 500, (cam, r.status_code)
    for sid in ("abc", "0", "-1", "1.5", str(2**63), "..%2F..%2Fvigil.db", "%2e%2e", "1.png"):
        r = indexed.client.get(f"{BASE}/cam1/snapshots/{sid}.jpg")
        assert 400 <= r.status_code < 500, (sid, r.status_code)
        assert "root:" not in r.text


def test_paths_outside_the_snapshots_dir_are_refused(
    indexed: Api, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    data = indexed.settings.data_dir
    (data / "snapshots" / "cam1").mkdir(parents=True)
    (data / "vigil.db").write_text("not for you")
    (data / "recordings").mkdir()
    (data / "recordings" / "seg.mp4").write_text("not a snapshot")
    outside = tmp_path / "outside.txt"
    outside.write_text("root:x:0:0:secret")
    os.symlink(outside, data / "snapshots" / "cam1" / "link.jpg")
    when = T0 + timedelta(days=1)
    for i, rel in enumerate((
        "../../../../etc/passwd", "/etc/passwd", "vigil.db", "snapshots/../vigil.db", "snapshots",
        "snapshots/cam1", "snapshots/cam1/link.jpg", "recordings/seg.mp4", str(outside),
        "snapshots/cam1/../../vigil.db",
    )):
        sid = add_snapshot(factory, "cam1", when + timedelta(seconds=i), path=rel)
        r = indexed.client.get(f"{BASE}/cam1/snapshots/{sid}.jpg")
        assert r.status_code == 404, rel
        assert "root:" not in r.text and "not for you" not in r.text


def test_total_is_exact_on_short_pages(indexed: Api) -> None:
    body = _get(indexed, "cam1", limit=10)
    assert (body["total"], body["total_exact"]) == (30, True)
    body = _get(indexed, "cam1", limit=10, offset=40)
    assert body["items"] == [] and body["total"] == 30


def test_openapi_documents_the_routes(indexed: Api) -> None:
    paths = indexed.client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/cameras/{camera_id}/snapshots",
        "/api/v1/cameras/{camera_id}/snapshots/{snapshot_id}.jpg",
        "/api/v1/events",
        "/api/v1/events/{event_id}/thumbnail.jpg",
    ):
        assert "get" in paths[path], path
