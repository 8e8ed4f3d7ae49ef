"""Exports against real Redis, PostgreSQL and files: ``build_export`` / the RQ job cut a range
across segments by remux, decoded back with PyAV."""


from __future__ import annotations

from typing import Any

import pytest
import redis
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.days import (
    S,
    assert_faststart,
    decode,
    gop_segment,
    ns_of,
    record_window,
    run_burst_worker,
    utc,
)
from vigil_common.contract import keys, recorder_jobs
from vigil_common.contract.days import ns_to_datetime
from vigil_common.contract.exports import new_export_id
from vigil_common.db.models import Export
from vigil_common.runtime.settings import Settings
from vigil_recorder.exports import build as exports
from vigil_recorder.media import mp4meta

pytestmark = pytest.mark.integration

CAM = "drive"
T = ns_of(utc(2024, 6, 1, 12))
GOP = 10  # frames (1 s at 10 fps)
B_FRAME_SLACK = 4  # x264's B-frames: a reference shown just after the end may come along


def add_export(sessions: sessionmaker[Session], start_ns: int, end_ns: int, cam: str = CAM) -> str:
    eid = new_export_id()
    with sessions.begin() as db:
        db.add(Export(id=eid, camera_id=cam, start=ns_to_datetime(start_ns), end=ns_to_datetime(end_ns)))
    return eid


def export_row(sessions: sessionmaker[Session], eid: str) -> Export:
    with sessions() as db:
        row = db.get(Export, eid)
    assert row is not None
    return row


@pytest.fixture
def three_gop_segments(settings: Settings, sessions: sessionmaker[Session]) -> None:
    """Frames 0..89 at 10 fps from T, in three back-to-back segments of 3 s (GOPs of 1 s)."""
    for k in range(3):
        gop_segment(settings, sessions, CAM, T + k * 3 * S, 30, gop=GOP, first_number=30 * k)


def test_export_starts_at_the_keyframe_before_start_and_covers_the_range(
    settings: Settings, sessions: sessionmaker[Session], three_gop_segments: None
) -> None:
    start, end = T + int(1.45 * S), T + int(7.25 * S)  # frames 14.5 .. 72.5
    eid = add_export(sessions, start, end)
    summary = exports.build_export(settings, sessions, eid)
    assert summary["status"] == "done" and summary["segments"] == 3
    row = export_row(sessions, eid)
    path = settings.data_dir / "exports" / f"{eid}.mp4"
    assert (row.status, row.progress, row.path, row.bytes) == ("done", 1.0, f"exports/{eid}.mp4", path.stat().st_size)
    assert row.finished_at is not None and row.error is None
    out = decode(path)
    first, last = out.numbers[0], out.numbers[-1]
    assert first == 10  # the keyframe at or before the start: within one GOP
    assert out.numbers == list(range(first, last + 1))  # nothing missing, in order
    assert 72 <= last <= 72 + B_FRAME_SLACK  # every frame shown before the end
    assert out.pts_s[0] == 0.0
    for pts, n in zip(out.pts_s, out.numbers, strict=True):
        assert pts == pytest.approx((n - first) * 0.1, abs=0.001)  # time 0 = the first frame
    assert_faststart(path)
    meta = mp4meta.read_meta(path)
    assert meta is not None and meta["origin_ns"] == T + 1 * S and meta["start_ns"] == start
    # A second run of the same job does nothing.
    inode = path.stat().st_ino
    assert exports.build_export(settings, sessions, eid)["status"] == "done"
    assert path.stat().st_ino == inode


def test_start_on_a_keyframe_and_a_range_inside_one_segment(
    settings: Settings, sessions: sessionmaker[Session], three_gop_segments: None
) -> None:
    eid = add_export(sessions, T + 4 * S, T + int(4.55 * S))  # frames 40 .. 45
    exports.build_export(settings, sessions, eid)
    out = decode(settings.data_dir / f"exports/{eid}.mp4")
    assert out.numbers[0] == 40 and 45 <= out.numbers[-1] <= 45 + B_FRAME_SLACK


def test_recorded_segments_cut_at_the_keyframe_before_start(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    """Segments recorded from JPEG frames (a keyframe every 2 s, so one per 20-frame segment):
    the cut starts at the keyframe at or before ``start``, and reaches past ``end``."""
    record_window(settings, client, sessions, CAM, T, 20, first_number=0)
    record_window(settings, client, sessions, CAM, T + 2 * S, 20, first_number=20)
    eid = add_export(sessions, T + int(1.55 * S), T + int(2.55 * S))
    exports.build_export(settings, sessions, eid)
    out = decode(settings.data_dir / f"exports/{eid}.mp4")
    assert out.keyframes < len(out.numbers)  # real GOPs, not all-intra
    assert out.numbers[0] == 0  # the only keyframe at or before frame 15 is the segment's first
    assert out.numbers[-1] >= 25


def test_export_across_a_gap_keeps_real_time(settings: Settings, sessions: sessionmaker[Session]) -> None:
    gop_segment(settings, sessions, CAM, T, 30, gop=GOP, first_number=0)
    gop_segment(settings, sessions, CAM, T + 60 * S, 30, gop=GOP, first_number=100)
    eid = add_export(sessions, T + 2 * S, T + 61 * S)
    exports.build_export(settings, sessions, eid)
    out = decode(settings.data_dir / f"exports/{eid}.mp4")
    assert out.numbers[:10] == list(range(20, 30))
    later = out.numbers.index(100)
    assert out.pts_s[later] == pytest.approx(58.0, abs=0.001)  # the gap stays 57 s long (held picture)
    assert out.numbers[-1] >= 109


def test_no_footage_fails_with_a_reason(settings: Settings, sessions: sessionmaker[Session]) -> None:
    gop_segment(settings, sessions, CAM, T, 10)
    eid = add_export(sessions, T + 3600 * S, T + 3700 * S)
    assert exports.build_export(settings, sessions, eid)["status"] == "failed"
    row = export_row(sessions, eid)
    assert (row.status, row.error) == ("failed", "no recordings in that range")
    assert not (settings.data_dir / "exports" / f"{eid}.mp4").exists()


def test_missing_and_deleted_exports(
    settings: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert exports.build_export(settings, sessions, new_export_id())["status"] == "missing"
    with pytest.raises(ValueError):
        exports.build_export(settings, sessions, "../../etc/passwd")
    gop_segment(settings, sessions, CAM, T, 20)
    eid = add_export(sessions, T, T + 2 * S)
    real = exports.export_range

    def then_deleted(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        with sessions.begin() as db:  # a DELETE /exports/{id} while the job was writing
            db.execute(delete(Export).where(Export.id == eid))
        return result

    monkeypatch.setattr(exports, "export_range", then_deleted)
    assert exports.build_export(settings, sessions, eid)["status"] == "deleted"
    assert list((settings.data_dir / "exports").iterdir()) == []  # its file went with it


def test_export_job_runs_in_a_recorder_worker(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session], three_gop_segments: None
) -> None:
    eid = add_export(sessions, T + 2 * S, T + 5 * S)
    recorder_jobs.queue(client, keys.RECORDER_SLOW_QUEUE).enqueue(
        "vigil_recorder.exports.run_export", args=(eid,), job_id=f"export-{eid}")
    run_burst_worker(settings)
    row = export_row(sessions, eid)
    assert row.status == "done" and row.progress == 1.0
    out = decode(settings.data_dir / (row.path or ""))
    assert out.numbers[0] == 20 and 49 <= out.numbers[-1] <= 49 + B_FRAME_SLACK
