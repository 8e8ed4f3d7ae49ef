"""A window whose frames Redis already trimmed is reported as a gap, not silently skipped."""

from __future__ import annotations

import time

import pytest
import redis

from vigil_common.contract import keys, streams
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.runtime.settings import Settings
from vigil_recorder.segment.writer import write_segment

pytestmark = pytest.mark.integration


def test_trimmed_window_is_reported_expired(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    r = redis.Redis.from_url(settings.redis_url)
    factory = make_sessionmaker(make_engine(settings.effective_database_url()))
    frame = Frame(Codec.JPEG, True, 1, time.time_ns(), 8, 8, b"\xff\xd8x\xff\xd9")
    stream = keys.frames_stream("cam")
    now_ms = int(time.time() * 1000)
    old = now_ms - 600_000  # ten minutes ago
    for ms in (old + 100, old + 200, now_ms):
        r.xadd(stream, streams.to_fields(frame), id=f"{ms}-0")  # type: ignore[arg-type]
    r.xtrim(stream, minid=now_ms - 120_000, approximate=False)  # what ingest's MINID trimming does
    summary = write_segment(settings, r, factory, "cam", old, old + 10_000)
    assert summary["status"] == "expired"
    assert "expired from the Redis buffer" in caplog.text
    # A window that simply had nothing (no stream at all) stays "empty".
    assert write_segment(settings, r, factory, "other", old, old + 10_000)["status"] == "empty"


def test_expired_window_leaves_a_recording_lost_event(settings: Settings) -> None:
    from sqlalchemy import select

    from vigil_common.db.models import CameraEvent

    r = redis.Redis.from_url(settings.redis_url)
    factory = make_sessionmaker(make_engine(settings.effective_database_url()))
    stream = keys.frames_stream("cam")
    now_ms = int(time.time() * 1000)
    frame = Frame(Codec.JPEG, True, 1, time.time_ns(), 8, 8, b"\xff\xd8x\xff\xd9")
    for ms in (now_ms - 500_000, now_ms):
        r.xadd(stream, streams.to_fields(frame), id=f"{ms}-0")  # type: ignore[arg-type]
    r.xtrim(stream, minid=now_ms - 1000, approximate=False)
    assert write_segment(settings, r, factory, "cam", now_ms - 500_000, now_ms - 490_000)["status"] == "expired"
    with factory() as db:
        assert list(db.scalars(select(CameraEvent.kind))) == ["recording_lost"]
