"""Deleting one camera's footage (``DELETE /cameras/{id}?footage=true``) is the recorder's job:
storage.delete.delete_camera_footage, in chunks, and jobs.delete_footage, which continues itself
until nothing is left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.days import run_burst_worker
from tests.integration.support.retention import fake_segment, fake_snapshot
from vigil_common.contract import keys, recorder_jobs
from vigil_common.db.models import CameraEvent, DayVideo, MotionEvent, ObjectEvent, Segment, Snapshot
from vigil_common.runtime.settings import Settings
from vigil_recorder.storage import delete as deletion

T0 = datetime(2024, 5, 1, 10, tzinfo=UTC)


def count(sessions: sessionmaker[Session], model: type, cam: str) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(model.camera_id == cam)) or 0)  # type: ignore[attr-defined]


def footage(settings: Settings, sessions: sessionmaker[Session], cam: str, n: int) -> None:
    for i in range(n):
        fake_segment(settings, sessions, cam, T0 + timedelta(seconds=10 * i), size=10)
        fake_snapshot(settings, sessions, cam, T0 + timedelta(seconds=10 * i), size=10)
    thumb = settings.data_dir / "thumbnails" / cam / "1.jpg"
    thumb.parent.mkdir(parents=True, exist_ok=True)
    thumb.write_bytes(b"j")
    closeup = settings.data_dir / "closeups" / cam / "1.jpg"
    closeup.parent.mkdir(parents=True, exist_ok=True)
    closeup.write_bytes(b"c")
    day = settings.data_dir / "days" / cam / "2024-05-01.mp4"
    day.parent.mkdir(parents=True, exist_ok=True)
    day.write_bytes(b"d")
    with sessions.begin() as s:
        s.add(MotionEvent(camera_id=cam, start=T0, end=T0 + timedelta(seconds=3), score=0.1,
                          thumbnail_path=f"thumbnails/{cam}/1.jpg"))
        s.add(ObjectEvent(camera_id=cam, label="person", score=0.9, start=T0, end=T0 + timedelta(seconds=2),
                          width=640, height=360, closeup_path=f"closeups/{cam}/1.jpg", track="[]", zones="frame"))
        s.add(CameraEvent(camera_id=cam, time=T0, kind="online"))
        s.add(DayVideo(camera_id=cam, date="2024-05-01", status="done", progress=1.0, path=f"days/{cam}/2024-05-01.mp4",
                       bytes=1, updated_at=T0))


def test_a_camera_s_footage_goes_in_chunks_and_no_other_camera_s(
        settings: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    footage(settings, sessions, "gone", 7)
    footage(settings, sessions, "kept", 2)
    monkeypatch.setattr(deletion, "CHUNK", 3)
    removed, done = deletion.delete_camera_footage(settings.data_dir, sessions, "gone", max_rows=4)
    assert not done and removed.rows >= 4
    # Whatever is left of its recordings is already hidden (marked) from listings.
    with sessions() as s:
        assert not s.scalars(select(Segment).where(Segment.camera_id == "gone", Segment.deleting.is_(False))).all()
    calls = 1
    while not done:
        removed, done = deletion.delete_camera_footage(settings.data_dir, sessions, "gone", max_rows=4)
        calls += 1
    assert calls >= 4  # 7 segments + 7 snapshots + 2 events + 1 day, 4 rows a call
    for model in (Segment, Snapshot, MotionEvent, ObjectEvent, DayVideo, CameraEvent):
        assert count(sessions, model, "gone") == 0, model
        assert count(sessions, model, "kept") > 0, model
    for area in ("recordings", "snapshots", "thumbnails", "closeups", "days"):
        assert not [p for p in (settings.data_dir / area / "gone").rglob("*") if p.is_file()], area
        assert [p for p in (settings.data_dir / area / "kept").rglob("*") if p.is_file()], area


def test_the_job_continues_itself_until_nothing_is_left(
        settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis) -> None:
    footage(settings, sessions, "gone", 3)
    recorder_jobs.enqueue_footage_deletion(rclient, "gone")
    assert Queue(keys.RECORDER_QUEUE, connection=rclient).count == 1
    run_burst_worker(settings)
    for model in (Segment, Snapshot, MotionEvent, ObjectEvent, DayVideo, CameraEvent):
        assert count(sessions, model, "gone") == 0, model
    assert not [p for p in settings.data_dir.rglob("*") if p.is_file() and "gone" in p.parts]
