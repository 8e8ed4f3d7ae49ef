"""The recorder's PyAV paths on files only (no Redis, no database)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from av.video.frame import VideoFrame

from vigil_common.contract import h264
from vigil_common.contract.envelope import Codec, Frame
from vigil_recorder.media import encode, mp4meta
from vigil_recorder.media import frames as fr
from vigil_recorder.media.encode import EncoderOptions, JpegDecoder
from vigil_recorder.segment.writer import build_file

T0 = 1_700_000_000_000_000_000
GAP = 66_666_667
FAST = EncoderOptions(preset="ultrafast", crf=30)


def jpeg(width: int, height: int, value: int | None = None, i: int = 0) -> bytes:
    if value is None:
        img = np.zeros((height, width, 3), np.uint8)
        img[:, : (i * 7) % width] = 200
        img[..., 1] = (np.arange(width) * 3 + i) % 256
    else:
        img = np.full((height, width, 3), value, np.uint8)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def jframe(seq: int, t: int, width: int = 320, height: int = 240, payload: bytes | None = None) -> Frame:
    data = payload if payload is not None else jpeg(width, height, i=seq)
    return Frame(Codec.JPEG, True, seq, t, width, height, data)


def probe(path: Path) -> tuple[av.video.stream.VideoStream, list[VideoFrame], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = [f for f in container.decode(stream) if isinstance(f, VideoFrame)]
        assert stream.duration is not None and stream.time_base is not None
        return stream, decoded, float(stream.duration * stream.time_base)


def h264_access_units(n: int, width: int = 320, height: int = 240, gop: int = 10) -> list[bytes]:
    """Annex B access units from PyAV's libx264 (no B-frames; SPS/PPS repeated at each IDR)."""
    enc = av.CodecContext.create("libx264", "w")
    assert isinstance(enc, av.video.codeccontext.VideoCodecContext)
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = Fraction(1, 15)
    enc.gop_size = gop
    enc.options = {"preset": "ultrafast", "tune": "zerolatency"}
    out: list[bytes] = []
    for i in range(n):
        rgb = np.zeros((height, width, 3), np.uint8)
        rgb[:, : (i * 9) % width] = 180
        picture = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        picture.pts = i
        out += [bytes(p) for p in enc.encode(picture)]
    out += [bytes(p) for p in enc.encode(None)]
    assert len(out) == n
    return out


def test_jpeg_decoder_output_is_full_range_and_convert_makes_it_limited() -> None:
    dec = JpegDecoder()
    white = dec.decode(jpeg(64, 48, 255))
    black = dec.decode(jpeg(64, 48, 0))
    assert white is not None and black is not None
    assert white.format.name == "yuvj420p"
    # A plain reformat keeps full range: white stays 255. That is why the range is explicit.
    assert int(white.reformat(format="yuv420p").to_ndarray()[0, 0]) == 255
    w = dec.convert(white, 64, 48)
    b = dec.convert(black, 64, 48)
    assert w.format.name == "yuv420p" and w.color_range == 1  # MPEG (limited)
    assert abs(int(w.to_ndarray()[:48].mean()) - 235) <= 1
    assert abs(int(b.to_ndarray()[:48].mean()) - 16) <= 1


def test_jpeg_decoder_handles_422_gray_and_garbage() -> None:
    dec = JpegDecoder()
    img = np.full((48, 64, 3), 128, np.uint8)
    j422 = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422])[
        1
    ].tobytes()
    gray = cv2.imencode(".jpg", img[..., 0])[1].tobytes()
    for data in (j422, gray):
        picture = dec.decode(data)
        assert picture is not None
        assert dec.convert(picture, 32, 24).format.name == "yuv420p"
    assert dec.decode(b"\xff\xd8 not a jpeg \xff\xd9") is None
    assert dec.decode(b"") is None


def test_build_file_jpeg_basic(tmp_path: Path) -> None:
    frames = [jframe(i, T0 + i * GAP) for i in range(30)]
    final = tmp_path / "rec" / "a.mp4"
    built = build_file(frames, final, FAST, meta={"camera_id": "cam"})
    assert built is not None
    assert sorted(p.name for p in final.parent.iterdir()) == ["a.mp4"]  # no partial left
    stream, decoded, duration = probe(final)
    assert stream.codec_context.name == "h264"
    assert stream.codec_context.profile in {"High", "Main", "Constrained Baseline", "Baseline"}
    assert stream.format is not None and stream.format.name == "yuv420p"
    assert stream.codec_context.color_range == 1
    assert len(decoded) == 30 == built.written.frames
    assert duration == pytest.approx(built.timing.duration_s, abs=0.002)
    assert built.timing.duration_s == pytest.approx(2.0, abs=0.001)
    # presentation times are the capture offsets
    assert [f.pts for f in decoded] == fr.presentation_ts([f.capture_ns for f in frames])
    data = final.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart
    meta = mp4meta.read_meta(final)
    assert meta is not None and meta["frames"] == 30 and meta["camera_id"] == "cam"
    assert built.bytes == final.stat().st_size


