"""/api/v1/exports: validation, the job through a real recorder worker, download with Range,
listing, deletion, and lost jobs."""


from __future__ import annotations

import re
from datetime import timedelta

import pytest
import redis
from rq import Queue
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import VIEWER_PASSWORD, Api, add_user
from tests.integration.support.days import assert_faststart, decode, run_burst_worker
from tests.integration.support.exports import CAM, ISO, post
from vigil_common.contract import keys
from vigil_common.db.models import Export, utcnow

pytestmark = pytest.mark.integration


def test_routes_need_authentication(api: Api) -> None:
    assert api.client.get("/api/v1/exports").status_code == 401
    assert api.client.post("/api/v1/exports", json={}).status_code == 401
    assert api.client.get("/api/v1/exports/" + "a" * 32).status_code == 401


@pytest.mark.parametrize("body, code, reason", [
    ({"camera_id": CAM, "start": ISO.format(5), "end": ISO.format(2)}, 422, "'end' must be after 'start'"),
    ({"camera_id": CAM, "start": ISO.format(5), "end": ISO.format(5)}, 422, "'end' must be after 'start'"),
    ({"camera_id": CAM, "start": "2024-06-01T00:00:00Z", "end": "2024-06-02T00:00:01Z"}, 422,
     "the range is longer than the maximum of 86400 seconds"),
    ({"camera_id": "nobody", "start": ISO.format(1), "end": ISO.format(2)}, 404, "unknown camera"),
    ({"camera_id": CAM, "start": "2024-06-01T13:00:00Z", "end": "2024-06-01T14:00:00Z"}, 422,
     "no recordings in that range"),
    ({"camera_id": CAM, "start": "yesterday", "end": ISO.format(2)}, 422, "body field 'start': expected an ISO 8601"),
    ({"camera_id": "Bad Cam", "start": ISO.format(1), "end": ISO.format(2)}, 422, "body field 'camera_id'"),
    ({"camera_id": CAM, "start": ISO.format(1)}, 422, "body field 'end'"),
])
def test_bad_requests_have_reasons(footage: Api, body: dict[str, object], code: int, reason: str) -> None:
    status, out = post(footage, **body)
    assert status == code and str(out["detail"]).startswith(reason), out
    assert footage.client.get("/api/v1/exports").json()["total"] == 0


def test_export_lifecycle(footage: Api, factory: sessionmaker[Session]) -> None:
    api = footage
    status, out = post(api, camera_id=CAM, start="2024-06-01T14:00:01.5+02:00", end="2024-06-01T12:00:04.25Z")
    assert status == 202, out
    eid = str(out["id"])
    assert re.fullmatch(r"[0-9a-f]{32}", eid)
    assert (out["status"], out["progress"], out["camera_id"], out["url"]) == ("queued", 0.0, CAM, None)
    assert out["start"] == "2024-06-01T12:00:01.500000Z" and out["end"] == "2024-06-01T12:00:04.250000Z"
    assert out["filename"] == "gate_20240601-120001_20240601-120004.mp4"
    assert api.client.get(f"/api/v1/exports/{eid}").json()["status"] == "queued"
    r = api.client.get(f"/api/v1/exports/{eid}/video")
    assert r.status_code == 409 and r.json() == {"detail": "export is queued, not done"}

    run_burst_worker(api.settings)
    done = api.client.get(f"/api/v1/exports/{eid}").json()
    assert (done["status"], done["progress"], done["error"]) == ("done", 1.0, None)
    assert done["url"] == f"/api/v1/exports/{eid}/video" and done["finished_at"]
    path = api.settings.data_dir / "exports" / f"{eid}.mp4"
    data = path.read_bytes()
    assert done["bytes"] == len(data)
    assert_faststart(path)
    frames = decode(path)
    assert frames.numbers[0] == 10 and 42 <= frames.numbers[-1] <= 46  # from the keyframe before 1.5 s

    r = api.client.get(done["url"])
    assert r.status_code == 200 and r.content == data and r.headers["content-type"] == "video/mp4"
    assert r.headers["content-disposition"] == 'attachment; filename="gate_20240601-120001_20240601-120004.mp4"'
    r = api.client.get(done["url"], headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"

    page = api.client.get("/api/v1/exports").json()
    assert page["total"] == 1 and [i["id"] for i in page["items"]] == [eid]
    assert api.client.get("/api/v1/exports", params={"camera_id": "other"}).json()["total"] == 0

    # A viewer may export and list, but not delete someone else's export.
    add_user(factory, "viewer", VIEWER_PASSWORD)
    api.client.headers.pop("Authorization")
    csrf = api.login("viewer", VIEWER_PASSWORD)
    r = api.client.delete(f"/api/v1/exports/{eid}", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    r = api.client.post("/api/v1/exports", json={"camera_id": CAM, "start": ISO.format(0), "end": ISO.format(1)},
                        headers={"X-CSRF-Token": csrf})
    assert r.status_code == 202
    mine = r.json()["id"]
    assert api.client.delete(f"/api/v1/exports/{mine}", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert Queue(keys.RECORDER_SLOW_QUEUE, connection=api_redis(api)).job_ids == []  # its queued job was cancelled

    api.client.cookies.clear()
    api.login()
    csrf = api.login()
    assert api.client.delete(f"/api/v1/exports/{eid}", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert not path.exists()
    assert api.client.get(f"/api/v1/exports/{eid}").status_code == 404
    assert api.client.get(f"/api/v1/exports/{eid}/video").status_code == 404


def api_redis(api: Api) -> redis.Redis:
    return redis.Redis.from_url(api.settings.redis_url)


@pytest.mark.parametrize("bad", ["xyz", "A" * 32, "a" * 31, "a" * 33, "..%2F..%2Fetc%2Fpasswd", "g" * 32])
def test_bad_export_ids(footage: Api, bad: str) -> None:
    for suffix in ("", "/video"):
        r = footage.client.get(f"/api/v1/exports/{bad}{suffix}")
        assert r.status_code in (404, 422), (bad, r.status_code)
        assert r.status_code == 422 or "%2F" in bad
    assert footage.client.get("/api/v1/exports/" + "0" * 32).json() == {"detail": "no such export"}
    assert footage.client.delete("/api/v1/exports/" + "0" * 32).status_code == 404


def test_lost_job_is_reported_failed(footage: Api, client: redis.Redis, factory: sessionmaker[Session]) -> None:
    status, out = post(footage, camera_id=CAM, start=ISO.format(0), end=ISO.format(2))
    assert status == 202
    eid = str(out["id"])
    client.delete(f"rq:job:export-{eid}")  # the job vanished (e.g. Redis lost it)
    assert footage.client.get(f"/api/v1/exports/{eid}").json()["status"] == "queued"  # too young to tell
    with factory.begin() as db:
        db.execute(update(Export).where(Export.id == eid).values(created_at=utcnow() - timedelta(minutes=5)))
    got = footage.client.get(f"/api/v1/exports/{eid}").json()
    assert got["status"] == "failed" and "lost" in got["error"]


def test_too_many_exports_at_once(footage: Api) -> None:
    for _ in range(footage.settings.export_max_active_per_user):
        assert post(footage, camera_id=CAM, start=ISO.format(0), end=ISO.format(1))[0] == 202
    r = footage.client.post("/api/v1/exports", json={"camera_id": CAM, "start": ISO.format(0), "end": ISO.format(1)})
    assert r.status_code == 429 and r.headers["retry-after"] == "30" and "limit per user" in r.json()["detail"]
