"""Still paths, crash-safe writes, and PyAV decoding/encoding of snapshots and thumbnails."""

from __future__ import annotations

import io
import os
import time
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

import av
import cv2
import numpy as np
import pytest

from vigil_common.contract.envelope import Codec, Frame
from vigil_recorder.media import images as si
from vigil_recorder.snapshots.duty import snapshot_time, stale
from vigil_recorder.storage.stills import snapshot_relpath, sweep_partials, thumbnail_relpath, write_atomic

PARIS = ZoneInfo("Europe/Paris")


def picture(width: int, height: int) -> np.ndarray:
    img = np.full((height, width, 3), 90, np.uint8)
    cv2.rectangle(img, (width // 4, height // 4), (width // 2, height // 2), (255, 255, 255), -1)
    return img


def jpeg_frame(width: int = 1280, height: int = 720) -> Frame:
    ok, buf = cv2.imencode(".jpg", picture(width, height))
    assert ok
    return Frame(Codec.JPEG, True, 1, time.time_ns(), width, height, buf.tobytes())


def h264_units(width: int = 640, height: int = 360, count: int = 3) -> list[bytes]:
    """Annex B access units from libx264 (the first is an IDR with SPS/PPS in band)."""
    out = av.open(io.BytesIO(), "w", format="h264")
    stream = out.add_stream("libx264", rate=15)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency"}
    units = []
    for i in range(count):
        frame = av.VideoFrame.from_ndarray(np.roll(picture(width, height), 8 * i, axis=1), format="bgr24")
        units += [bytes(p) for p in stream.encode(frame)]
    units += [bytes(p) for p in stream.encode(None)]
    out.close()
    return units


def decode(jpeg: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def test_snapshot_paths_use_the_local_date_and_time() -> None:
    when = datetime(2024, 7, 1, 22, 30, 5, tzinfo=UTC)  # 00:30:05 next day in Paris
    assert snapshot_relpath("cam1", when, PARIS) == PurePosixPath("snapshots/cam1/2024-07-02/00_30_05.jpg")
    assert thumbnail_relpath("cam1", when.replace(microsecond=123_456), PARIS) == PurePosixPath(
        "thumbnails/cam1/2024-07-02/00_30_05_123.jpg"
    )


def test_the_repeated_dst_hour_never_reuses_a_name() -> None:
    first = datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = datetime(2024, 10, 27, 1, 30, tzinfo=UTC)  # 02:30 CET
    a, b = snapshot_relpath("cam1", first, PARIS), snapshot_relpath("cam1", second, PARIS)
    assert a.name == "02_30_00.jpg" and b.name == "02_30_00_dst2.jpg"


def test_paths_refuse_bad_ids_and_naive_times() -> None:
    with pytest.raises(ValueError):
        snapshot_relpath("../etc", datetime.now(UTC), PARIS)
    with pytest.raises(ValueError):
        snapshot_relpath("cam1", datetime(2024, 1, 1), PARIS)


def test_write_atomic_leaves_only_the_final_file(tmp_path: Path) -> None:
    final = tmp_path / "snapshots" / "cam1" / "2024-01-01" / "00_00_00.jpg"
    assert write_atomic(final, b"one") == 3
    assert write_atomic(final, b"second") == 6
    assert final.read_bytes() == b"second"
    assert os.listdir(final.parent) == [final.name]


def test_sweep_removes_old_partials_only(tmp_path: Path) -> None:
    day = tmp_path / "thumbnails" / "cam1" / "2024-01-01"
    day.mkdir(parents=True)
    old, fresh = day / ".a.jpg.1234.partial", day / ".b.jpg.5678.partial"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert sweep_partials(tmp_path) == 1
    assert not old.exists() and fresh.exists()


def test_snapshot_time_and_staleness() -> None:
    assert snapshot_time(1_700_000_000_999_999_999) == datetime.fromtimestamp(1_700_000_000, UTC)
    assert not stale(10_000, 20_000, 5.0)
    assert stale(10_000, 20_001, 5.0)
    assert stale(10_000, 12_001, 0.1)  # never less than 2 s


def test_lowres_and_shrink() -> None:
    assert [si.lowres_for(w, 160) for w in (64, 320, 640, 1280, 1920, 4000)] == [0, 1, 2, 3, 3, 3]
    img = np.arange(12 * 20, dtype=np.uint8).reshape(12, 20)
    assert si.shrink(img, 10).shape == (6, 10)
    assert si.shrink(img, 10)[0, 0] == (0 + 1 + 20 + 21 + 2) // 4  # mean, rounded half up
    assert si.shrink(img, 30) is img


def test_small_luma_of_a_jpeg() -> None:
    gray = si.small_luma(jpeg_frame(1280, 720), 160)
    assert gray.dtype == np.uint8 and gray.shape == (90, 160)
    assert gray[30, 60] > 240 and gray[80, 10] < 100  # the white square, the grey rest
    assert si.small_luma(jpeg_frame(64, 48), 160).shape == (48, 64)


def test_small_luma_of_an_h264_keyframe_and_refusal_of_other_units() -> None:
    units = h264_units()
    frame = Frame(Codec.H264, True, 1, time.time_ns(), 640, 360, units[0])
    gray = si.small_luma(frame, 160)
    assert gray.shape == (90, 160)
    assert gray[30, 60] > 200
    with pytest.raises(si.ImageError):
        si.small_luma(Frame(Codec.H264, False, 2, 0, 640, 360, units[1]), 160)


def test_still_and_thumbnail_jpegs() -> None:
    jf = jpeg_frame(1280, 720)
    assert si.still_jpeg(jf) == (jf.payload, 1280, 720)
    thumb = si.thumbnail_jpeg(jf)
    assert decode(thumb).shape == (180, 320, 3)
    small = jpeg_frame(64, 48)
    assert si.thumbnail_jpeg(small) == small.payload
    h264 = Frame(Codec.H264, True, 1, 0, 640, 360, h264_units()[0])
    data, w, h = si.still_jpeg(h264)
    img = decode(data)
    assert (w, h) == (640, 360) and img.shape == (360, 640, 3)
    assert img[120, 240].min() > 230 and abs(int(img[300, 20, 0]) - 90) < 12  # colours survive (full range)
    assert decode(si.thumbnail_jpeg(h264)).shape == (180, 320, 3)


def test_corrupt_jpeg_is_an_image_error() -> None:
    with pytest.raises(si.ImageError):
        si.small_luma(Frame(Codec.JPEG, True, 1, 0, 64, 48, b"\xff\xd8 not a jpeg \xff\xd9"), 160)
    with pytest.raises(si.ImageError):
        si.thumbnail_jpeg(Frame(Codec.JPEG, True, 1, 0, 64, 48, b""))
