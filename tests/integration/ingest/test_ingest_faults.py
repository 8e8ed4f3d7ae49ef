"""Ingest under faults: Redis losing its data, failed enqueues, rows the database refuses."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import redis
from rq import Queue
from sqlalchemy import select

from tests.helpers import heartbeat_doc, wait_for
from vigil_common.contract import keys
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.contract.messages import Heartbeat
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Camera
from vigil_common.runtime.counters import Counters
from vigil_common.runtime.settings import Settings
from vigil_ingest.redis_writer import StreamWriter
from vigil_ingest.registry import Registry
from vigil_ingest.window_closer import WindowCloser

pytestmark = pytest.mark.integration


def frame(seq: int) -> Frame:
    return Frame(Codec.JPEG, True, seq, time.time_ns(), 8, 8, b"\xff\xd8jpeg\xff\xd9")


def test_every_frame_marks_its_window_even_after_redis_lost_its_data(settings: Settings) -> None:
    r = redis.Redis.from_url(settings.redis_url)
    writer = StreamWriter(r, Counters(), segment_seconds=60, buffer_s=120)
    writer.start()
    try:
        writer.submit("cam", frame(1))
        wait_for(lambda: r.zcard(keys.PENDING_WINDOWS) >= 1)
        r.flushdb()  # a Redis restart without persistence
        writer.submit("cam", frame(2))  # very likely the same 60 s window as frame 1
        wait_for(lambda: r.xlen(keys.frames_stream("cam")) == 1)
        marked = {m.decode(): int(end) for m, end in r.zrange(keys.PENDING_WINDOWS, 0, -1, withscores=True)}
        entry_id = r.xrange(keys.frames_stream("cam"))[0][0]
        start = int(entry_id.split(b"-")[0]) // 60_000 * 60_000
        # The entry's window is marked (a neighbour may be too, within a second of an edge).
        assert marked[keys.window_member("cam", start)] == start + 60_000
        assert len(marked) <= 2
        # Streams of cameras that go quiet expire instead of holding their last buffer forever.
        assert 0 < r.pttl(keys.frames_stream("cam")) <= (120 + 120) * 1000
    finally:
        writer.stop()


def test_a_failed_enqueue_releases_the_window_for_the_next_pass(settings: Settings,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil_ingest import window_closer

    r = redis.Redis.from_url(settings.redis_url)
    closer = WindowCloser(r, Counters(), segment_seconds=2, grace_s=0)
    member = keys.window_member("cam", 1_000)
    r.zadd(keys.PENDING_WINDOWS, {member: 3_000})
    real_enqueue = window_closer.enqueue_segment
    calls = {"n": 0}

    def failing_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise redis.ConnectionError("injected: Redis went away mid-enqueue")
        return real_enqueue(*args, **kwargs)

    monkeypatch.setattr(window_closer, "enqueue_segment", failing_once)
    with pytest.raises(redis.ConnectionError):
        closer.close_due()
    assert r.zscore(keys.PENDING_WINDOWS, member) is not None
    assert not r.exists(keys.window_claim(member))  # released at once, not after a TTL
    [window] = closer.close_due()
    assert (window.start_ms, window.end_ms) == (1_000, 3_000)  # the stored end, not recomputed
    assert Queue(keys.RECORDER_QUEUE, connection=r).job_ids == ["seg-cam-1000"]
    assert r.zcard(keys.PENDING_WINDOWS) == 0


def test_a_row_the_database_refuses_does_not_block_other_cameras(settings: Settings) -> None:
    factory = make_sessionmaker(make_engine(settings.effective_database_url()))
    registry = Registry(factory)
    good = Heartbeat.model_validate(heartbeat_doc("good"))
    # Bypass validation to get a value PostgreSQL refuses (NUL in text), as a future bug might.
    bad = Heartbeat.model_construct(**{**good.model_dump(), "camera_id": "bad", "name": "a\x00b"})
    registry.heartbeat(bad)
    registry.heartbeat(good)
    registry.flush()
    with factory() as db:
        assert set(db.scalars(select(Camera.id))) == {"good"}
    registry.heartbeat(Heartbeat.model_validate(heartbeat_doc("good", name="Renamed")))
    registry.flush()  # the refused row was dropped, not retried forever
    with factory() as db:
        assert db.get(Camera, "good").name == "Renamed"  # type: ignore[union-attr]
    assert datetime.now(UTC)  # keeps the import honest


def test_state_transitions_are_recorded_for_the_timeline(settings: Settings) -> None:
    from vigil_common.db.models import CameraEvent

    factory = make_sessionmaker(make_engine(settings.effective_database_url()))
    registry = Registry(factory)
    for streaming in (True, True, False):
        registry.heartbeat(Heartbeat.model_validate(heartbeat_doc("cam", streaming=streaming)))
        registry.flush()
    registry.status("cam", "offline")
    registry.flush()
    registry.heartbeat(Heartbeat.model_validate(heartbeat_doc("cam", streaming=True)))
    registry.flush()
    with factory() as db:
        query = select(CameraEvent.kind).where(CameraEvent.camera_id == "cam").order_by(CameraEvent.id)
        kinds = list(db.scalars(query))
    assert kinds == ["online", "streaming", "stopped", "offline", "online", "streaming"]


def test_an_error_reply_fails_the_batch_cleanly_and_the_retry_writes_it(settings: Settings) -> None:
    """A command Redis refuses (here: the stream's key holds a string) fails its batch; the
    connection is dropped rather than left with unread replies, the frames are retried, and they
    land once the key is usable again. Other cameras in the same batch are written too."""
    r = redis.Redis.from_url(settings.redis_url)
    r.set(keys.frames_stream("bad"), b"not a stream")
    writer = StreamWriter(r, Counters(), segment_seconds=60, buffer_s=120)
    writer.submit("bad", frame(1))  # queued before the thread starts: one batch
    writer.submit("good", frame(2))
    writer.start()
    try:
        wait_for(lambda: not writer.healthy)
        assert r.xlen(keys.frames_stream("good")) >= 1  # its XADD ran before the batch failed
        r.delete(keys.frames_stream("bad"))
        wait_for(lambda: r.xlen(keys.frames_stream("bad")) == 1, timeout=15)
        wait_for(lambda: writer.healthy)
        entry = r.xrange(keys.frames_stream("bad"))[0][1]
        assert entry[keys.F_SEQ] == b"1" and entry[keys.F_DATA] == b"\xff\xd8jpeg\xff\xd9"
        # A retried batch may add an entry twice (documented; the recorder drops repeats).
        assert 1 <= r.xlen(keys.frames_stream("good")) <= 2
        assert r.ping()  # the client's connections are usable: no reply was left unread
    finally:
        writer.stop()
