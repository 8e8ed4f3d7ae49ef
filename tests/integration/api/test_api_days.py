"""GET /api/v1/cameras/{id}/days/{date} (timeline) and .../video (the day as one MP4),
against real PostgreSQL, Redis, files and a recorder worker."""


from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from fastapi.testclient import TestClient
from rq import Queue
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import Api, add_camera, add_segment
from tests.integration.support.days import S, assert_faststart, ns_of, record_window, run_burst_worker
from vigil_api.app import create_app
from vigil_common.contract import keys, recorder_jobs
from vigil_common.db.models import CameraEvent, DayVideo, MotionEvent, ObjectEvent, utcnow
from vigil_common.runtime.settings import Settings
from vigil_recorder.days.plan import day_bounds

pytestmark = pytest.mark.integration

CAM = "yard"
DAY = "2024-03-31"  # Europe/Berlin springs forward: 23 hours


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The days in these tests lie in 2024: keep footage (and day videos) for 10 years."""
    return settings.model_copy(update={"retention_days": 3650})


@pytest.fixture
def berlin_api(settings: Settings) -> Iterator[Api]:
    tuned = settings.model_copy(update={"timezone": "Europe/Berlin"})
    with TestClient(create_app(tuned)) as c:
        yield Api(c, c.app, tuned)  # type: ignore[arg-type]


def local(day: str, h: int, m: int = 0, s: int = 0) -> datetime:
    d = date.fromisoformat(day)
    return datetime(d.year, d.month, d.day, h, m, s, tzinfo=ZoneInfo("Europe/Berlin"))


def test_routes_need_authentication(api: Api) -> None:
    for url in (f"/api/v1/cameras/{CAM}/days/{DAY}", f"/api/v1/cameras/{CAM}/days/{DAY}/video"):
        r = api.client.get(url)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path, code", [
    (f"{CAM}/days/2024-13-01", 422),
    (f"{CAM}/days/2023-02-29", 422),
    (f"{CAM}/days/2024-3-31", 422),
    (f"{CAM}/days/yesterday", 422),
    (f"{CAM}/days/2024-03-31T00:00", 422),
    ("Bad!Cam/days/2024-03-31", 422),
    ("nobody/days/2024-03-31", 404),
])
def test_bad_inputs(api: Api, factory: sessionmaker[Session], path: str, code: int) -> None:
    add_camera(factory, CAM)
    api.login()
    for suffix in ("", "/video"):
        r = api.client.get(f"/api/v1/cameras/{path}{suffix}")
        assert r.status_code == code, (path, suffix, r.text)
        assert r.json()["detail"]
    assert api.client.get("/api/v1/cameras/nobody/days/2024-03-31").json() == {"detail": "unknown camera"}


def test_timeline(berlin_api: Api, factory: sessionmaker[Session]) -> None:
    start, end = day_bounds(date.fromisoformat(DAY), berlin_api.settings.tz)
    add_camera(factory, CAM, first_seen=local(DAY, 1))
    with factory.begin() as db:
        db.add_all([
            CameraEvent(camera_id=CAM, time=local(DAY, 1), kind="online"),
            CameraEvent(camera_id=CAM, time=local(DAY, 1), kind="streaming"),
            CameraEvent(camera_id=CAM, time=local(DAY, 5), kind="offline"),
            CameraEvent(camera_id=CAM, time=local(DAY, 6), kind="online"),
            CameraEvent(camera_id=CAM, time=local(DAY, 6), kind="stopped"),
            CameraEvent(camera_id=CAM, time=local(DAY, 7), kind="streaming"),
            MotionEvent(camera_id=CAM, start=local(DAY, 3, 10), end=local(DAY, 3, 11), score=0.8,
                        thumbnail_path="snapshots/yard/x.jpg"),
            MotionEvent(camera_id=CAM, start=local(DAY, 22), end=None, score=0.4),
            MotionEvent(camera_id=CAM, start=local("2024-03-30", 12), end=local("2024-03-30", 13), score=0.9),
            ObjectEvent(camera_id=CAM, label="person", score=0.85, start=local(DAY, 3, 10), end=local(DAY, 3, 11),
                        width=1280, height=720, closeup_path="closeups/yard/x.jpg", track="[]", zones="frame"),
            ObjectEvent(camera_id=CAM, label="cat", score=0.7, start=local(DAY, 22), end=None, width=1280,
                        height=720, closeup_path=None, track="[]", zones="frame"),
            ObjectEvent(camera_id="other", label="car", score=0.9, start=local(DAY, 4), end=local(DAY, 4, 1),
                        width=1280, height=720, closeup_path=None, track="[]", zones="frame"),
        ])
    # 01:00-03:30 in 10 s segments (touching), then 08:00-08:10 (03:00 is 02:00 skipped)
    t = local(DAY, 1).astimezone(UTC)  # step in UTC: local wall-clock arithmetic breaks across DST
    while t < local(DAY, 3, 30):
        add_segment(factory, CAM, t, 10.0)
        t += timedelta(seconds=10)
    for i in range(60):
        add_segment(factory, CAM, local(DAY, 8).astimezone(UTC) + timedelta(seconds=10 * i), 10.0)
    add_segment(factory, "other", local(DAY, 4), 10.0)
    berlin_api.login()
    r = berlin_api.client.get(f"/api/v1/cameras/{CAM}/days/{DAY}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["date"] == DAY and body["camera_id"] == CAM
    assert body["start"] == "2024-03-31T00:00:00+01:00" and body["end"] == "2024-04-01T00:00:00+02:00"
    assert body["covered"] == [
        {"start": "2024-03-31T01:00:00+01:00", "end": "2024-03-31T03:30:00+02:00"},
        {"start": "2024-03-31T08:00:00+02:00", "end": "2024-03-31T08:10:00+02:00"},
    ]
    assert [(g["start"], g["end"], g["reason"]) for g in body["gaps"]] == [
        ("2024-03-31T00:00:00+01:00", "2024-03-31T01:00:00+01:00", "no_camera_yet"),
        ("2024-03-31T03:30:00+02:00", "2024-03-31T05:00:00+02:00", "not_recorded"),
        ("2024-03-31T05:00:00+02:00", "2024-03-31T06:00:00+02:00", "offline"),
        ("2024-03-31T06:00:00+02:00", "2024-03-31T07:00:00+02:00", "stopped"),
        ("2024-03-31T07:00:00+02:00", "2024-03-31T08:00:00+02:00", "not_recorded"),
        ("2024-03-31T08:10:00+02:00", "2024-04-01T00:00:00+02:00", "not_recorded"),
    ]
    assert [(e["start"], e["end"], e["score"]) for e in body["events"]] == [
        ("2024-03-31T03:10:00+02:00", "2024-03-31T03:11:00+02:00", 0.8),
        ("2024-03-31T22:00:00+02:00", None, 0.4),
    ]
    assert body["events"][0]["thumbnail_url"] == f"/api/v1/events/{body['events'][0]['id']}/thumbnail.jpg"
    assert body["events"][1]["thumbnail_url"] is None
    objects = body["objects"]
    assert [(o["label"], o["start"], o["end"], o["score"]) for o in objects] == [
        ("person", "2024-03-31T03:10:00+02:00", "2024-03-31T03:11:00+02:00", 0.85),
        ("cat", "2024-03-31T22:00:00+02:00", None, 0.7),
    ]
    assert objects[0]["closeup_url"] == f"/api/v1/events/objects/{objects[0]['id']}/closeup.jpg"
    assert objects[1]["closeup_url"] is None
    per_hour = body["bytes_per_hour"]
    assert len(per_hour) == 24 and per_hour[2] == 0  # 02:00 does not exist that day
    assert per_hour[1] == 360 * 1010 and per_hour[3] == 180 * 1010 and per_hour[8] == 60 * 1010
    assert sum(per_hour) == (540 + 60) * 1010
    assert body["video"] == {"camera_id": CAM, "date": DAY, "status": "none", "progress": 0.0,
                             "covers_until": None, "error": None, "url": f"/api/v1/cameras/{CAM}/days/{DAY}/video"}
    assert (end - start) == timedelta(hours=23)


def test_day_without_footage(api: Api, factory: sessionmaker[Session]) -> None:
    add_camera(factory, CAM, first_seen=datetime.fromisoformat("2024-01-01T00:00:00+00:00"))
    add_segment(factory, CAM, datetime.fromisoformat("2024-05-02T10:00:00+00:00"))
    api.login()
    body = api.client.get(f"/api/v1/cameras/{CAM}/days/2024-05-01").json()
    assert body["covered"] == [] and body["bytes_per_hour"] == [0] * 24
    assert body["gaps"] == [{"start": "2024-05-01T00:00:00Z", "end": "2024-05-02T00:00:00Z", "reason": "unknown"}]
    r = api.client.get(f"/api/v1/cameras/{CAM}/days/2024-05-01/video")
    assert r.status_code == 404 and r.json() == {"detail": "no recordings on that day"}
    # A deleted camera's footage is still reachable (no registry row, segments remain).
    add_segment(factory, "gone", datetime.fromisoformat("2024-05-01T10:00:00+00:00"))
    assert api.client.get("/api/v1/cameras/gone/days/2024-05-01").status_code == 200


def test_day_video_202_then_200_with_ranges(
    api: Api, factory: sessionmaker[Session], client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    settings = api.settings
    add_camera(factory, CAM)
    t = ns_of(datetime.fromisoformat("2024-05-01T09:00:00+00:00"))
    record_window(settings, client, sessions, CAM, t, 10, first_number=0)
    record_window(settings, client, sessions, CAM, t + 3600 * S, 10, first_number=10)
    api.login()
    url = f"/api/v1/cameras/{CAM}/days/2024-05-01/video"
    r = api.client.get(url)
    assert r.status_code == 202, r.text
    assert r.headers["retry-after"] == "5"
    assert r.json()["status"] == "queued" and r.json()["progress"] == 0.0
    assert api.client.get(url).status_code == 202  # asked again: still one job
    queue = Queue(keys.RECORDER_SLOW_QUEUE, connection=client)
    assert queue.job_ids == [f"day-{CAM}-2024-05-01"]
    timeline = api.client.get(f"/api/v1/cameras/{CAM}/days/2024-05-01").json()
    assert timeline["video"]["status"] == "queued"

    run_burst_worker(settings)
    r = api.client.get(url)
    assert r.status_code == 200, r.text
    path = settings.data_dir / "days" / CAM / "2024-05-01.mp4"
    data = path.read_bytes()
    assert r.content == data and r.headers["content-type"] == "video/mp4"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["x-vigil-day-start"] == "2024-05-01T00:00:00+00:00"
    assert r.headers["x-vigil-covers-until"] == "2024-05-01T10:00:01+00:00"
    assert_faststart(path)
    r = api.client.get(url, headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == data[:100]
    assert r.headers["content-range"] == f"bytes 0-99/{len(data)}"
    r = api.client.get(url, headers={"Range": f"bytes={len(data) - 50}-"})
    assert r.status_code == 206 and r.content == data[-50:]
    assert api.client.head(url).status_code == 200
    assert api.client.get(f"/api/v1/cameras/{CAM}/days/2024-05-01").json()["video"]["status"] == "done"

    # Footage added to that day later: the video is rebuilt on demand.
    record_window(settings, client, sessions, CAM, t + 7200 * S, 10, first_number=20)
    assert api.client.get(url).status_code == 202
    run_burst_worker(settings)
    r = api.client.get(url)
    assert r.status_code == 200 and len(r.content) > len(data)


def test_current_day_is_served_while_it_lags_a_little(
    api: Api, factory: sessionmaker[Session], client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    settings = api.settings
    add_camera(factory, CAM)
    now = utcnow()
    start, _ = day_bounds(now.date(), settings.tz)
    t = max(ns_of(now) - 120 * S, ns_of(start))
    record_window(settings, client, sessions, CAM, t, 5, first_number=0)
    api.login()
    url = f"/api/v1/cameras/{CAM}/days/{now.date().isoformat()}/video"
    assert api.client.get(url).status_code == 202
    run_burst_worker(settings)
    assert api.client.get(url).status_code == 200
    # A newer segment a few seconds later: within the tolerance, today's video is still served.
    record_window(settings, client, sessions, CAM, t + 2 * S, 5, first_number=5)
    if utcnow().date() != now.date():
        pytest.skip("the day ended while the test ran")  # then the video must be complete: 202
    assert api.client.get(url).status_code == 200
    with sessions() as db:
        row = db.get(DayVideo, (CAM, now.date().isoformat()))
        assert row is not None and row.segments == 1


def test_openapi_lists_the_routes(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/cameras/{camera_id}/days/{date}", "/api/v1/cameras/{camera_id}/days/{date}/video",
                 "/api/v1/exports", "/api/v1/exports/{export_id}", "/api/v1/exports/{export_id}/video"):
        assert path in paths, path
    assert set(paths["/api/v1/exports/{export_id}"]) == {"get", "delete"}


def test_day_video_requests_are_refused_when_the_long_job_queue_is_full(
    api: Api, factory: sessionmaker[Session], client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    from vigil_api.routes.days import MAX_WAITING_SLOW_JOBS

    add_camera(factory, CAM)
    t = ns_of(datetime.fromisoformat("2024-05-01T09:00:00+00:00"))
    record_window(api.settings, client, sessions, CAM, t, 10, first_number=0)
    queue = recorder_jobs.queue(client, keys.RECORDER_SLOW_QUEUE)
    for i in range(MAX_WAITING_SLOW_JOBS):
        queue.enqueue("vigil_recorder.days.assemble_day", args=("other", f"2024-01-{i + 1:02d}"), job_id=f"filler-{i}")
    api.login()
    r = api.client.get(f"/api/v1/cameras/{CAM}/days/2024-05-01/video")
    assert r.status_code == 429 and r.headers["retry-after"] == "30" and "try again" in r.json()["detail"]
    assert len(queue.job_ids) == MAX_WAITING_SLOW_JOBS  # nothing more was enqueued


def test_no_day_video_is_built_for_days_past_retention(
    api: Api, factory: sessionmaker[Session], client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    add_camera(factory, CAM)
    t = ns_of(datetime.fromisoformat("2015-05-01T09:00:00+00:00"))  # older than this module's 10-year retention
    record_window(api.settings, client, sessions, CAM, t, 10, first_number=0)
    api.login()
    r = api.client.get(f"/api/v1/cameras/{CAM}/days/2015-05-01/video")
    assert r.status_code == 410 and "export" in r.json()["detail"]
    assert Queue(keys.RECORDER_SLOW_QUEUE, connection=client).job_ids == []


def test_the_day_video_age_limit_follows_the_runtime_retention(
    api: Api, factory: sessionmaker[Session], client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    """A retention changed through the API moves the day-video age limit with it."""
    from vigil_common.db.app_settings import set_setting

    add_camera(factory, CAM)
    t = ns_of(datetime.fromisoformat("2015-05-01T09:00:00+00:00"))
    record_window(api.settings, client, sessions, CAM, t, 10, first_number=0)
    with factory.begin() as db:
        set_setting(db, "retention.days", 1)
    api.login()
    r = api.client.get(f"/api/v1/cameras/{CAM}/days/2015-05-01/video")
    assert r.status_code == 410 and "kept 1 days" in r.json()["detail"]
    with factory.begin() as db:
        set_setting(db, "retention.days", 36500)
    assert api.client.get(f"/api/v1/cameras/{CAM}/days/2015-05-01/video").status_code == 202
