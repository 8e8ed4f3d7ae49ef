"""RtspPassthroughSource against a real RTSP camera (GStreamer's gst-rtsp-server, x264enc).

The units must be the camera's own encoding (same parameter sets as another client receives,
every unit decodes to exactly one picture), keyframes self-contained, capture times monotonic
across a camera reboot, and every refusal a one-line message saying what is wrong.
"""

from __future__ import annotations

import functools
import http.server
import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import av.logging
import pytest

from tests.support.rtsp import RtspServer, rtsp_server  # noqa: F401 - the fixture
from vigil_capture.access_units import AccessUnit, EncodedSource
from vigil_capture.h264_sps import parse_extradata, sps_dimensions
from vigil_capture.rtsp_passthrough import RtspPassthroughSource, UnsupportedStreamError
from vigil_capture.sources import SourceError
from vigil_common.contract import h264

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

StartServer = Callable[..., RtspServer]


def collect(source: RtspPassthroughSource, count: int, timeout: float = 20.0) -> list[AccessUnit]:
    units: list[AccessUnit] = []
    deadline = time.monotonic() + timeout
    while len(units) < count and time.monotonic() < deadline:
        unit = source.read()
        if unit is None:
            time.sleep(0.02)  # what the read loop does after a miss
            continue
        units.append(unit)
    assert len(units) == count, f"got {len(units)} of {count} access units"
    return units


def parameter_sets(unit: AccessUnit) -> list[bytes]:
    return [n for n in h264.split_annexb(unit.data) if n[0] & 0x1F in (h264.NAL_SPS, h264.NAL_PPS)]


def decoded_frames(units: list[AccessUnit]) -> list[tuple[int, int]]:
    """Decode the units one packet each; the sizes of the pictures that come out."""
    codec = av.CodecContext.create("h264", "r")
    sizes = []
    for unit in units:
        sizes += [(f.width, f.height) for f in codec.decode(av.Packet(unit.data))]
    sizes += [(f.width, f.height) for f in codec.decode(None)]
    return sizes


