"""Retention against real PostgreSQL, Redis and files: what goes, what stays, crash-safety,
free space before a write, and a failed write that is never indexed."""

from __future__ import annotations

import os
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import make_jpeg
from tests.integration.support.retention import (
    fake_segment,
    fake_snapshot,
    mp4_files,
    ms,
    partial_files,
    segment_rows,
)
from vigil_common.contract import keys, streams
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.db.models import DayVideo, Export, MotionEvent, ObjectEvent, Segment, Snapshot
from vigil_common.runtime.counters import sample_name
from vigil_common.runtime.settings import Settings
from vigil_recorder.duties import DutyContext, DutyRunner
from vigil_recorder.retention.duty import duties, run_pass
from vigil_recorder.segment.writer import write_segment
from vigil_recorder.storage import disk
from vigil_recorder.storage.figures import STORAGE_KEY
from vigil_recorder.storage.reclaim import ensure_space

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def metric(r: redis.Redis, name: str, **labels: str) -> int:
    raw = r.hget(keys.metrics_hash("recorder"), sample_name(name, **labels))
    return int(raw) if raw is not None else 0


def test_pass_applies_age_motion_and_leaves_exports_and_recent_footage(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    s = settings.model_copy(update={"retention_days": 3, "retention_motion_days": 10})
    fake_segment(s, sessions, "a", NOW - 5 * DAY)  # past 3 days, no motion: goes
    kept_motion = fake_segment(s, sessions, "a", NOW - 5 * DAY + timedelta(hours=1))  # motion: stays
    ancient = fake_segment(s, sessions, "a", NOW - 12 * DAY)  # past even the motion retention: goes
    recent = fake_segment(s, sessions, "b", NOW - DAY)
    old_snap = fake_snapshot(s, sessions, "a", NOW - 4 * DAY)
    new_snap = fake_snapshot(s, sessions, "a", NOW - timedelta(hours=1))
    thumb = s.data_dir / "motion" / "a" / "old.jpg"
    thumb.parent.mkdir(parents=True)
    thumb.write_bytes(b"x")
    old_closeup, new_closeup = s.data_dir / "closeups" / "a" / "old.jpg", s.data_dir / "closeups" / "a" / "new.jpg"
    old_closeup.parent.mkdir(parents=True)
    old_closeup.write_bytes(b"c")
    new_closeup.write_bytes(b"c")
    day_file = s.data_dir / "days" / "a" / "old.mp4"
    day_file.parent.mkdir(parents=True)
    day_file.write_bytes(b"d" * 50)
    export_file = s.data_dir / "exports" / "e1.mp4"
    export_file.parent.mkdir(parents=True)
    export_file.write_bytes(b"e")
    with sessions.begin() as db:
        db.add(MotionEvent(camera_id="a", start=kept_motion.start + timedelta(seconds=1),
                           end=kept_motion.start + timedelta(seconds=5), score=1.0))
        db.add(MotionEvent(camera_id="a", start=NOW - 12 * DAY, end=NOW - 12 * DAY + timedelta(seconds=3),
                           thumbnail_path="motion/a/old.jpg"))
        # (The newer one lies away from the footage here: object events protect footage too.)
        for rel, start in (("closeups/a/old.jpg", NOW - 12 * DAY), ("closeups/a/new.jpg", NOW - 5 * DAY + 2 * HOUR)):
            db.add(ObjectEvent(camera_id="a", label="person", score=0.8, start=start, end=start + timedelta(seconds=4),
                               width=1280, height=720, closeup_path=rel, track="[]", zones="frame"))
        db.add(DayVideo(camera_id="a", date=(NOW - 5 * DAY).astimezone(s.tz).date().isoformat(), status="done",
                        path="days/a/old.mp4", bytes=50))
        db.add(Export(id="e1", camera_id="a", start=NOW - 20 * DAY, end=NOW - 20 * DAY + timedelta(seconds=9),
                      status="done", path="exports/e1.mp4", bytes=1))

    report = run_pass(s, sessions, rclient)

    assert [r.path for r in segment_rows(sessions)] == [kept_motion.path, recent.path]
    assert mp4_files(s) == {kept_motion.path, recent.path}
    assert not (s.data_dir / ancient.path).parent.exists()  # its empty day directory was removed
    with sessions() as db:
        assert [x.path for x in db.execute(select(Snapshot)).scalars()] == [new_snap]
        assert len(db.execute(select(MotionEvent)).scalars().all()) == 1
        # Object events last as long as motion footage (10 days here): the 12-day-old one goes.
        assert [o.closeup_path for o in db.execute(select(ObjectEvent)).scalars()] == ["closeups/a/new.jpg"]
        assert db.execute(select(DayVideo)).scalars().all() == []
        assert db.get(Export, "e1") is not None
    assert not (s.data_dir / old_snap).exists() and (s.data_dir / new_snap).exists()
    assert not thumb.exists() and not day_file.exists() and export_file.exists()
    assert not old_closeup.exists() and new_closeup.exists()
    assert metric(rclient, "vigil_recorder_retention_deleted_total", kind="segment", reason="age") == 2
    assert metric(rclient, "vigil_recorder_retention_freed_bytes_total", kind="segment", reason="age") == 2000
    assert metric(rclient, "vigil_recorder_retention_deleted_total", kind="snapshot", reason="age") == 1
    stored = {k.decode(): v.decode() for k, v in rclient.hgetall(STORAGE_KEY).items()}
    assert stored["segments"] == "2" and stored["bytes_total"] == str(2000 + 500 + 1)  # the export counts
    assert stored["exports"] == "1" and stored["bytes_exports"] == "1"
    assert int(stored["bytes_free"]) > 0
    assert report.tally.count == 4  # 2 segments, 1 snapshot, 1 day video

    # A second pass has nothing to do.
    assert run_pass(s, sessions, rclient).tally.count == 0


def test_object_footage_is_kept_longer_than_motion_footage(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    """VIGIL_RETENTION_OBJECT_DAYS: footage near an object event (and the event with its
    close-up) outlives motion footage; past it, both go."""
    s = settings.model_copy(update={"retention_days": 3, "retention_motion_days": 10, "retention_object_days": 30})
    seen = fake_segment(s, sessions, "a", NOW - 20 * DAY)  # a person 20 days ago: stays
    moved = fake_segment(s, sessions, "a", NOW - 20 * DAY + timedelta(hours=1))  # motion only, 20 days: goes
    ancient = fake_segment(s, sessions, "a", NOW - 40 * DAY)  # a person 40 days ago: goes
    closeups = {}
    with sessions.begin() as db:
        for name, seg in (("seen", seen), ("ancient", ancient)):
            rel = f"closeups/a/{name}.jpg"
            (s.data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (s.data_dir / rel).write_bytes(b"c")
            closeups[name] = s.data_dir / rel
            face = rel.replace(".jpg", "_face.jpg")
            (s.data_dir / face).write_bytes(b"f")
            closeups[f"{name}_face"] = s.data_dir / face
            start = seg.start + timedelta(seconds=1)
            db.add(MotionEvent(camera_id="a", start=start, end=start + timedelta(seconds=4), score=1.0))
            db.add(ObjectEvent(camera_id="a", label="person", score=0.8, start=start, end=start + timedelta(seconds=3),
                               width=1280, height=720, closeup_path=rel, face_path=face, track="[]", zones=""))
        start = moved.start + timedelta(seconds=1)
        db.add(MotionEvent(camera_id="a", start=start, end=start + timedelta(seconds=4), score=1.0))

    run_pass(s, sessions, rclient)

    assert [r.path for r in segment_rows(sessions)] == [seen.path]
    assert mp4_files(s) == {seen.path}
    with sessions() as db:
        assert [o.closeup_path for o in db.execute(select(ObjectEvent)).scalars()] == ["closeups/a/seen.jpg"]
        assert db.execute(select(MotionEvent)).scalars().all() == []  # motion events: 10 days
    assert closeups["seen"].exists() and closeups["seen_face"].exists()
    assert not closeups["ancient"].exists() and not closeups["ancient_face"].exists()  # with its face close-up
    assert run_pass(s, sessions, rclient).tally.count == 0


def test_motion_footage_goes_at_the_motion_retention_when_object_footage_is_kept_longer(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    """Object days > motion days: motion-only footage still goes as it passes the motion
    retention (a cursor of its own), not only at the next daily full rescan."""
    s = settings.model_copy(update={"retention_days": 3, "retention_motion_days": 10, "retention_object_days": 30})
    now = datetime.now(UTC).replace(microsecond=0)
    moved = fake_segment(s, sessions, "a", now - 9 * DAY)
    with sessions.begin() as db:
        start = moved.start + timedelta(seconds=1)
        db.add(MotionEvent(camera_id="a", start=start, end=start + timedelta(seconds=4), score=1.0))
    run_pass(s, sessions, rclient, now=now)  # 9 days: motion keeps it (and the daily full rescan is used up)
    assert moved.path in {r.path for r in segment_rows(sessions)}
    run_pass(s, sessions, rclient, now=now + 2 * DAY)  # 11 days: past the motion retention
    assert moved.path not in {r.path for r in segment_rows(sessions)}


def test_byte_cap_deletes_oldest_first_motion_last_never_the_newest(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    s = settings.model_copy(update={"retention_max_bytes": 3500})
    rows = [fake_segment(s, sessions, "a", NOW - timedelta(minutes=10 - i), size=1000) for i in range(6)]
    with sessions.begin() as db:  # the oldest is near motion: it goes after the other old ones
        db.add(MotionEvent(camera_id="a", start=rows[0].start, end=rows[0].end, score=1.0))
    fake_snapshot(s, sessions, "a", NOW - timedelta(minutes=9, seconds=30), size=500)  # counts too
    run_pass(s, sessions, rclient)
    # 6500 bytes, cap 3500: the snapshot and segments 1, 2, 3 go (3000 left), motion kept.
    assert [r.path for r in segment_rows(sessions)] == [rows[0].path, rows[4].path, rows[5].path]
    assert metric(rclient, "vigil_recorder_retention_deleted_total", kind="segment", reason="max_bytes") == 3
    assert metric(rclient, "vigil_recorder_retention_deleted_total", kind="snapshot", reason="max_bytes") == 1


def test_an_interrupted_deletion_is_finished_by_the_next_pass(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    rows = [fake_segment(settings, sessions, "a", NOW - timedelta(minutes=5 - i)) for i in range(3)]
    # A pass died after marking two rows and unlinking one of their files.
    with sessions.begin() as db:
        db.execute(update(Segment).where(Segment.path.in_([rows[0].path, rows[1].path])).values(deleting=True))
    (settings.data_dir / rows[0].path).unlink()
    report = run_pass(settings, sessions, rclient)
    assert report.tally.finished == 2
    assert [r.path for r in segment_rows(sessions)] == [rows[2].path]
    assert mp4_files(settings) == {rows[2].path}


def small_disk(settings: Settings, capacity: int) -> disk.FreeBytes:
    """A disk of ``capacity`` bytes holding the data directory's real files."""

    def free(_path: Path) -> int:
        return capacity - disk.tree_bytes(settings.data_dir)

    return free


def test_ensure_space_frees_the_oldest_before_a_write(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    s = settings.model_copy(update={"min_free_bytes": 2000})
    now = datetime.now(UTC)  # not the module's NOW: "just written" must be relative to this moment
    rows = [fake_segment(s, sessions, "a", now - timedelta(minutes=10 - i), size=1000) for i in range(5)]
    newest = fake_segment(s, sessions, "a", now - timedelta(seconds=1), size=1000)  # just written: guarded
    free = small_disk(s, 8000)  # 6000 used, 2000 free
    assert ensure_space(s, sessions, rclient, 0, free=free) == 0  # at the floor: nothing to do
    freed = ensure_space(s, sessions, rclient, 1500, free=free)
    assert freed == 2000  # 1500 more would leave 500 < 2000: two oldest go, not more
    assert [r.path for r in segment_rows(sessions)] == [r.path for r in rows[2:]] + [newest.path]
    assert free(s.data_dir) == 4000
    # Asking for more than everything deletable: all but the guarded newest go.
    ensure_space(s, sessions, rclient, 100_000, free=free)
    assert [r.path for r in segment_rows(sessions)] == [newest.path]
    assert metric(rclient, "vigil_recorder_retention_deleted_total", kind="segment", reason="free_space") == 5


def test_the_duty_uses_the_free_space_floor(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    s = settings.model_copy(update={"min_free_bytes": 3000})
    rows = [fake_segment(s, sessions, "a", NOW - timedelta(minutes=10 - i), size=1000) for i in range(4)]
    ctx = DutyContext(s, rclient, sessions, lambda *a: None)
    runner = DutyRunner(ctx, duties(s, free=small_disk(s, 5000)))
    assert runner.run_due(now=0.0) == ["retention"]
    # 4000 used of 5000: 1000 free, floor 3000 -> the two oldest go.
    assert [r.path for r in segment_rows(sessions)] == [rows[2].path, rows[3].path]
    assert rclient.hget(STORAGE_KEY, "bytes_free") == b"3000"


def _write_in_child(settings: Settings, start_ms: int, limit: int | None) -> int:
    """Run one segment write in a forked child (a file-size limit makes its writes fail,
    as a full disk would); returns the child's exit status."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # EFBIG past it (SIGXFSZ is ignored)
            from vigil_common.db.engine import make_engine, make_sessionmaker

            r = redis.Redis.from_url(settings.redis_url)
            sm = make_sessionmaker(make_engine(settings.effective_database_url()))
            summary = write_segment(settings, r, sm, "w", start_ms, start_ms + 2000)
            code = 0 if summary["status"] == "written" else 2
        except OSError:
            code = 3
        except BaseException:
            code = 4
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_failed_write_leaves_nothing_and_the_retry_indexes_it(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    import cv2
    import numpy as np

    start_ms = (int(time.time()) - 30) * 1000
    for i in range(20):
        img = np.random.default_rng(i).integers(0, 255, (240, 320, 3), np.uint8)
        f = Frame(Codec.JPEG, True, i, start_ms * 1_000_000 + i * 66_000_000, 320, 240,
                  cv2.imencode(".jpg", img)[1].tobytes())
        rclient.xadd(keys.frames_stream("w"), streams.to_fields(f), id=f"{start_ms + 10 + i * 50}-*")  # type: ignore[arg-type]
    assert _write_in_child(settings, start_ms, limit=20_000) == 3  # the write failed with an OSError
    assert segment_rows(sessions) == []
    assert mp4_files(settings) == set() and partial_files(settings) == []
    assert _write_in_child(settings, start_ms, limit=None) == 0  # the retry, with room again
    rows = segment_rows(sessions)
    assert [r.frames for r in rows] == [20] and mp4_files(settings) == {rows[0].path}
    assert ms(rows[0].start) >= start_ms


def test_a_segment_job_makes_room_before_it_writes(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    old = [fake_segment(settings, sessions, "w", NOW - timedelta(hours=3 - i)) for i in range(3)]
    # A floor above what this disk can ever offer: everything deletable goes before the write.
    s = settings.model_copy(update={"min_free_bytes": disk.free_bytes(settings.data_dir) + (1 << 40)})
    start_ms = (int(time.time()) - 30) * 1000
    f = Frame(Codec.JPEG, True, 0, start_ms * 1_000_000, 64, 48, make_jpeg())
    rclient.xadd(keys.frames_stream("w"), streams.to_fields(f), id=f"{start_ms + 10}-*")  # type: ignore[arg-type]
    summary = write_segment(s, rclient, sessions, "w", start_ms, start_ms + 2000)
    assert summary["status"] == "written"
    assert [r.path for r in segment_rows(sessions)] == [summary["path"]]
    assert not any((s.data_dir / r.path).exists() for r in old)
    assert metric(rclient, "vigil_recorder_retention_deleted_total", kind="segment", reason="free_space") == 3


def test_a_late_indexed_segment_behind_the_motion_cursor_is_still_aged_out(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    from vigil_recorder.retention.duty import CURSOR_KEY, FULL_RESCAN_KEY

    s = settings.model_copy(update={"retention_days": 3, "retention_motion_days": 10})
    now = datetime.now(UTC)
    run_pass(s, sessions, rclient, now=now)  # sets the cursor to now - 3 days
    assert rclient.get(CURSOR_KEY) is not None
    late = fake_segment(s, sessions, "a", now - 5 * DAY)  # indexed after that pass, no motion
    run_pass(s, sessions, rclient, now=now)  # same day: the cursor hides it
    assert late.path in {r.path for r in segment_rows(sessions)}
    rclient.delete(FULL_RESCAN_KEY)  # a day later
    run_pass(s, sessions, rclient, now=now)
    assert late.path not in {r.path for r in segment_rows(sessions)}
