"""The segment index on embedded SQLite (what `vigil up` uses): idempotent inserts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path, PurePosixPath

import pytest
from sqlalchemy import func, select

from vigil_common.contract.days import ns_to_datetime
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Base, Segment
from vigil_recorder.segment.index import SegmentRow, insert_segment
from vigil_recorder.segment.writer import row_from_meta

T0 = 1_700_000_000_123_456_789


def test_ns_to_datetime_keeps_microseconds() -> None:
    dt = ns_to_datetime(T0)
    assert dt.tzinfo is not None
    assert dt.timestamp() == pytest.approx(1_700_000_000.123456, abs=1e-6)
    assert dt.microsecond == 123456


def test_row_from_meta_and_validation() -> None:
    meta = {"start_ns": T0, "end_ns": T0 + 2_000_000_000, "frames": 30, "width": 320, "height": 240}
    row = row_from_meta("cam", PurePosixPath("recordings/cam/d/x.mp4"), meta, 1234)
    assert row.duration_s == pytest.approx(2.0)
    assert (row.frames, row.bytes, row.codec, row.path) == (30, 1234, "h264", "recordings/cam/d/x.mp4")
    for broken in ({**meta, "frames": 0}, {**meta, "end_ns": T0}, {**meta, "width": "320"}, {"frames": 1}):
        with pytest.raises(ValueError):
            row_from_meta("cam", PurePosixPath("x.mp4"), broken, 1)


def test_insert_is_idempotent_on_camera_and_start(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'i.db'}")
    Base.metadata.create_all(engine)
    sessions = make_sessionmaker(engine)
    row = SegmentRow(
        camera_id="cam",
        start=ns_to_datetime(T0),
        end=ns_to_datetime(T0 + 10**9),
        duration_s=1.0,
        frames=15,
        bytes=100,
        width=320,
        height=240,
        codec="h264",
        path="recordings/cam/2023-11-14/a.mp4",
    )
    assert insert_segment(sessions, row) is True
    assert insert_segment(sessions, row) is True  # a retried job: nothing new, still ours
    assert insert_segment(sessions, replace(row, path="recordings/cam/2023-11-14/b.mp4")) is False
    assert insert_segment(sessions, replace(row, camera_id="cam2")) is True
    with sessions() as s:
        assert s.execute(select(func.count()).select_from(Segment)).scalar_one() == 2
    engine.dispose()
