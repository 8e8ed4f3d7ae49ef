"""record_segment against real Redis and PostgreSQL: frames XADDed to a camera's stream,
one MP4 written crash-safely and indexed."""


from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
import redis
from av.video.frame import VideoFrame
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract import keys, streams
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Segment
from vigil_common.runtime.counters import sample_name
from vigil_common.runtime.settings import Settings
from vigil_recorder import context
from vigil_recorder.jobs import record_segment
from vigil_recorder.media import mp4meta
from vigil_recorder.segment.writer import read_window, write_segment

pytestmark = pytest.mark.integration

CAM = "cam-1"
WINDOW_START = 1_700_000_000_000  # ms, the arrival window [start, start + 2 s)
WINDOW_END = WINDOW_START + 2_000
T0 = WINDOW_START * 1_000_000 - 150_000_000  # capture times run a little before arrival
GAP = 66_666_667


def jpeg(width: int = 320, height: int = 240, i: int = 0) -> bytes:
    img = np.zeros((height, width, 3), np.uint8)
    img[:, : (i * 11) % width] = 220
    img[..., 2] = (np.arange(height)[:, None] + i * 5) % 256
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def frame(seq: int, width: int = 320, height: int = 240, payload: bytes | None = None, t: int | None = None) -> Frame:
    return Frame(
        Codec.JPEG,
        True,
        seq,
        T0 + seq * GAP if t is None else t,
        width,
        height,
        payload if payload is not None else jpeg(width, height, seq),
    )


def xadd(client: redis.Redis, frames: list[Frame], arrival_ms: list[int] | None = None, cam: str = CAM) -> None:
    """Append frames with explicit ids (ingest uses ``*``; explicit ids pin the arrival time)."""
    key = keys.frames_stream(cam)
    arrivals = arrival_ms if arrival_ms is not None else [WINDOW_START + 10 + i * 60 for i in range(len(frames))]
    pipe = client.pipeline()
    # Stream ids only grow: add in arrival order (stable, so equal arrivals keep list order).
    for ms, f in sorted(zip(arrivals, frames, strict=True), key=lambda p: p[0]):
        pipe.xadd(key, streams.to_fields(f), id=f"{ms}-*")
    pipe.execute()


def rows(sessions: sessionmaker[Session]) -> list[Segment]:
    with sessions() as s:
        return list(s.execute(select(Segment).order_by(Segment.start)).scalars())


def decode(path: Path) -> tuple[Any, list[VideoFrame], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f for f in container.decode(stream) if isinstance(f, VideoFrame)]
        assert stream.duration is not None and stream.time_base is not None
        return stream.codec_context, frames, float(stream.duration * stream.time_base)


def run(settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]) -> dict[str, Any]:
    return write_segment(settings, client, sessions, CAM, WINDOW_START, WINDOW_END)


def assert_playable(settings: Settings, row: Segment) -> list[VideoFrame]:
    path = settings.data_dir / row.path
    assert path.is_file()
    assert path.resolve().is_relative_to((settings.data_dir / "recordings").resolve())
    assert not Path(row.path).is_absolute()
    cc, frames, duration = decode(path)
    assert cc.name == "h264"
    assert frames and all(f.format.name == "yuv420p" for f in frames)
    assert len(frames) == row.frames
    assert duration == pytest.approx(row.duration_s, abs=0.01)
    assert (frames[0].width, frames[0].height) == (row.width, row.height)
    assert row.bytes == path.stat().st_size
    assert row.codec == "h264"
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no partial left
    return frames


def test_window_written_and_indexed(settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]) -> None:
    inside = [frame(i) for i in range(30)]
    outside = [frame(100), frame(101)]  # arrived just before and just after: must not be read
    arrivals = [WINDOW_START + 10 + i * 60 for i in range(30)] + [WINDOW_START - 1, WINDOW_END]
    xadd(client, inside + outside, arrival_ms=arrivals)
    result = run(settings, client, sessions)
    assert result["status"] == "written" and result["frames"] == 30
    [row] = rows(sessions)
    assert row.camera_id == CAM
    assert row.start.timestamp() == pytest.approx(T0 / 1e9, abs=1e-6)
    assert row.end.timestamp() == pytest.approx((T0 + 30 * GAP) / 1e9, abs=1e-5)
    assert row.duration_s == pytest.approx(2.0, abs=1e-3)
    assert (row.width, row.height) == (320, 240)
    assert row.path == result["path"]
    assert row.path.startswith(f"recordings/{CAM}/2023-11-14/{CAM}_20231114T221320Z_{WINDOW_START}")
    assert_playable(settings, row)


