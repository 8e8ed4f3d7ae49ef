"""Health, /metrics, the root page, static frontend, error shapes."""


from __future__ import annotations

from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import free_port
from tests.integration.support.api import Api, add_camera, add_segment
from vigil_api.app import create_app
from vigil_common.runtime.settings import Settings

pytestmark = pytest.mark.integration


def test_health_is_public_and_reports_dependencies(api: Api) -> None:
    assert api.app.state.vigil.bus.wait_connected(10)
    r = api.client.get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    recording = {"status": "ok", "threshold_s": 3.0 * api.settings.segment_seconds, "streaming": 0,
                 "workers_alive": 0, "reason": None, "detail": "", "stalled": []}
    assert body == {"status": "ok", "database": "ok", "redis": "ok", "mqtt": "ok", "recording": recording,
                    "version": body["version"]}
    assert "password" not in r.text and "postgres" not in r.text


def test_health_degraded_when_redis_is_down(settings: Settings, factory: sessionmaker[Session]) -> None:
    add_camera(factory, "cam1")
    broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(broken)) as client:
        r = client.get("/api/v1/health")
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "degraded" and body["redis"] == "error" and body["database"] == "ok"
        assert body["recording"]["status"] == "unknown"  # the watchdog cannot read Redis
        # Routes that need Redis answer 503 with a reason, not 500.
        csrf = client.post("/api/v1/auth/login", json={"username": "admin", "password": "correct-horse-battery"})
        assert csrf.status_code == 200
        r = client.get("/api/v1/cameras/cam1/snapshot.jpg")
        assert r.status_code == 503 and r.json()["detail"] == "redis unavailable; try again shortly"


def test_api_survives_a_missing_database_and_bootstraps_later(settings: Settings) -> None:
    down = settings.model_copy(update={"database_url": f"postgresql://postgres@127.0.0.1:{free_port()}/nope"})
    with TestClient(create_app(down)) as client:
        body = client.get("/api/v1/health").json()
        assert body["status"] == "degraded" and body["database"] == "error"
        r = client.post("/api/v1/auth/login", json={"username": "admin", "password": "x"})
        assert r.status_code == 503 and "database unavailable" in r.json()["detail"]


def test_metrics(api: Api, factory: sessionmaker[Session], rds: redis.Redis) -> None:
    import time
    from datetime import UTC, datetime

    from vigil_common.contract.metrics import metric_field

    add_camera(factory, "cam1")
    add_camera(factory, "cam2", status="offline")
    add_segment(factory, "cam1", datetime(2024, 5, 1, tzinfo=UTC))
    rds.hset(
        "vigil:metrics:ingest",
        mapping={
            metric_field("vigil_ingest_frames_total", {"camera": "cam1"}): 41,
            metric_field("vigil_ingest_rejected_total", {"reason": "bad_magic"}): 2,
            "bad field\n# injected": 1,
            metric_field("vigil_ingest_frames_total", {"camera": "cam2"}): "not-a-number",
        },
    )
    rds.hset("vigil:metrics:recorder", mapping={metric_field("vigil_recorder_segments_total",
                                                             {"camera": "cam1", "status": "written"}): 7})
    rds.hset("vigil:gauges:ingest:a", mapping={metric_field("vigil_ingest_queue_frames"): 3})
    rds.hset("vigil:gauges:ingest:b", mapping={metric_field("vigil_ingest_queue_frames"): 4})
    # What the recorder's retention pass publishes; /metrics never counts the index itself.
    rds.hset("vigil:storage", mapping={"bytes_segments": 1000, "bytes_snapshots": 20, "bytes_day_videos": 0,
                                       "segments": 1,
                                       "bytes_total": 1020, "bytes_free": 5_000_000,
                                       "updated_at": f"{time.time():.3f}"})
    rds.hset("vigil:storage:cameras", mapping={"cam1": "1 1000"})
    assert api.client.get("/metrics").status_code == 401
    token = api.token()
    api.client.get("/api/v1/cameras", headers={"Authorization": f"Bearer {token}"})
    r = api.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert 'vigil_api_requests_total{method="GET",route="/api/v1/cameras",status="200"} 1.0' in text
    assert 'vigil_ingest_frames_total{camera="cam1"} 41.0' in text
    assert "# TYPE vigil_ingest_frames_total counter" in text
    assert 'vigil_ingest_rejected_total{reason="bad_magic"} 2.0' in text
    assert 'vigil_recorder_segments_total{camera="cam1",status="written"} 7.0' in text
    assert "vigil_ingest_queue_frames 7.0" in text  # summed over the ingest processes
    assert "injected" not in text and "not-a-number" not in text
    assert 'vigil_api_cameras{status="online"} 1.0' in text
    assert 'vigil_api_cameras{status="offline"} 1.0' in text
    assert 'vigil_camera_online{camera="cam2"} 0.0' in text
    assert 'vigil_storage_bytes{kind="segments"} 1000.0' in text
    assert "vigil_api_segments 1.0" in text and "vigil_api_segment_bytes 1000.0" in text  # names kept
    assert 'vigil_storage_camera_segments{camera="cam1"} 1.0' in text
    assert "vigil_storage_free_bytes 5e+06" in text
    assert 'vigil_recorder_queue_jobs{queue="vigil-recorder"} 0.0' in text
    assert 'vigil_api_dependency_up{dependency="redis"} 1.0' in text
    # Every non-comment line is "name{labels} value".
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            assert name and float(value) == float(value), line


