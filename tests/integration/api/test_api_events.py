"""/api/v1/events: motion and object events (filters, paging, bad input), motion thumbnails and
object close-ups."""


from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import Api, add_camera, jpeg
from vigil_common.db.models import MotionEvent, ObjectEvent

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
    assert set(newest) == {"id", "camera_id", "kind", "label", "start", "end", "ongoing", "score", "thumbnail_url",
                           "closeup_url", "face_url"}
    assert newest["kind"] == "motion" and newest["label"] is None and newest["closeup_url"] is None
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


def add_object(factory: sessionmaker[Session], cam: str, label: str, start: datetime, seconds: float | None = 4.0,
               score: float = 0.8, closeup: str | None = None) -> int:
    end = None if seconds is None else start + timedelta(seconds=seconds)
    with factory.begin() as db:
        row = ObjectEvent(camera_id=cam, label=label, score=score, start=start, end=end, width=1280, height=720,
                          closeup_path=closeup, track="[]", zones="frame")
        db.add(row)
        db.flush()
        return int(row.id)


@pytest.fixture
def objects(indexed: Api, factory: sessionmaker[Session]) -> tuple[Api, dict[str, int]]:
    """indexed's motion events, plus on cam1 a person (with a close-up) at 12:00:10, a car at
    12:05:10 and a person still in view at 12:20."""
    closeup = "closeups/cam1/2024-05-01/cam1_1714564810000_1_ab12cd34.jpg"
    path = indexed.settings.data_dir / closeup
    path.parent.mkdir(parents=True)
    path.write_bytes(jpeg(2))
    ids = {
        "person": add_object(factory, "cam1", "person", T0 + timedelta(seconds=10), closeup=closeup),
        "car": add_object(factory, "cam1", "car", T0 + timedelta(minutes=5, seconds=10), score=0.6),
        "ongoing": add_object(factory, "cam1", "person", T0 + timedelta(minutes=20), None, 0.9, closeup),
    }
    return indexed, ids


def test_object_events_are_listed_with_their_label_and_close_up(objects: tuple[Api, dict[str, int]]) -> None:
    api, ids = objects
    body = _get(api, kind="object")
    assert body["total"] == 3
    items = body["items"]
    assert isinstance(items, list)
    assert [(i["label"], i["id"]) for i in items] == [("person", ids["ongoing"]), ("car", ids["car"]),
                                                       ("person", ids["person"])]
    person = items[2]
    assert person["kind"] == "object" and person["score"] == 0.8 and person["ongoing"] is False
    assert person["closeup_url"] == f"{URL}/objects/{ids['person']}/closeup.jpg" == person["thumbnail_url"]
    assert items[1]["closeup_url"] is None
    r = api.client.get(person["closeup_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content == jpeg(2)
    assert "max-age" in r.headers["cache-control"]
    ongoing = api.client.get(items[0]["closeup_url"])
    assert ongoing.status_code == 200 and ongoing.headers["cache-control"] == "private, no-cache"


def test_a_label_asks_for_objects_of_that_label(objects: tuple[Api, dict[str, int]]) -> None:
    api, _ids = objects
    people = _get(api, label="person")
    assert people["total"] == 2 and {i["label"] for i in people["items"]} == {"person"}  # type: ignore[union-attr]
    assert _get(api, label="person", camera_id="cam2")["total"] == 0
    assert _get(api, label="car", kind="object", start="2024-05-01T12:05:00Z", end="2024-05-01T12:06:00Z")[
        "total"] == 1
    assert _get(api, label="dog")["total"] == 0


def test_both_kinds_together_by_start_time(objects: tuple[Api, dict[str, int]]) -> None:
    api, _ids = objects
    body = _get(api, camera_id="cam1", end="2024-05-01T12:01:30Z", order="asc")
    assert [(i["kind"], i["start"][11:19]) for i in body["items"]] == [  # type: ignore[union-attr]
        ("motion", "12:00:00"), ("object", "12:00:10"), ("motion", "12:01:00")
    ]
    assert _get(api)["total"] == 15  # 12 motion + 3 object
    assert _get(api, kind="motion")["total"] == 12
    page = _get(api, limit=5, offset=10)
    assert len(page["items"]) == 5 and page["total"] == 15  # type: ignore[arg-type]


@pytest.mark.parametrize("params", [{"kind": "face"}, {"label": "../etc"}, {"label": "x" * 40},
                                    {"label": "person", "kind": "motion"}, {"label": ""}])
def test_bad_kind_or_label_is_a_422_with_a_reason(objects: tuple[Api, dict[str, int]],
                                                  params: dict[str, str]) -> None:
    api, _ids = objects
    r = api.client.get(URL, params=params)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_close_ups_that_are_not_there_or_not_under_closeups_are_404(objects: tuple[Api, dict[str, int]],
                                                                    factory: sessionmaker[Session]) -> None:
    api, ids = objects
    assert api.client.get(f"{URL}/objects/{ids['car']}/closeup.jpg").status_code == 404  # none recorded
    assert api.client.get(f"{URL}/objects/999999/closeup.jpg").status_code == 404
    assert api.client.get(f"{URL}/objects/0/closeup.jpg").status_code == 422
    outside = add_object(factory, "cam1", "person", T0, closeup="thumbnails/cam1/2024-05-01/12_00_00_000.jpg")
    assert api.client.get(f"{URL}/objects/{outside}/closeup.jpg").status_code == 404  # a file, but not a close-up
    sneaky = add_object(factory, "cam1", "person", T0,
                        closeup="closeups/../thumbnails/cam1/2024-05-01/12_00_00_000.jpg")
    assert api.client.get(f"{URL}/objects/{sneaky}/closeup.jpg").status_code == 404
    api.client.cookies.clear()
    assert api.client.get(f"{URL}/objects/{ids['person']}/closeup.jpg").status_code == 401


def test_a_persons_face_close_up_is_listed_and_served(objects: tuple[Api, dict[str, int]],
                                                      factory: sessionmaker[Session]) -> None:
    api, ids = objects
    face = "closeups/cam1/2024-05-01/cam1_1714564810000_1_ab12cd34_face.jpg"
    (api.settings.data_dir / face).write_bytes(jpeg(3))
    with factory.begin() as db:
        row = db.get(ObjectEvent, ids["person"])
        assert row is not None
        row.face_path = face
    items = {i["id"]: i for i in _get(api, kind="object")["items"]}  # type: ignore[union-attr]
    assert items[ids["person"]]["face_url"] == f"{URL}/objects/{ids['person']}/face.jpg"
    assert items[ids["car"]]["face_url"] is None and items[ids["ongoing"]]["face_url"] is None
    assert all(i.get("face_url") is None for i in _get(api, kind="motion")["items"])  # type: ignore[union-attr]
    r = api.client.get(items[ids["person"]]["face_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content == jpeg(3)
    assert api.client.get(f"{URL}/objects/{ids['car']}/face.jpg").status_code == 404  # no face
    assert api.client.get(f"{URL}/objects/999999/face.jpg").status_code == 404
    outside = add_object(factory, "cam1", "person", T0)
    with factory.begin() as db:
        row = db.get(ObjectEvent, outside)
        assert row is not None
        row.face_path = "thumbnails/cam1/2024-05-01/12_00_00_000.jpg"  # a file, but not a close-up
    assert api.client.get(f"{URL}/objects/{outside}/face.jpg").status_code == 404
    api.client.cookies.clear()
    assert api.client.get(f"{URL}/objects/{ids['person']}/face.jpg").status_code == 401
