"""Builders shared by the day-video and export tests: real segments in a data directory and
the index, and decoding helpers.

Two kinds of segment:

- :func:`record_window` goes the recorder's own way: JPEG frames XADDed to the camera's
  stream with pinned arrival ids, then ``segment.write_segment`` (encode, crash-safe write,
  index row).
- :func:`gop_segment` encodes with libx264 directly (keyframes every ``gop`` frames,
  B-frames), so cuts at keyframes can be checked; each picture carries its frame number as
  16 black/white stripes, read back by :func:`frame_number`.
"""


from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import redis
from av.video.frame import PictureType, VideoFrame
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract import keys, streams
from vigil_common.contract.days import ns_to_datetime
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.db.models import Segment
from vigil_common.runtime.settings import Settings
from vigil_recorder.media import mp4meta
from vigil_recorder.media.encode import TIME_BASE, EncoderOptions, add_x264_stream, open_mp4
from vigil_recorder.segment.index import SegmentRow, insert_segment
from vigil_recorder.segment.writer import write_segment
from vigil_recorder.storage import paths as storage

pytestmark = pytest.mark.integration

S = 1_000_000_000
MS = 1_000_000
BITS = 16


def ns_of(t: datetime) -> int:
    return int(t.timestamp()) * S + t.microsecond * 1000


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(settings.redis_url)
    yield c
    c.close()


def striped(i: int, width: int, height: int, shade: int = 0) -> np.ndarray:
    """A BGR picture whose 16 vertical stripes spell ``i`` in binary (white = 1)."""
    img = np.full((height, width, 3), 40 + shade % 60, np.uint8)
    stripe = width // BITS
    for bit in range(BITS):
        if i >> bit & 1:
            img[:, bit * stripe : (bit + 1) * stripe] = 230
    return img