def test_rerun_is_idempotent(settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]) -> None:
    xadd(client, [frame(i) for i in range(10)])
    first = run(settings, client, sessions)
    path = settings.data_dir / first["path"]
    before = (path.read_bytes(), path.stat().st_ino)
    second = run(settings, client, sessions)
    assert second["status"] == "exists"
    assert second["path"] == first["path"] and second["frames"] == first["frames"]
    assert (path.read_bytes(), path.stat().st_ino) == before  # not rewritten
    [row] = rows(sessions)
    assert_playable(settings, row)


def test_empty_window(settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]) -> None:
    xadd(client, [frame(1)], arrival_ms=[WINDOW_END + 5])
    assert run(settings, client, sessions)["status"] == "empty"
    assert rows(sessions) == []
    assert [p for p in settings.data_dir.rglob("*") if p.is_file()] == []


def test_only_corrupt_frames_is_empty(settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]) -> None:
    xadd(client, [frame(i, payload=b"\xff\xd8 broken \xff\xd9") for i in range(3)])
    result = run(settings, client, sessions)
    assert result["status"] == "empty" and result["entries"] == 3
    assert rows(sessions) == []
    assert [p for p in settings.data_dir.rglob("*") if p.is_file()] == []


def test_corrupt_jpeg_among_good_frames(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    frames = [frame(i) for i in range(12)]
    frames[5] = frame(5, payload=jpeg()[:200])  # truncated, no EOI: undecodable
    frames[8] = frame(8, payload=b"\x00" * 500)
    xadd(client, frames)
    result = run(settings, client, sessions)
    assert result["status"] == "written" and result["decode_errors"] >= 1
    [row] = rows(sessions)
    assert row.frames == 12 - result["decode_errors"]
    assert_playable(settings, row)


def test_out_of_order_and_duplicate_frames(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    ordered = [frame(i) for i in range(15)]
    shuffled = ordered[::2][::-1] + ordered[1::2] + ordered[:4]  # arrival order scrambled, 4 duplicates
    xadd(client, shuffled)
    result = run(settings, client, sessions)
    assert result["duplicates"] == 4
    [row] = rows(sessions)
    assert row.frames == 15
    decoded = assert_playable(settings, row)
    pts = [f.pts or 0 for f in decoded]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    assert row.start.timestamp() == pytest.approx(T0 / 1e9, abs=1e-6)


def test_mixed_sizes_scaled_to_first(settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]) -> None:
    frames = [frame(i) for i in range(5)] + [frame(5 + i, 640, 360) for i in range(5)] + [frame(10, 161, 121)]
    xadd(client, frames)
    run(settings, client, sessions)
    [row] = rows(sessions)
    decoded = assert_playable(settings, row)
    assert {(f.width, f.height) for f in decoded} == {(320, 240)}
    assert row.frames == 11


def test_h264_passthrough(settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]) -> None:
    enc = av.CodecContext.create("libx264", "w")
    assert isinstance(enc, av.video.codeccontext.VideoCodecContext)
    enc.width, enc.height, enc.pix_fmt = 320, 240, "yuv420p"
    enc.time_base, enc.gop_size = Fraction(1, 15), 15
    enc.options = {"preset": "ultrafast", "tune": "zerolatency"}
    aus: list[bytes] = []
    for i in range(30):
        rgb = np.zeros((240, 320, 3), np.uint8)
        rgb[:, : (i * 9) % 320] = 200
        pic = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        pic.pts = i
        aus += [bytes(p) for p in enc.encode(pic)]
    aus += [bytes(p) for p in enc.encode(None)]
    frames = [Frame(Codec.H264, i % 15 == 0, i, T0 + i * GAP, 320, 240, au) for i, au in enumerate(aus)]
    xadd(client, frames[2:])  # starts mid-GOP: the 13 frames before the next IDR close the previous segment
    result = run(settings, client, sessions)
    assert result["source_codec"] == "h264" and result["carried"] == 13 and result["skipped"] == 0
    [row] = rows(sessions)
    assert row.frames == 15
    assert_playable(settings, row)


