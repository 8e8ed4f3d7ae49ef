"""The pure parts of the RTSP passthrough: the capture clock, Annex B forwarding with SPS/PPS
on every keyframe, the SPS size parser, error classification, and the source's read/reconnect
logic over a stand-in demuxer (the real camera is in tests/integration/capture)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import av
import av.error as ave
import pytest

from vigil_capture.h264_sps import (
    SpsError,
    length_prefixed_to_annexb,
    parse_avcc,
    parse_extradata,
    sps_dimensions,
    unescape_rbsp,
)
from vigil_capture.rtsp_passthrough import (
    BFRAMES_MESSAGE,
    HEVC_MESSAGE,
    AnnexBForwarder,
    CaptureClock,
    RtspPassthroughSource,
    UnsupportedStreamError,
    check_stream,
    describe_open_error,
    ts_to_ns,
)
from vigil_capture.sources import SourceError
from vigil_common.contract import h264

MS = 1_000_000
S = 1_000_000_000


def encode(width: int, height: int, frames: int = 3, profile: str | None = None, **options: str) -> list[bytes]:
    """Real libx264 access units (Annex B, SPS/PPS before the IDR)."""
    import numpy as np

    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, 30)
    ctx.gop_size = 30
    ctx.max_b_frames = 0
    if profile:
        ctx.profile = profile
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency", **options}
    out: list[bytes] = []
    for i in range(frames):
        img = np.full((height, width, 3), (i * 40) % 256, np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
        frame.pts = i
        out += [bytes(p) for p in ctx.encode(frame)]
    out += [bytes(p) for p in ctx.encode(None)]
    return out


def nal(unit: bytes, kind: int) -> bytes:
    return next(n for n in h264.split_annexb(unit) if n[0] & 0x1F == kind)


def without_parameter_sets(unit: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + n for n in h264.split_annexb(unit) if n[0] & 0x1F not in (7, 8))


# --- SPS --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "profile"),
    [((320, 240), None), ((1920, 1080), None), ((642, 362), None), ((1280, 720), "high"), ((176, 144), "baseline")],
)
def test_sps_dimensions_of_real_encodings(size: tuple[int, int], profile: str | None) -> None:
    first = encode(*size, frames=1, profile=profile)[0]
    assert sps_dimensions(nal(first, h264.NAL_SPS)) == size  # 1080 and 362 need the cropping fields


def test_sps_errors_and_emulation_prevention() -> None:
    assert unescape_rbsp(b"\x00\x00\x03\x01\x00\x00\x03") == b"\x00\x00\x01\x00\x00"
    with pytest.raises(SpsError):
        sps_dimensions(b"\x68\xce")  # a PPS
    with pytest.raises(SpsError):
        sps_dimensions(b"\x67\x42")  # truncated


def test_extradata_annexb_and_avcc() -> None:
    first = encode(320, 240, frames=1)[0]
    sps, pps = nal(first, 7), nal(first, 8)
    assert parse_extradata(b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01" + pps)[1].sps == (sps,)
    avcc = bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]) + len(sps).to_bytes(2, "big") + sps
    avcc += bytes([1]) + len(pps).to_bytes(2, "big") + pps
    length_size, sets = parse_avcc(avcc)
    assert length_size == 4 and sets.sps == (sps,) and sets.pps == (pps,)
    assert parse_extradata(avcc) == (4, sets) and parse_extradata(None)[0] is None and not parse_extradata(b"")[1]
    with pytest.raises(SpsError):
        parse_extradata(b"\x02junk")
    sample = len(sps).to_bytes(4, "big") + sps + len(pps).to_bytes(4, "big") + pps
    assert length_prefixed_to_annexb(sample) == b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01" + pps
    with pytest.raises(SpsError):
        length_prefixed_to_annexb(sample[:-1])


# --- forwarding -------------------------------------------------------------------------------


def test_idr_without_parameter_sets_gets_them_from_the_extradata_after_the_delimiter() -> None:
    units = encode(320, 240, frames=3, aud="1")
    idr = units[0]
    assert h264.nal_types(idr)[0] == h264.NAL_AUD and h264.can_start_segment(idr)
    extradata = b"\x00\x00\x00\x01" + nal(idr, 7) + b"\x00\x00\x00\x01" + nal(idr, 8)
    forwarder = AnnexBForwarder(extradata)
    assert (forwarder.width, forwarder.height) == (320, 240)
    bare = without_parameter_sets(idr)
    assert not h264.can_start_segment(bare)
    result = forwarder.forward(bare)
    assert result is not None
    data, keyframe = result
    assert keyframe and h264.can_start_segment(data)
    types = h264.nal_types(data, stop_at_slice=False)
    assert types[:3] == [h264.NAL_AUD, h264.NAL_SPS, h264.NAL_PPS]  # SPS/PPS right after the AUD
    assert h264.split_annexb(data)[3:] == h264.split_annexb(bare)[1:]  # the picture untouched
    assert forwarder.inserted == 1
    p_frame = forwarder.forward(units[1])
    assert p_frame == (units[1], False)  # P frames are passed through as they are
    codec = av.CodecContext.create("h264", "r")
    assert len(codec.decode(av.Packet(data))) + len(codec.decode(av.Packet(units[1]))) + len(codec.decode(None)) == 2


def test_in_band_parameter_sets_win_and_carry_the_new_size() -> None:
    small, large = encode(320, 240, frames=1)[0], encode(640, 480, frames=1)[0]
    forwarder = AnnexBForwarder(b"\x00\x00\x00\x01" + nal(small, 7) + b"\x00\x00\x00\x01" + nal(small, 8))
    assert forwarder.forward(large) == (large, True)  # already complete: untouched
    assert (forwarder.width, forwarder.height) == (640, 480)
    data, keyframe = forwarder.forward(without_parameter_sets(large)) or (b"", False)
    assert keyframe and nal(data, 7) == nal(large, 7)  # the newest SPS, not the extradata's


def test_broken_or_unprovable_keyframes_are_not_flagged() -> None:
    idr = encode(320, 240, frames=1)[0]
    forwarder = AnnexBForwarder(None, 320, 240)
    assert forwarder.forward(without_parameter_sets(idr)) == (without_parameter_sets(idr), False)  # nothing known
    assert forwarder.forward(idr, corrupt=True) == (idr, False)  # packet loss: forwarded, not a keyframe
    assert forwarder.forward(idr) == (idr, True)
    assert forwarder.forward(b"\x00\x00\x00\x01" + nal(idr, 7)) is None  # no picture: remembered only


def test_length_prefixed_packets_become_annexb() -> None:
    idr = encode(320, 240, frames=1)[0]
    nals = h264.split_annexb(idr)
    sps, pps = nal(idr, 7), nal(idr, 8)
    avcc = bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]) + len(sps).to_bytes(2, "big") + sps
    avcc += bytes([1]) + len(pps).to_bytes(2, "big") + pps
    sample = b"".join(len(n).to_bytes(4, "big") + n for n in nals if n[0] & 0x1F not in (7, 8))
    data, keyframe = AnnexBForwarder(avcc).forward(sample) or (b"", False)
    assert keyframe and h264.can_start_segment(data) and data.startswith(b"\x00\x00\x00\x01")


# --- capture clock ----------------------------------------------------------------------------


class Wall:
    def __init__(self, now: int = 1_700_000_000 * S) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_clock_anchors_at_the_first_packet_and_keeps_the_streams_spacing() -> None:
    wall = Wall()
    clock = CaptureClock(wall)
    start = wall.now
    assert clock.stamp(90 * S) == start  # any stream origin
    wall.now += 80 * MS  # arrival jitter does not move the times
    assert clock.stamp(90 * S + 66 * MS) == start + 66 * MS
    wall.now += 70 * MS
    assert clock.stamp(90 * S + 133 * MS) == start + 133 * MS


def test_clock_never_ahead_of_the_wall_clock_after_a_late_first_packet() -> None:
    wall = Wall()
    clock = CaptureClock(wall)
    first = clock.stamp(0)  # this packet was delayed: the next ones arrive in a burst
    burst = []
    for i in range(1, 5):
        wall.now += 1000  # packets of a burst arrive microseconds apart
        burst.append(clock.stamp(i * 66 * MS))
    assert all(t <= wall.now for t in burst) and burst == sorted(set(burst)) and burst[0] > first
    wall.now += 400 * MS  # live again: spacing from the stream
    live = clock.stamp(5 * 66 * MS)
    assert live <= wall.now and clock.stamp(6 * 66 * MS) - live == 66 * MS


def test_clock_reconnect_is_at_least_one_frame_later_and_close_to_now() -> None:
    wall = Wall()
    clock = CaptureClock(wall, frame_ns=66 * MS)
    for i in range(10):
        last = clock.stamp(i * 66 * MS)
        wall.now += 66 * MS
    clock.new_connection()
    assert clock.stamp(5 * S) == last + 66 * MS  # reconnected at once: one frame later, not before
    clock.new_connection()
    wall.now += 3 * S
    t = clock.stamp(0)  # the camera rebooted: its timestamps start again at 0
    assert t == wall.now


def test_clock_slews_drift_back_smoothly() -> None:
    wall = Wall()
    clock = CaptureClock(wall, max_drift_ns=S, slew=0.1)
    frame = 40 * MS
    times = []
    for i in range(2000):  # the camera's clock runs 5 % slow against ours
        times.append(clock.stamp(i * frame))
        wall.now += int(frame * 1.05)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= frame and max(gaps) <= frame * 1.1 + 1  # smooth: at most 10 % per frame
    assert wall.now - times[-1] <= S + 2 * frame  # never more than ~1 s behind


def test_clock_steps_forward_with_the_wall_clock_and_crawls_when_it_goes_back() -> None:
    wall = Wall()
    clock = CaptureClock(wall, step_ns=20 * S)
    clock.stamp(0)
    wall.now += 3600 * S  # NTP set the Pi's clock
    assert clock.stamp(40 * MS) == wall.now and clock.reanchors == 1
    before = clock.stamp(80 * MS)
    wall.now -= 10 * S  # the wall clock went back
    after = [clock.stamp((3 + i) * 40 * MS) for i in range(5)]
    assert after[0] > before and all(b - a == 20 * MS for a, b in itertools.pairwise(after))


def test_clock_without_timestamps_and_stream_discontinuities() -> None:
    wall = Wall()
    clock = CaptureClock(wall, frame_ns=50 * MS)
    a = clock.stamp(None)
    assert a == wall.now
    wall.now += 50 * MS
    b = clock.stamp(1000 * S)  # the first timestamp of the connection anchors just after
    assert b == wall.now
    assert clock.stamp(None) == b + 50 * MS  # one frame on
    wall.now += 100 * MS
    c = clock.stamp(10 * S)  # the stream's timestamps jumped back: re-anchored, still forward
    assert c > b + 50 * MS and clock.reanchors == 1
    assert clock.stamp_now() > c
    assert ts_to_ns(90_000, Fraction(1, 90_000)) == S and ts_to_ns(None, Fraction(1, 90_000)) is None


# --- errors -----------------------------------------------------------------------------------


def no_probe(url: str, timeout: int) -> None:
    return None


URL = "rtsp://admin:topsecret@cam.local:554/live?token=abc"


@pytest.mark.parametrize(
    ("exc", "probe_says", "expected"),
    [
        (ave.HTTPUnauthorizedError(0, "Server returned 401", URL), None, "authentication failed (401: wrong user"),
        (ave.HTTPForbiddenError(0, "Server returned 403", URL), None, "authentication failed (403"),
        (ave.HTTPNotFoundError(0, "Server returned 404", URL), None, "no stream at this path (404)"),
        (ave.ConnectionRefusedError(111, "Connection refused", URL), "connection refused by cam.local:554",
         "camera unreachable (connection refused"),
        (ave.OSError(5, "Input/output error", URL), "cannot resolve host cam.local", "unreachable (cannot resolve"),
        (ave.ExitError(0, "Immediate exit requested", URL), None, "unreachable (no answer before the timeout)"),
        (ave.InvalidDataError(0, "Invalid data found", URL), None, "sent no readable video stream"),
    ],
)
def test_open_errors_are_one_line_and_never_show_the_password(exc: Exception, probe_says: str | None,
                                                              expected: str) -> None:
    message = describe_open_error(exc, URL, probe=lambda url, timeout: probe_says)
    assert expected in message
    assert "topsecret" not in message and "token" not in message and "\n" not in message
    assert message.startswith("rtsp://admin:***@cam.local:554/live")


def test_missing_credentials_are_named() -> None:
    exc = ave.HTTPUnauthorizedError(0, "Server returned 401", "rtsp://cam/x")
    assert "no user name and password" in describe_open_error(exc, "rtsp://cam/x", probe=no_probe)


def fake_container(name: str | None = "h264", has_b_frames: int = 0) -> Any:
    cc = SimpleNamespace(name=name, has_b_frames=has_b_frames)
    streams = [] if name is None else [SimpleNamespace(codec_context=cc)]
    return SimpleNamespace(streams=SimpleNamespace(video=streams))


def test_unsupported_streams() -> None:
    assert check_stream(fake_container()).codec_context.name == "h264"
    with pytest.raises(UnsupportedStreamError) as info:
        check_stream(fake_container("hevc"))
    assert str(info.value) == HEVC_MESSAGE
    with pytest.raises(UnsupportedStreamError, match="B-frames"):
        check_stream(fake_container(has_b_frames=2))
    with pytest.raises(UnsupportedStreamError, match=r"MJPEG.*--codec jpeg"):
        check_stream(fake_container("mjpeg"))
    with pytest.raises(UnsupportedStreamError, match="no video"):
        check_stream(fake_container(None))


# --- the source over a stand-in demuxer -------------------------------------------------------


class FakePacket:
    def __init__(self, data: bytes, pts: int | None, dts: int | None = None, corrupt: bool = False) -> None:
        self.data = data
        self.pts = pts
        self.dts = pts if dts is None else dts
        self.is_corrupt = corrupt
        self.size = len(data)
        self.time_base = Fraction(1, 90_000)

    def __bytes__(self) -> bytes:
        return self.data


class FakeContainer:
    def __init__(self, packets: list[FakePacket], extradata: bytes | None = None, fail_after: bool = True) -> None:
        cc = SimpleNamespace(name="h264", has_b_frames=0, extradata=extradata, width=320, height=240)
        self.stream = SimpleNamespace(codec_context=cc, time_base=Fraction(1, 90_000),
                                      average_rate=Fraction(15), guessed_rate=None)
        self.streams = SimpleNamespace(video=[self.stream])
        self.packets = packets
        self.fail_after = fail_after
        self.closed = False

    def demux(self, stream: Any) -> Iterator[FakePacket]:
        yield from self.packets
        if self.fail_after:
            raise ave.EOFError(0, "End of file", "rtsp://x")

    def close(self) -> None:
        self.closed = True


class Opener:
    def __init__(self, results: list[Any]) -> None:
        self.results = results
        self.calls: list[dict[str, str]] = []

    def __call__(self, url: str, options: dict[str, str], timeout: tuple[float, float]) -> Any:
        self.calls.append(options)
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result


@pytest.fixture(scope="module")
def stream_units() -> list[bytes]:
    return encode(320, 240, frames=6)


def gop_packets(units: list[bytes], start_pts: int = 0) -> list[FakePacket]:
    return [FakePacket(u, start_pts + i * 6000) for i, u in enumerate(units)]


def test_source_skips_to_the_first_keyframe_then_forwards_everything(stream_units: list[bytes]) -> None:
    clock = {"t": 0.0}
    packets = [FakePacket(stream_units[3], 0), *gop_packets(stream_units, 6000)]  # joins mid-GOP
    opener = Opener([FakeContainer(packets)])
    source = RtspPassthroughSource("rtsp://u:p@cam/x", opener=opener, clock=lambda: clock["t"])
    source.open()
    assert opener.calls[0]["rtsp_transport"] == "tcp" and opener.calls[0]["timeout"] == "10000000"
    units = [source.read() for _ in range(len(stream_units))]
    assert all(u is not None for u in units)
    assert [u.keyframe for u in units if u] == [True] + [False] * (len(stream_units) - 1)
    assert source.skipped == 1 and [u.data for u in units if u] == stream_units
    assert [u.width for u in units if u] == [320] * len(stream_units)


def test_source_reconnects_with_backoff_and_keeps_time_monotonic(stream_units: list[bytes]) -> None:
    clock = {"t": 0.0}
    refused = ave.ConnectionRefusedError(111, "Connection refused", "rtsp://x")
    second = FakeContainer(gop_packets(stream_units), fail_after=False)
    opener = Opener([FakeContainer(gop_packets(stream_units[:2])), refused, second])
    source = RtspPassthroughSource("rtsp://cam/x", opener=opener, clock=lambda: clock["t"], initial_backoff_s=1.0)
    source.open()
    first = [source.read(), source.read()]
    assert source.read() is None and not source.connected  # the stream ended: reconnect later
    assert source.read() is None and len(opener.calls) == 1  # still backing off
    clock["t"] = 1.0
    assert source.read() is None and len(opener.calls) == 2  # refused: back off 2 s
    clock["t"] = 2.5
    assert source.read() is None and len(opener.calls) == 2
    clock["t"] = 3.1
    again = source.read()
    assert again is not None and again.keyframe and source.reconnects == 1
    times = [u.capture_ns for u in (*first, again) if u]
    assert times == sorted(times) and len(set(times)) == 3
    end = [source.read() for _ in range(len(stream_units) - 1)]
    assert all(end) and source.read() is None  # the flush-less end: stream ended again


def test_source_refuses_b_frames_met_mid_stream(stream_units: list[bytes]) -> None:
    packets = [FakePacket(stream_units[0], 0), FakePacket(stream_units[1], 12000, dts=6000)]
    source = RtspPassthroughSource("rtsp://cam/x", opener=Opener([FakeContainer(packets)]))
    source.open()
    assert source.read() is not None
    with pytest.raises(UnsupportedStreamError) as info:
        source.read()
    assert str(info.value) == BFRAMES_MESSAGE and not source.connected


def test_source_open_errors(stream_units: list[bytes]) -> None:
    unauthorized = ave.HTTPUnauthorizedError(0, "401", "rtsp://u:pw@cam/x")
    with pytest.raises(SourceError, match="authentication failed") as info:
        RtspPassthroughSource("rtsp://u:pw@cam/x", opener=Opener([unauthorized])).open()
    assert "pw" not in str(info.value).replace("***", "")
    hevc = FakeContainer([])
    hevc.stream.codec_context.name = "hevc"
    with pytest.raises(UnsupportedStreamError, match=r"H\.265"):
        RtspPassthroughSource("rtsp://cam/x", opener=Opener([hevc])).open()
    assert hevc.closed
    with pytest.raises(ValueError, match="rtsp"):
        RtspPassthroughSource("/dev/video0")


def test_source_camera_reconfigured_to_h265_is_fatal_on_reconnect(stream_units: list[bytes]) -> None:
    clock = {"t": 0.0}
    hevc = FakeContainer([])
    hevc.stream.codec_context.name = "hevc"
    opener = Opener([FakeContainer(gop_packets(stream_units[:1])), hevc])
    source = RtspPassthroughSource("rtsp://cam/x", opener=opener, clock=lambda: clock["t"])
    source.open()
    assert source.read() is not None and source.read() is None
    clock["t"] = 10.0
    with pytest.raises(UnsupportedStreamError, match=r"H\.265"):
        source.read()


def test_corrupt_keyframe_is_not_flagged_and_does_not_start_the_stream(stream_units: list[bytes]) -> None:
    packets = [FakePacket(stream_units[0], 0, corrupt=True), *gop_packets(stream_units, 6000)]
    source = RtspPassthroughSource("rtsp://cam/x", opener=Opener([FakeContainer(packets)]))
    source.open()
    unit = source.read()
    assert unit is not None and unit.keyframe and source.skipped == 1  # started at the sound IDR