def frame_number(frame: VideoFrame) -> int:
    """The number :func:`striped` drew (read from the luma plane)."""
    luma = frame.to_ndarray(format="gray")
    stripe = luma.shape[1] // BITS
    return sum(1 << bit for bit in range(BITS)
               if luma[:, bit * stripe + stripe // 4 : (bit + 1) * stripe - stripe // 4].mean() > 135)


def record_window(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session], cam: str, start_ns: int, frames: int,
    fps: float = 10.0, size: tuple[int, int] = (160, 120), first_number: int = 0,
) -> Segment:
    """One segment recorded by ``write_segment`` from JPEG frames captured from ``start_ns``."""
    width, height = size
    gap = int(S / fps)
    start_ms = start_ns // MS
    client.delete(keys.frames_stream(cam))  # stream ids only grow; windows here come in any order
    pipe = client.pipeline()
    for i in range(frames):
        jpeg = cv2.imencode(".jpg", striped(first_number + i, width, height))[1].tobytes()
        f = Frame(Codec.JPEG, True, first_number + i, start_ns + i * gap, width, height, jpeg)
        pipe.xadd(keys.frames_stream(cam), streams.to_fields(f), id=f"{start_ms + 1 + i * (gap // MS)}-*")
    pipe.execute()
    end_ms = start_ms + 1 + frames * (gap // MS) + 1
    summary = write_segment(settings, client, sessions, cam, start_ms, end_ms)
    assert summary["status"] == "written", summary
    with sessions() as db:
        row = db.execute(select(Segment).where(Segment.path == summary["path"])).scalar_one()
    return row


def record_h264_window(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session], cam: str, start_ns: int, frames: int,
    fps: float = 10.0, size: tuple[int, int] = (160, 120), first_number: int = 0,
) -> Segment:
    """One segment recorded by ``write_segment`` from H.264 access units (as a Pi camera's
    hardware encoder sends them: Annex B, SPS/PPS in band, no B-frames): remuxed, not decoded."""
    width, height = size
    gap = int(S / fps)
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, av.video.codeccontext.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, 1000)
    encoder.framerate = Fraction(int(fps))
    encoder.gop_size, encoder.max_b_frames = 10, 0
    encoder.options = {"preset": "ultrafast"}
    units: list[bytes] = []
    for i in range(frames):
        picture = VideoFrame.from_ndarray(striped(first_number + i, width, height), format="bgr24").reformat(
            format="yuv420p")
        picture.pts = i * (gap // MS)
        units += [bytes(p) for p in encoder.encode(picture)]
    units += [bytes(p) for p in encoder.encode(None)]
    assert len(units) == frames
    client.delete(keys.frames_stream(cam))
    start_ms = start_ns // MS
    pipe = client.pipeline()
    for i, unit in enumerate(units):
        f = Frame(Codec.H264, i % 10 == 0, first_number + i, start_ns + i * gap, width, height, unit)
        pipe.xadd(keys.frames_stream(cam), streams.to_fields(f), id=f"{start_ms + 1 + i * (gap // MS)}-*")
    pipe.execute()
    summary = write_segment(settings, client, sessions, cam, start_ms, start_ms + 2 + frames * (gap // MS))
    assert summary["status"] == "written" and summary["source_codec"] == "h264", summary
    with sessions() as db:
        return db.execute(select(Segment).where(Segment.path == summary["path"])).scalar_one()


def gop_segment(
    settings: Settings, sessions: sessionmaker[Session], cam: str, start_ns: int, frames: int, fps: float = 10.0,
    gop: int = 10, size: tuple[int, int] = (160, 128), first_number: int = 0, preset: str = "veryfast",
) -> Segment:
    """One segment encoded with libx264 in GOPs of ``gop`` frames (with B-frames), indexed."""
    width, height = size
    gap = int(S / fps)
    relpath = storage.segment_relpath(cam, start_ns // MS, settings.tz)
    final = settings.data_dir / relpath
    storage.ensure_dir(final.parent)
    container = open_mp4(final)
    stream = add_x264_stream(container, width, height, fps, EncoderOptions(preset=preset, keyint_s=gop / fps))
    stream.codec_context.options = {**stream.codec_context.options, "sc_threshold": "0"}  # fixed GOPs
    for i in range(frames):
        picture = VideoFrame.from_ndarray(striped(first_number + i, width, height, shade=i), format="bgr24")
        image = picture.reformat(format="yuv420p")
        image.pict_type = PictureType.NONE
        image.pts = int(Fraction(i * gap, S) / TIME_BASE)
        image.time_base = TIME_BASE
        for packet in stream.encode(image):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    mp4meta.append_box(final, {"camera_id": cam})
    row = SegmentRow(cam, ns_to_datetime(start_ns), ns_to_datetime(start_ns + frames * gap), frames * gap / S, frames,
                     final.stat().st_size, width, height, "h264", relpath.as_posix())
    assert insert_segment(sessions, row)
    with sessions() as db:
        return db.execute(select(Segment).where(Segment.path == row.path)).scalar_one()


@dataclass
class Decoded:
    pts_s: list[float]  # presentation time of each frame, seconds from output time 0
    numbers: list[int]
    keyframes: int
    width: int
    height: int


def decode(path: Path) -> Decoded:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        assert tb is not None
        pts, numbers, keys_ = [], [], 0
        for frame in container.decode(stream):
            assert isinstance(frame, VideoFrame) and frame.pts is not None
            pts.append(float(frame.pts * tb))
            numbers.append(frame_number(frame))
            keys_ += frame.key_frame
        return Decoded(pts, numbers, keys_, stream.codec_context.width, stream.codec_context.height)


def box_order(path: Path) -> list[bytes]:
    with open(path, "rb") as fh:
        return [kind for kind, _o, _l in mp4meta.top_level_boxes(fh, os.path.getsize(path))]


def assert_faststart(path: Path) -> None:
    order = box_order(path)
    assert b"moov" in order and b"mdat" in order
    assert order.index(b"moov") < order.index(b"mdat"), order


def worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(VIGIL_REDIS_URL=settings.redis_url, VIGIL_DATABASE_URL=settings.database_url,
               VIGIL_DATA_DIR=str(settings.data_dir), VIGIL_TIMEZONE=settings.timezone, VIGIL_LOG_LEVEL="INFO")
    return env


def run_burst_worker(settings: Settings) -> str:
    """``vigil recorder --burst``: runs every queued job, then exits; returns its output."""
    proc = subprocess.run([sys.executable, "-m", "vigil_recorder.main", "--burst"], env=worker_env(settings),
                          cwd=settings.data_dir.parent, capture_output=True, timeout=120, check=False)
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    assert proc.returncode == 0, out
    return out


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: float = 0) -> datetime:
    return datetime(y, mo, d, h, mi, int(s), int((s % 1) * 1e6), tzinfo=UTC)
