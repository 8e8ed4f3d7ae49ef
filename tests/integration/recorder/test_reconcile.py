"""The reconciler against real PostgreSQL, Redis and files."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import av
import pytest
import redis
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.retention import (
    age_file,
    fake_segment,
    mp4_files,
    ms,
    partial_files,
    real_segment,
    segment_rows,
)
from vigil_common.contract import keys
from vigil_common.db.models import Segment
from vigil_common.runtime.counters import sample_name
from vigil_common.runtime.settings import Settings
from vigil_recorder.duties import DutyContext, DutyRunner
from vigil_recorder.reconcile import duty as rc
from vigil_recorder.storage import paths as storage
from vigil_recorder.storage.figures import STORAGE_KEY

pytestmark = pytest.mark.integration

LATER = 10.0  # seconds: "now" for runs that should remember directories as clean


def test_orphans_partials_missing_files_and_marked_rows(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    base = ms(datetime.now(UTC).replace(microsecond=0)) - 600_000
    orphan_a, row_a = real_segment(settings, "cam", base, n=5)
    _, row_b = real_segment(settings, "cam", base + 2000, n=7)
    indexed = fake_segment(settings, sessions, "cam", datetime.fromtimestamp((base + 4000) / 1000, UTC))
    gone = fake_segment(settings, sessions, "cam", datetime.fromtimestamp((base + 6000) / 1000, UTC))
    (settings.data_dir / gone.path).unlink()
    marked = fake_segment(settings, sessions, "cam", datetime.fromtimestamp((base + 8000) / 1000, UTC))
    with sessions.begin() as s:
        s.execute(update(Segment).where(Segment.path == marked.path).values(deleting=True))
    day_dir = orphan_a.parent
    junk = day_dir / "cam_junk.mp4"
    junk.write_bytes(b"not an mp4")
    stale = storage.partial_path(day_dir / "x.mp4")
    stale.write_bytes(b"half")
    age_file(stale, 3600)
    fresh = storage.partial_path(day_dir / "y.mp4")
    fresh.write_bytes(b"half")

    report = rc.reconcile(settings, sessions, rclient, partial_age_s=600)

    r = report.result
    assert (r.indexed, r.dropped, r.partials_removed, r.unindexable, report.finished) == (2, 1, 1, 1, 1)
    assert report.full and report.complete
    rows = {x.path: x for x in segment_rows(sessions)}
    assert set(rows) == {row_a.path, row_b.path, indexed.path}
    assert mp4_files(settings) == set(rows) | {junk.relative_to(settings.data_dir).as_posix()}
    for row, n in ((row_a, 5), (row_b, 7)):
        assert rows[row.path].frames == n and rows[row.path].start == row.start
        with av.open(str(settings.data_dir / row.path)) as c:
            assert sum(1 for _ in c.decode(video=0)) == n
    assert partial_files(settings) == [fresh]
    hincr = rclient.hgetall(keys.metrics_hash("recorder"))
    assert hincr[sample_name("vigil_recorder_reconcile_indexed_total").encode()] == b"2"
    assert hincr[sample_name("vigil_recorder_reconcile_dropped_total").encode()] == b"1"
    disk_bytes = int(rclient.hget(STORAGE_KEY, "bytes_disk") or 0)
    assert disk_bytes == sum(p.stat().st_size for p in day_dir.glob("*.mp4"))

    # Idempotent: again, nothing to do (the young partial keeps the directory "unsettled").
    again = rc.reconcile(settings, sessions, rclient, partial_age_s=600)
    assert (again.result.indexed, again.result.dropped, again.checked) == (0, 0, 1)


def test_unchanged_directories_are_not_read_again(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    base = ms(datetime.now(UTC)) - 3 * 86_400_000
    for k in range(3):  # three day directories
        real_segment(settings, "cam", base + k * 86_400_000)
    later = time.time() + LATER
    first = rc.reconcile(settings, sessions, rclient, now=later)
    assert (first.checked, first.result.indexed, first.full) == (3, 3, True)
    second = rc.reconcile(settings, sessions, rclient, now=later)
    assert (second.checked, second.skipped, second.full) == (0, 3, False)
    assert second.bytes_disk == first.bytes_disk
    # A new orphan changes its directory's mtime: only that directory is read.
    _, row = real_segment(settings, "cam", base + 2 * 86_400_000 + 60_000)
    third = rc.reconcile(settings, sessions, rclient, now=later + 1)
    assert (third.checked, third.skipped, third.result.indexed) == (1, 2, 1)
    assert row.path in {r.path for r in segment_rows(sessions)}


def test_a_vanished_directory_and_index_only_days(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    now = datetime.now(UTC)
    keep = fake_segment(settings, sessions, "cam", now - timedelta(minutes=5))
    lost = fake_segment(settings, sessions, "cam", now - timedelta(days=3))
    rc.reconcile(settings, sessions, rclient, now=time.time() + LATER)  # both directories remembered
    lost_dir = (settings.data_dir / lost.path).parent
    (settings.data_dir / lost.path).unlink()
    lost_dir.rmdir()
    report = rc.reconcile(settings, sessions, rclient, full=False)  # vanished since last seen
    assert report.result.dropped == 1
    assert [r.path for r in segment_rows(sessions)] == [keep.path]
    # A row for a day whose directory was never seen: only the full sweep looks there.
    ghost = fake_segment(settings, sessions, "cam", now - timedelta(days=2))
    (settings.data_dir / ghost.path).unlink()
    (settings.data_dir / ghost.path).parent.rmdir()
    assert rc.reconcile(settings, sessions, rclient, full=False).result.dropped == 0
    assert rc.reconcile(settings, sessions, rclient, full=True).result.dropped == 1
    assert [r.path for r in segment_rows(sessions)] == [keep.path]


def test_no_row_is_dropped_while_the_disk_looks_unmounted(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    row = fake_segment(settings, sessions, "cam", datetime.now(UTC) - timedelta(hours=1))
    moved = settings.data_dir.parent / "elsewhere"
    settings.recordings_dir.rename(moved)
    report = rc.reconcile(settings, sessions, rclient, full=True)
    assert report.result.dropped == 0
    assert [r.path for r in segment_rows(sessions)] == [row.path]


def test_the_duty_runs_at_once_and_continues_an_unfinished_sweep(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ms(datetime.now(UTC)) - 5 * 86_400_000
    for k in range(3):
        real_segment(settings, "cam", base + k * 86_400_000)
    monkeypatch.setattr(rc, "BUDGET_S", 0.0)  # one directory per run
    ctx = DutyContext(settings, rclient, sessions, lambda *a: None)
    runner = DutyRunner(ctx, rc.duties(settings))
    assert runner.run_due(now=0.0) == ["reconcile"]
    assert len(segment_rows(sessions)) == 1
    runs = 1
    while len(segment_rows(sessions)) < 3 or runner.duties[0].next_at - time.monotonic() < 10:
        time.sleep(0.2)
        runs += len(runner.run_due())
        assert runs < 20, "the sweep does not continue"
    assert runs >= 3  # one directory per run, each run soon after the last (not after 300 s)