def assert_times(units: list[AccessUnit], fps: int, read_done_ns: int) -> None:
    """``read_done_ns``: the wall clock right after the last unit was read (taken later, it would
    count whatever the test did since, e.g. a second RTSP client's handshake, as clock lag)."""
    times = [u.capture_ns for u in units]
    assert all(b > a for a, b in itertools.pairwise(times)), "capture times must increase"
    assert all(t <= read_done_ns for t in times), "no capture time in the future"
    assert read_done_ns - times[-1] < 2_000_000_000  # close to the wall clock
    gaps = [(b - a) / 1e6 for a, b in itertools.pairwise(times)]
    median = sorted(gaps)[len(gaps) // 2]
    assert abs(median - 1000 / fps) < 5, f"median frame interval {median:.1f} ms, stream is {fps} fps"


@pytest.mark.parametrize("inband", [True, False], ids=["sps-in-band", "sps-only-in-sdp"])
def test_forwards_the_cameras_own_encoding(rtsp_server: StartServer, inband: bool) -> None:  # noqa: F811
    server = rtsp_server(size=(320, 240), fps=15, key_int=15, inband_parameter_sets=inband)
    source = RtspPassthroughSource(server.url())
    assert isinstance(source, EncodedSource) and source.kind == "url" and source.codec == "h264"
    source.open()
    try:
        units = collect(source, 40)
        read_done_ns = time.time_ns()
    finally:
        source.close()
    first = units[0]
    assert first.keyframe and h264.can_start_segment(first.data)
    assert (first.width, first.height) == (320, 240)
    keyframes = [i for i, u in enumerate(units) if u.keyframe]
    assert len(keyframes) >= 2 and keyframes[1] - keyframes[0] == 15
    for unit in units:
        assert unit.data.startswith(b"\x00\x00\x00\x01") or unit.data.startswith(b"\x00\x00\x01")
        assert unit.keyframe == h264.is_idr(unit.data)
        if unit.keyframe:
            assert h264.can_start_segment(unit.data)  # SPS/PPS in band on every keyframe

    # The same parameter sets another client of the camera gets (its SDP / extradata): the
    # camera's encoding, not a re-encode.
    with av.open(server.url(), options={"rtsp_transport": "tcp"}, timeout=(10, 10)) as other:
        _, sets = parse_extradata(other.streams.video[0].codec_context.extradata)
    assert parameter_sets(first) == [*sets.sps, *sets.pps]
    # Every unit is one decodable picture.
    assert decoded_frames(units) == [(320, 240)] * len(units)
    assert_times(units, 15, read_done_ns)


def test_reconnects_after_a_camera_reboot_without_going_back_in_time(rtsp_server: StartServer) -> None:  # noqa: F811
    server = rtsp_server(fps=15, key_int=15)
    source = RtspPassthroughSource(server.url(), read_timeout_s=3, initial_backoff_s=0.2, max_backoff_s=1.0)
    source.open()
    try:
        before = collect(source, 20)
        server.restart(down_s=1.0)
        # What was still buffered from the first connection comes first; the read that
        # reconnects returns the new connection's first unit.
        after: list[AccessUnit] = []
        deadline = time.monotonic() + 30
        while not after and time.monotonic() < deadline:
            reconnects = source.reconnects
            unit = source.read()
            if unit is None:
                time.sleep(0.02)
            else:
                (before if source.reconnects == reconnects else after).append(unit)
        assert source.reconnects == 1
        after += collect(source, 29, timeout=30)
        read_done_ns = time.time_ns()
    finally:
        source.close()
    assert after[0].keyframe and h264.can_start_segment(after[0].data)
    times = [u.capture_ns for u in before + after]
    assert all(b > a for a, b in itertools.pairwise(times))
    gap = after[0].capture_ns - before[-1].capture_ns
    assert gap >= 1_000_000_000 // 15  # at least a frame after the last one before the reboot
    assert_times(after, 15, read_done_ns)
    assert decoded_frames(after) == [(320, 240)] * len(after)


def test_wrong_credentials_name_authentication(rtsp_server: StartServer) -> None:  # noqa: F811
    server = rtsp_server(user="viewer", password="s3cret-pw")
    with pytest.raises(SourceError, match="authentication failed") as info:
        RtspPassthroughSource(server.url(password="wrong-pw")).open()
    message = str(info.value)
    assert "wrong-pw" not in message and "viewer:***@" in message and "\n" not in message
    with pytest.raises(SourceError, match=r"authentication failed.*no user name"):
        RtspPassthroughSource(server.url(user="")).open()
    source = RtspPassthroughSource(server.url())
    source.open()
    try:
        assert collect(source, 3)[0].keyframe
    finally:
        source.close()


def test_unreachable_port_names_unreachable() -> None:
    from tests.conftest import free_port

    url = f"rtsp://user:hidden@127.0.0.1:{free_port()}/stream"
    with pytest.raises(SourceError, match="unreachable") as info:
        RtspPassthroughSource(url, open_timeout_s=3).open()
    assert "hidden" not in str(info.value)


def test_b_frame_stream_is_refused_with_a_clear_message(rtsp_server: StartServer) -> None:  # noqa: F811
    server = rtsp_server(bframes=2, key_int=30)
    with pytest.raises(UnsupportedStreamError, match="B-frames") as info:
        RtspPassthroughSource(server.url()).open()
    assert "turn B-frames off" in str(info.value)


def test_h265_camera_is_refused(rtsp_server: StartServer) -> None:  # noqa: F811
    try:
        server = rtsp_server(codec="h265")
    except RuntimeError as exc:  # x265enc is in plugins-bad, not always installed
        pytest.skip(f"no H.265 encoder in GStreamer: {exc}")
    with pytest.raises(UnsupportedStreamError) as info:
        RtspPassthroughSource(server.url()).open()
    assert str(info.value) == (
        "camera sends H.265 (HEVC); Vigil records H.264 only — set the camera's encoder to H.264"
    )


def test_resolution_change_is_reported_from_the_new_sps(rtsp_server: StartServer) -> None:  # noqa: F811
    server = rtsp_server(size=(320, 240), alt_size=(480, 272), fps=15, key_int=15)
    source = RtspPassthroughSource(server.url())
    source.open()
    try:
        units = collect(source, 15)
        server.switch_size()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and units[-1].width != 480:
            units += collect(source, 1)
        units += collect(source, 10)
    finally:
        source.close()
    sizes = [(u.width, u.height) for u in units]
    assert sizes[0] == (320, 240) and sizes[-1] == (480, 272)
    change = sizes.index((480, 272))
    assert units[change].keyframe  # the size changes at a keyframe carrying the new SPS
    sps = [n for n in h264.split_annexb(units[change].data) if n[0] & 0x1F == h264.NAL_SPS]
    assert sps_dimensions(sps[0]) == (480, 272)
    assert set(sizes[change:]) == {(480, 272)}
    assert decoded_frames(units) == sizes


def test_http_mp4_with_avcc_becomes_annexb(tmp_path: Path) -> None:
    """An HTTP stream whose demuxer gives avcC extradata and length-prefixed samples."""
    import numpy as np

    with av.open(str(tmp_path / "clip.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.codec_context.gop_size = 10
        stream.codec_context.max_b_frames = 0
        stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency"}
        for i in range(30):
            img = np.full((96, 160, 3), (i * 8) % 256, np.uint8)
            img[:, (i * 5) % 150 : (i * 5) % 150 + 8] = 255
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(stream.encode(None))
    with av.open(str(tmp_path / "clip.mp4")) as check:
        assert check.streams.video[0].codec_context.extradata[0] == 1  # avcC

    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = RtspPassthroughSource(f"http://127.0.0.1:{server.server_address[1]}/clip.mp4")
        source.open()
        try:
            units = collect(source, 30)
        finally:
            source.close()
    finally:
        server.shutdown()
        server.server_close()
    assert all(u.data.startswith(b"\x00\x00\x00\x01") for u in units)
    assert [i for i, u in enumerate(units) if u.keyframe] == [0, 10, 20]
    assert all(h264.can_start_segment(u.data) for u in units if u.keyframe)
    assert decoded_frames(units) == [(160, 96)] * 30


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_packet_loss_over_udp_drops_the_damaged_units_up_to_the_next_keyframe(
    rtsp_server: StartServer,  # noqa: F811
) -> None:
    """Real loss on the way: the server drops 2 % of its RTP packets (400-byte packets, so a picture
    spans several). Without detection those holes reach the recorder as access units the decoder
    can only conceal; with it, every unit the pipeline would send decodes without an error."""
    from vigil_capture.access_units import KeyframeGate

    camera = rtsp_server(size=(640, 480), fps=15, key_int=15, bitrate=2000, drop_probability=0.02)
    source = RtspPassthroughSource(camera.url(), transport="udp")
    source.open()
    try:
        units = collect(source, 150, timeout=40)
    finally:
        source.close()
    assert source.damaged >= 1, "2 % RTP loss was not noticed"
    damaged = [u for u in units if u.damaged]
    assert damaged and not any(u.keyframe for u in damaged)
    gate, sent = KeyframeGate(), []
    for unit in units:  # PassthroughPipeline's rule: a damaged unit and its dependants are dropped
        if unit.damaged:
            gate.dropped()
        elif gate.admit(unit.keyframe):
            sent.append(unit)
    assert len(sent) < len(units) - len(damaged)  # the dependants went too
    codec = av.CodecContext.create("h264", "r")
    with av.logging.Capture(local=True) as logs:
        pictures = sum(len(codec.decode(av.Packet(u.data))) for u in sent) + len(codec.decode(None))
    errors = [m for level, _n, m in logs if level <= av.logging.ERROR]
    assert pictures == len(sent) and errors == [], errors[:5]
    # The control: the units as FFmpeg gave them do not decode cleanly (the loss was real).
    codec = av.CodecContext.create("h264", "r")
    with av.logging.Capture(local=True) as logs:
        for unit in units:
            codec.decode(av.Packet(unit.data))
    assert [m for level, _n, m in logs if level <= av.logging.ERROR]