def test_index_failure_raises_keeps_file_and_retry_indexes_it(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    xadd(client, [frame(i) for i in range(10)])
    down = make_sessionmaker(make_engine("postgresql://postgres@127.0.0.1:1/none", pool_pre_ping=False))
    with pytest.raises(Exception):  # noqa: B017 - any DB error must propagate for RQ to retry
        write_segment(settings, client, down, CAM, WINDOW_START, WINDOW_END)
    files = [p for p in settings.data_dir.rglob("*.mp4")]
    assert len(files) == 1 and mp4meta.read_meta(files[0]) is not None
    assert rows(sessions) == []
    client.delete(keys.frames_stream(CAM))  # the retry comes after the stream was trimmed
    result = run(settings, client, sessions)
    assert result["status"] == "exists" and result["frames"] == 10
    [row] = rows(sessions)
    assert_playable(settings, row)


def test_read_window_pages_and_bounds(settings: Settings, client: redis.Redis) -> None:
    frames = [frame(i, payload=b"p") for i in range(7)]
    arrivals = [
        WINDOW_START - 1,
        WINDOW_START,
        WINDOW_START,
        WINDOW_START + 500,
        WINDOW_END - 1,
        WINDOW_END - 1,
        WINDOW_END,
    ]
    xadd(client, frames, arrival_ms=arrivals)
    entries = read_window(client, CAM, WINDOW_START, WINDOW_END, page=2)
    assert [streams.from_fields(f).seq for _id, f in entries] == [1, 2, 3, 4, 5]


def test_record_segment_builds_its_context_from_the_environment(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "VIGIL_REDIS_URL": settings.redis_url,
        "VIGIL_DATABASE_URL": settings.database_url,
        "VIGIL_DATA_DIR": str(settings.data_dir),
        "VIGIL_TIMEZONE": "America/New_York",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(settings.data_dir.parent)  # no stray .env
    xadd(client, [frame(i) for i in range(5)])
    context.reset_context()
    try:
        result = record_segment(CAM, WINDOW_START, WINDOW_END)
        assert context.get_context() is context.get_context()  # cached in this process
    finally:
        context.reset_context()
    assert result["status"] == "written"
    [row] = rows(sessions)
    assert "/2023-11-14/" in row.path  # 17:13 in New York
    counters = client.hgetall(keys.metrics_hash("recorder"))
    assert counters[sample_name("vigil_recorder_frames_total", camera=CAM).encode()] == b"5"
    [write_time] = [k for k in counters if b"vigil_recorder_segment_write_seconds" in k and b"sum_us" in k]
    assert int(counters[write_time]) > 0
    assert_playable(settings, row)
    with pytest.raises(ValueError):
        record_segment("../etc", WINDOW_START, WINDOW_END)


def test_work_horses_reuse_the_context_the_worker_prepared(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A forked work horse takes its settings, engine and Redis client from the worker (built
    once, before the fork), not from the environment again for every job, and connects its own."""
    import os

    from sqlalchemy import text

    monkeypatch.setenv("VIGIL_DATA_DIR", "/nonexistent/read-from-the-environment")
    context.reset_context()
    context.prepare(settings)
    parent = context.get_context()
    parent.redis.ping()  # the worker's own connection, which the horse must not use
    try:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the work horse
            code = 1
            try:
                ctx = context.get_context()
                assert ctx.pid == os.getpid() and ctx.engine is parent.engine and ctx.redis is parent.redis
                assert ctx.redis.ping()
                with ctx.sessions() as db:
                    assert db.execute(text("SELECT 1")).scalar() == 1
                os.write(w, str(ctx.settings.data_dir).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        got = os.read(r, 4096).decode()
        os.close(r)
        _, status = os.waitpid(pid, 0)
        assert parent.redis.ping()  # the worker's connection survived the horse
    finally:
        context.reset_context()
    assert os.waitstatus_to_exitcode(status) == 0
    assert got == str(settings.data_dir)
