"""H.264 windows recorded back to back against real Redis and PostgreSQL: every frame that went
in is in exactly one segment, segment n+1 starts where segment n ends, and every file decodes
to its indexed frame count (issue 14: remux only, no frame lost between segments)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import pytest
import redis
from av.video.frame import VideoFrame
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.days import frame_number, striped
from vigil_common.contract import keys, streams
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.db.models import Segment
from vigil_common.runtime.settings import Settings
from vigil_recorder.segment import h264_span
from vigil_recorder.segment.writer import write_segment

pytestmark = pytest.mark.integration

CAM = "gop-cam"
MS = 1_000_000
WINDOW_MS = 2_000
FPS = 10
GAP_MS = 1000 // FPS


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(settings.redis_url)
    c.delete(keys.frames_stream(CAM))
    yield c
    c.close()


def encode(count: int, first: int = 0, size: tuple[int, int] = (160, 128), gop: int = 7) -> list[bytes]:
    """``count`` access units (Annex B, SPS/PPS on every IDR, an IDR every ``gop`` frames, no
    B-frames) whose pictures spell their number ``first + i`` (see ``striped``)."""
    width, height = size
    enc = av.CodecContext.create("libx264", "w")
    assert isinstance(enc, av.video.codeccontext.VideoCodecContext)
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base, enc.framerate = Fraction(1, FPS), Fraction(FPS)
    enc.gop_size, enc.max_b_frames = gop, 0
    enc.options = {"preset": "ultrafast", "tune": "zerolatency", "keyint_min": str(gop), "sc_threshold": "0"}
    units: list[bytes] = []
    for i in range(count):
        picture = VideoFrame.from_ndarray(striped(first + i, width, height), format="bgr24").reformat(format="yuv420p")
        picture.pts = i
        units += [bytes(p) for p in enc.encode(picture)]
    units += [bytes(p) for p in enc.encode(None)]
    assert len(units) == count
    return units


def publish(client: redis.Redis, units: list[bytes], start_ms: int, first: int = 0,
            size: tuple[int, int] = (160, 128)) -> list[Frame]:
    """Frames numbered from ``first``, captured every 100 ms from ``start_ms`` and arriving 30 ms
    after capture (pinned stream ids)."""
    frames = []
    pipe = client.pipeline()
    for i, unit in enumerate(units):
        n = first + i
        capture_ms = start_ms + n * GAP_MS
        f = Frame(Codec.H264, b"\x00\x00\x01\x65" in unit or b"\x00\x00\x00\x01\x65" in unit, n, capture_ms * MS,
                  size[0], size[1], unit)
        frames.append(f)
        pipe.xadd(keys.frames_stream(CAM), streams.to_fields(f), id=f"{capture_ms + 30}-*")
    pipe.execute()
    return frames


def segments(sessions: sessionmaker[Session]) -> list[Segment]:
    with sessions() as db:
        return list(db.execute(select(Segment).where(Segment.camera_id == CAM).order_by(Segment.start)).scalars())


def numbers(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [frame_number(f) for f in container.decode(video=0) if isinstance(f, VideoFrame)]


def record(settings: Settings, client: redis.Redis, sessions: sessionmaker[Session], start_ms: int,
           windows: int) -> list[dict[str, object]]:
    return [write_segment(settings, client, sessions, CAM, start_ms + k * WINDOW_MS, start_ms + (k + 1) * WINDOW_MS)
            for k in range(windows)]


def test_windows_back_to_back_lose_no_frame(settings: Settings, client: redis.Redis,
                                           sessions: sessionmaker[Session]) -> None:
    start_ms = 1_700_000_000_000
    total = 5 * WINDOW_MS // GAP_MS  # 50 frames, keyframes every 7: never on a window boundary
    publish(client, encode(total), start_ms)
    summaries = record(settings, client, sessions, start_ms, 5)
    assert [s["status"] for s in summaries] == ["written"] * 5, summaries
    rows = segments(sessions)
    assert len(rows) == 5
    seen: list[int] = []
    for row in rows:
        got = numbers(settings.data_dir / row.path)
        assert len(got) == row.frames  # every indexed frame decodes
        seen += got
    assert seen == list(range(total))  # frames in = frames indexed, in order, none twice
    for a, b in itertools.pairwise(rows):
        assert a.end == b.start  # segment n+1 starts where segment n ends
    assert sum(int(str(s.get("tail", 0))) for s in summaries) > 0
    assert sum(int(str(s.get("carried", 0))) for s in summaries[1:]) == sum(
        int(str(s.get("tail", 0))) for s in summaries[:-1])


def test_resolution_change_starts_a_new_part(settings: Settings, client: redis.Redis,
                                             sessions: sessionmaker[Session]) -> None:
    start_ms = 1_700_000_100_000
    publish(client, encode(10), start_ms)
    publish(client, encode(10, first=10, size=(192, 144)), start_ms, first=10, size=(192, 144))
    [summary] = record(settings, client, sessions, start_ms, 1)
    assert summary["status"] == "written" and summary["parts"] == 2, summary
    rows = segments(sessions)
    assert [(r.width, r.height) for r in rows] == [(160, 128), (192, 144)]
    assert rows[1].path.endswith("_p1.mp4")
    assert [numbers(settings.data_dir / r.path) for r in rows] == [list(range(10)), list(range(10, 20))]
    # A retry finds both parts and indexes nothing twice.
    assert write_segment(settings, client, sessions, CAM, start_ms, start_ms + WINDOW_MS)["status"] == "exists"
    assert len(segments(sessions)) == 2


def test_camera_switching_codec_never_mixes_a_file(settings: Settings, client: redis.Redis,
                                                   sessions: sessionmaker[Session]) -> None:
    import cv2

    start_ms = 1_700_000_200_000
    pipe = client.pipeline()
    for n in range(8):  # JPEG first
        jpeg = cv2.imencode(".jpg", striped(n, 160, 128))[1].tobytes()
        f = Frame(Codec.JPEG, True, n, (start_ms + n * GAP_MS) * MS, 160, 128, jpeg)
        pipe.xadd(keys.frames_stream(CAM), streams.to_fields(f), id=f"{start_ms + n * GAP_MS + 30}-*")
    pipe.execute()
    publish(client, encode(12, first=8), start_ms, first=8)
    [summary] = record(settings, client, sessions, start_ms, 1)
    assert summary["status"] == "written" and summary["parts"] == 2, summary
    rows = segments(sessions)
    assert [r.frames for r in rows] == [8, 12]
    assert numbers(settings.data_dir / rows[1].path) == list(range(8, 20))


def test_waits_for_the_next_keyframe_while_the_camera_streams(settings: Settings, client: redis.Redis,
                                                             sessions: sessionmaker[Session]) -> None:
    sec, usec = client.time()
    now_ms = int(sec) * 1000 + int(usec) // 1000
    start_ms = now_ms - WINDOW_MS - 500  # the window ended 0.5 s ago
    units = encode(27)  # IDRs at 0, 7, 14, 21; frame 20 arrived after the window, its IDR (21) not yet
    publish(client, units[:21], start_ms - 30)
    summary = write_segment(settings, client, sessions, CAM, start_ms, start_ms + WINDOW_MS)
    assert summary["status"] == "waiting" and summary["reason"] == "next_keyframe", summary
    assert int(str(summary["until_ms"])) <= start_ms + WINDOW_MS + h264_span.LOOKAHEAD_MS
    assert segments(sessions) == []


def test_the_lookahead_reads_up_to_the_next_keyframe_only(client: redis.Redis) -> None:
    """The frames after a window are read in small pages up to the first that ends its span (the
    next window's body is the next job's to read); with no such frame, the whole lookahead."""
    from vigil_recorder.segment.writer import LOOKAHEAD_PAGE, read_after

    start_ms = 1_700_000_400_000
    end_ms = start_ms + WINDOW_MS
    gop = 3 * LOOKAHEAD_PAGE + 5  # the next IDR is in the fourth page after the window
    frames = publish(client, encode(WINDOW_MS // GAP_MS + 2 * gop, gop=gop), start_ms)
    after = [f for f in frames if f.capture_ns // MS + 30 >= end_ms]
    idr = next(i for i, f in enumerate(after) if f.keyframe)
    got = read_after(client, CAM, end_ms, lambda frame: True)
    assert [f.seq for _, f in got[: idr + 1]] == [f.seq for f in after[: idr + 1]]  # up to the IDR, in order
    assert idr < len(got) <= (idr // LOOKAHEAD_PAGE + 1) * LOOKAHEAD_PAGE < len(after)  # and no further page
    # A frame that does not belong to the run (another size) ends the span as well.
    assert len(read_after(client, CAM, end_ms, lambda frame: frame.seq < after[2].seq)) == LOOKAHEAD_PAGE
    # Nothing ends it (no keyframe after the last one): everything that arrived in the lookahead.
    last_idr = max(i for i, f in enumerate(frames) if f.keyframe)
    rest = frames[last_idr + 1:]
    got_rest = read_after(client, CAM, rest[0].capture_ns // MS + 30, lambda frame: True)
    assert [f.seq for _, f in got_rest] == [f.seq for f in rest] and len(rest) > LOOKAHEAD_PAGE
