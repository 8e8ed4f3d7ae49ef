"""/api/v1/events: motion events (filters, paging, bad input) and their thumbnails."""


from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import Api, add_camera, jpeg
from vigil_common.db.models import MotionEvent

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
URL = "/api/v1/events"


def add_event(factory: sessionmaker[Session], cam: str, start: datetime, seconds: float | None = 5.0,
              score: float = 0.1, thumbnail: str | None = None) -> int:
    end = None if seconds is None else start + timedelta(seconds=seconds)
    with factory.begin() as db:
        row = MotionEvent(camera_id=cam, start=start, end=end, score=score, thumbnail_path=thumbnail)
        db.add(row)
        db.flush()
        return int(row.id)


@pytest.fixture
def indexed(api: Api, factory: sessionmaker[Session]) -> Api:
    """cam1: 10 events of 5 s every minute from T0 (the first with a thumbnail); cam2: 2 events,
    the second still going on."""
    add_camera(factory, "cam1")
    add_camera(factory, "cam2")
    thumb = "thumbnails/cam1/2024-05-01/12_00_00_000.jpg"
    path = api.settings.data_dir / thumb
    path.parent.mkdir(parents=True)
    path.write_bytes(jpeg(1))
    for i in range(10):
        add_event(factory, "cam1", T0 + timedelta(minutes=i), score=0.01 * (i + 1), thumbnail=thumb if i == 0 else None)
    add_event(factory, "cam2", T0 + timedelta(seconds=30), 20.0)
    add_event(factory, "cam2", T0 + timedelta(minutes=30), None, thumbnail=thumb)
    api.login()
    return api


def _get(api: Api, **params: object) -> dict[str, object]:
    r = api.client.get(URL, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_listing_newest_first_with_thumbnail_urls(indexed: Api) -> None:
    body = _get(indexed)
    assert (body["total"], body["total_exact"]) == (12, True)
    items = body["items"]
    assert isinstance(items, list)
    starts = [i["start"] for i in items]
    assert starts == sorted(starts, reverse=True)
    newest = items[0]
    assert set(newest) == {"id", "camera_id", "start", "end", "ongoing", "score", "thumbnail_url"}
    assert newest["camera_id"] == "cam2" and newest["end"] is None and newest["ongoing"] is True
    assert newest["thumbnail_url"] == f"{URL}/{newest['id']}/thumbnail.jpg"
    no_thumb = [i for i in items if i["camera_id"] == "cam1" and i["thumbnail_url"] is None]
    assert len(no_thumb) == 9


def test_filters_overlap_and_paging(indexed: Api) -> None:
    assert _get(indexed, camera_id="cam1")["total"] == 10
    assert _get(indexed, camera_id="nobody")["total"] == 0
    # Overlap: cam1's 12:02:00-12:02:05 ends after 12:02:03; cam2's ongoing event counts from its start.
    body = _get(indexed, start="2024-05-01T12:02:03Z", end="2024-05-01T12:04:00Z")
    assert [(i["camera_id"], i["start"][11:19]) for i in body["items"]] == [  # type: ignore[union-attr]
        ("cam1", "12:03:00"), ("cam1", "12:02:00")
    ]
    assert _get(indexed, start="2024-05-01T13:00:00Z")["total"] == 1  # only the ongoing one
    body = _get(indexed, camera_id="cam1", order="asc", limit=3, offset=3)
    assert [i["score"] for i in body["items"]] == [0.04, 0.05, 0.06]  # type: ignore[union-attr]
    assert (body["total"], body["limit"], body["offset"]) == (10, 3, 3)


def test_thumbnail_serving_and_caching(indexed: Api) -> None:
    items = _get(indexed, camera_id="cam1", order="asc", limit=1)["items"]
    url = items[0]["thumbnail_url"]  # type: ignore[index]
    r = indexed.client.get(url)
    assert r.status_code == 200 and r.content == jpeg(1)
    assert r.headers["content-type"] == "image/jpeg" and "max-age" in r.headers["cache-control"]
    ongoing = _get(indexed, camera_id="cam2", limit=1)["items"][0]  # type: ignore[index]
    r = indexed.client.get(ongoing["thumbnail_url"])
    assert r.status_code == 200 and "no-cache" in r.headers["cache-control"]  # replaced when it ends


def test_missing_event_thumbnail_or_file_is_404(indexed: Api, factory: sessionmaker[Session]) -> None:
    no_thumb = _get(indexed, camera_id="cam1", limit=1)["items"][0]["id"]  # type: ignore[index]
    r = indexed.client.get(f"{URL}/{no_thumb}/thumbnail.jpg")
    assert r.status_code == 404 and r.json() == {"detail": "this event has no thumbnail"}
    assert indexed.client.get(f"{URL}/999999/thumbnail.jpg").json() == {"detail": "no such event"}
    gone = add_event(factory, "cam1", T0 + timedelta(hours=2), thumbnail="thumbnails/cam1/never.jpg")
    assert indexed.client.get(f"{URL}/{gone}/thumbnail.jpg").status_code == 404


def test_thumbnail_paths_outside_the_thumbnails_dir_are_refused(
    indexed: Api, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    data = indexed.settings.data_dir
    (data / "vigil.db").write_text("not for you")
    outside = tmp_path / "outside.txt"
    outside.write_text("root:x:0:0:secret")
    os.symlink(outside, data / "thumbnails" / "cam1" / "link.jpg")
    for i, rel in enumerate((
        "../../../../etc/passwd", "/etc/passwd", "vigil.db", "thumbnails/../vigil.db", "thumbnails",
        "thumbnails/cam1/link.jpg", str(outside), "snapshots/../thumbnails/../vigil.db",
    )):
        eid = add_event(factory, "cam1", T0 + timedelta(days=1, seconds=i), thumbnail=rel)
        r = indexed.client.get(f"{URL}/{eid}/thumbnail.jpg")
        assert r.status_code == 404, rel
        assert "root:" not in r.text and "not for you" not in r.text


def test_authentication_is_required(indexed: Api) -> None:
    indexed.client.cookies.clear()
    for url in (URL, f"{URL}/1/thumbnail.jpg"):
        r = indexed.client.get(url)
        assert r.status_code == 401 and r.json()["detail"]


BAD_QUERIES: list[dict[str, object]] = [
    {"camera_id": "CAM1"},
    {"camera_id": "../etc"},
    {"camera_id": "a" * 40},
    {"camera_id": "cam1\x00"},
    {"start": "tomorrow"},
    {"end": "2024-02-30T00:00:00"},
    {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T12:00:00Z"},
    {"start": "9" * 80},
    {"limit": 0},
    {"limit": 5000},
    {"offset": -5},
    {"offset": 10**9},
    {"order": "random"},
]


def test_bad_query_input_is_422_with_a_reason(indexed: Api) -> None:
    for params in BAD_QUERIES:
        r = indexed.client.get(URL, params=params)
        assert r.status_code == 422, (params, r.status_code, r.text)
        assert "query parameter" in r.json()["detail"], params


def test_bad_event_ids_are_4xx(indexed: Api) -> None:
    for eid in ("abc", "0", "-1", "2.5", str(2**63), "..%2F..%2Fvigil.db", "%2e%2e", "1%00"):
        r = indexed.client.get(f"{URL}/{eid}/thumbnail.jpg")
        assert 400 <= r.status_code < 500, (eid, r.status_code)
        assert r.json()["detail"]