def test_a_scrape_never_counts_or_sums_the_recording_index(api: Api, factory: sessionmaker[Session]) -> None:
    """Issue 16: /metrics ran COUNT/SUM over segments (cached); it now reads published figures."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    add_camera(factory, "cam1")
    token = api.token()
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.lower())

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        api.app.state.vigil.registry_gauges = None  # not the cached registry read
        r = api.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert r.status_code == 200 and 'vigil_camera_online{camera="cam1"} 1.0' in r.text
    assert any("from cameras" in s for s in statements)  # the listener sees the scrape's queries
    index = [s for s in statements if "segments" in s or "snapshots" in s]
    assert not index, index


def test_without_a_web_app_only_the_api_is_served(api: Api) -> None:
    r = api.client.get("/")
    assert r.status_code == 404 and r.json()["detail"]  # a JSON reason, no page
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert api.client.get("/docs").status_code == 404


def test_frontend_dir_is_served_when_present(settings: Settings, tmp_path: Path) -> None:
    web = tmp_path / "frontend"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>Vigil web</title><script src='/app.js'></script>")
    (web / "app.js").write_text("console.log('hi')")
    with TestClient(create_app(settings, frontend_dir=web)) as client:
        r = client.get("/")
        assert r.status_code == 200 and "Vigil web" in r.text
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert client.get("/app.js").text == "console.log('hi')"
        # API routes still win, and unknown API paths are JSON 404s.
        assert client.get("/api/v1/health").json()["database"] == "ok"
        r = client.get("/api/v1/nope", headers={"Accept": "application/json"})
        assert r.status_code == 404 and r.json()["detail"]
        assert client.get("/api/v1/cameras").status_code == 401


def test_errors_are_json_and_never_tracebacks(api: Api) -> None:
    r = api.client.get("/api/v1/does-not-exist")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    r = api.client.delete("/api/v1/health")
    assert r.status_code == 405 and r.json()["detail"]

    def boom() -> None:
        raise RuntimeError("secret internals /etc/vigil")

    api.app.add_api_route("/api/v1/boom", boom)
    r = api.client.get("/api/v1/boom")
    assert r.status_code == 500 and r.json() == {"detail": "internal error"}
    assert "secret" not in r.text


def test_openapi_document_lists_the_contract(api: Api) -> None:
    r = api.client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in (
        "/api/v1/health",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/tokens",
        "/api/v1/cameras",
        "/api/v1/cameras/{camera_id}",
        "/api/v1/cameras/{camera_id}/commands",
        "/api/v1/cameras/{camera_id}/snapshot.jpg",
        "/api/v1/cameras/{camera_id}/live.mjpeg",
        "/api/v1/recordings",
        "/api/v1/recordings/{recording_id}/video",
        "/metrics",
    ):
        assert path in paths, path
    schemes = r.json()["components"]["securitySchemes"]
    assert {"HTTPBearer", "APIKeyCookie"} <= set(schemes)