def test_build_file_out_of_order_duplicates_corrupt_and_mixed_sizes(tmp_path: Path) -> None:
    good = [jframe(i, T0 + i * GAP) for i in range(20)]
    big = [jframe(100 + i, T0 + (20 + i) * GAP, 640, 480) for i in range(5)]
    odd = [jframe(200, T0 + 25 * GAP, 161, 121)]
    corrupt = [jframe(300, T0 + 26 * GAP, payload=b"\xff\xd8\x00garbage\xff\xd9")]
    frames = list(reversed(good + big + odd + corrupt)) + good[:3]  # reversed + duplicates
    final = tmp_path / "b.mp4"
    built = build_file(frames, final, FAST)
    assert built is not None
    assert built.selection.duplicates == 3
    assert built.written.decode_errors == 1
    assert built.written.frames == 26
    assert (built.written.width, built.written.height) == (320, 240)
    _stream, decoded, _ = probe(final)
    assert len(decoded) == 26
    assert {(f.width, f.height) for f in decoded} == {(320, 240)}
    assert [f.pts for f in decoded] == sorted(f.pts or 0 for f in decoded)


def test_build_file_odd_first_size_rounds_down_to_even(tmp_path: Path) -> None:
    frames = [jframe(i, T0 + i * GAP, 161, 121) for i in range(3)]
    built = build_file(frames, tmp_path / "c.mp4", FAST)
    assert built is not None and (built.written.width, built.written.height) == (160, 120)
    _s, decoded, _ = probe(tmp_path / "c.mp4")
    assert (decoded[0].width, decoded[0].height) == (160, 120)


def test_build_file_nothing_decodable_leaves_no_file(tmp_path: Path) -> None:
    frames = [jframe(i, T0 + i * GAP, payload=b"\xff\xd8junk\xff\xd9") for i in range(3)]
    assert build_file(frames, tmp_path / "d.mp4", FAST) is None
    assert build_file([], tmp_path / "d.mp4", FAST) is None
    assert list(tmp_path.iterdir()) == []


def test_build_file_single_frame(tmp_path: Path) -> None:
    built = build_file([jframe(0, T0)], tmp_path / "e.mp4", FAST)
    assert built is not None and built.written.frames == 1
    _s, decoded, duration = probe(tmp_path / "e.mp4")
    assert len(decoded) == 1
    assert duration == pytest.approx(fr.DEFAULT_FRAME_NS / 1e9, abs=0.002)


def test_nal_types_and_segment_start() -> None:
    aus = h264_access_units(12, gop=10)
    assert h264.can_start_segment(aus[0]) and h264.is_idr(aus[0])
    assert not h264.is_idr(aus[1]) and h264.has_slice(aus[1])
    assert h264.can_start_segment(aus[10])  # x264 repeats SPS/PPS at each IDR
    synthetic = b"\x00\x00\x00\x01\x09\xf0" + b"\x00\x00\x01\x67abc" + b"\x00\x00\x01\x68d" + b"\x00\x00\x01\x65"
    assert h264.nal_types(synthetic) == [h264.NAL_AUD, h264.NAL_SPS, h264.NAL_PPS, h264.NAL_IDR]
    assert h264.nal_types(b"no start code") == []
    frames = [Frame(Codec.H264, False, i, T0 + i * GAP, 320, 240, au) for i, au in enumerate(aus)]
    assert h264.first_start(frames[3:]) == 7  # the IDR at index 10
    assert h264.first_start(frames[1:10]) is None


def _nal_payloads_annexb(au: bytes) -> list[bytes]:
    parts = au.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
    return [p for p in parts if p]


def _nal_payloads_lp(sample: bytes) -> list[bytes]:
    out, i = [], 0
    while i + 4 <= len(sample):
        n = int.from_bytes(sample[i : i + 4], "big")
        out.append(sample[i + 4 : i + 4 + n])
        i += 4 + n
    return out


def test_remux_h264_passthrough_without_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class NoDecoding:
        def __init__(self) -> None:
            raise AssertionError("H.264 input must not be decoded")

    monkeypatch.setattr(encode, "JpegDecoder", NoDecoding)
    aus = h264_access_units(35, gop=10)
    # The window starts mid-GOP: frames 0..2 are gone, 3..9 cannot be decoded without the IDR.
    frames = [Frame(Codec.H264, i % 10 == 0, i, T0 + i * GAP, 320, 240, aus[i]) for i in range(3, 35)]
    final = tmp_path / "h.mp4"
    built = build_file(list(reversed(frames)), final, FAST)
    assert built is not None
    assert built.written.source_codec == "h264"
    assert built.written.skipped == 7
    assert built.written.frames == 25
    stream, decoded, duration = probe(final)
    assert stream.codec_context.name == "h264" and len(decoded) == 25
    assert (decoded[0].width, decoded[0].height) == (320, 240)
    assert duration == pytest.approx(built.timing.duration_s, abs=0.002)
    # The samples are the camera's NAL units, byte for byte (length-prefixed instead of Annex B).
    with av.open(str(final)) as container:
        samples = [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]
    assert len(samples) == 25
    for sample, au in zip(samples, aus[10:], strict=True):
        assert _nal_payloads_lp(sample) == _nal_payloads_annexb(au)
    data = final.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


def test_remux_h264_without_keyframe_writes_nothing(tmp_path: Path) -> None:
    aus = h264_access_units(10, gop=10)
    frames = [Frame(Codec.H264, False, i, T0 + i * GAP, 320, 240, aus[i]) for i in range(1, 10)]
    assert build_file(frames, tmp_path / "n.mp4", FAST) is None
    assert list(tmp_path.iterdir()) == []
