"""The live fMP4 writer: real libx264 access units in, boxes out, decoded back with PyAV; and an
MP4 viewer's bounded queue."""

from __future__ import annotations

import asyncio
import io
import itertools

import av
import pytest

from tests.integration.support.h264 import (
    H264Encoder,
    boxes,
    decode_mp4,
    decode_time,
    first_sample_flags,
    frames,
)
from vigil_api.live import LiveFrame, Mp4Viewer
from vigil_api.live_mp4 import (
    DEFAULT_DURATION,
    KEY_FLAGS,
    AvcTrack,
    Mp4Error,
    Timeline,
    fragment,
    to_sample,
)
from vigil_common.contract import h264
from vigil_common.contract.envelope import Frame

FPS = 30


def write(frames_in: list[Frame], skip: frozenset[int] = frozenset()) -> tuple[bytes, list[bytes]]:
    """The init segment, and one fragment per frame not in ``skip`` (a gap closes as a viewer's)."""
    first = frames_in[0]
    track = AvcTrack.from_access_unit(first.payload, first.width, first.height)
    timeline = Timeline()
    out: list[bytes] = []
    gap = False
    for i, f in enumerate(frames_in):
        if i in skip:
            gap = True
            continue
        seq, t, duration = timeline.next(f.capture_ns, gap=gap)
        gap = False
        out.append(fragment(seq, t, duration, to_sample(f.payload), h264.is_idr(f.payload)))
    return track.init_segment(), out


def test_init_and_one_fragment_per_frame_decode_back() -> None:
    src = frames(3 * FPS, gop=15)  # three seconds, a keyframe every half second
    init, frags = write(src)
    assert [k for k, _ in boxes(init)] == [b"ftyp", b"moov"]
    assert len(frags) == len(src)
    for frag, f in zip(frags, src, strict=True):
        assert [k for k, _ in boxes(frag)] == [b"moof", b"mdat"]
        assert (first_sample_flags(frag) == KEY_FLAGS) == f.keyframe
    pictures = decode_mp4(init + b"".join(frags))
    assert len(pictures) == len(src)
    assert all((p.width, p.height) == (160, 96) for p in pictures)
    times = [p.time for p in pictures]
    assert times == sorted(times) and len(set(times)) == len(times), "timestamps increase"
    assert times[0] == 0
    assert times[-1] == pytest.approx((len(src) - 1) / FPS, abs=0.002)  # the capture times' spacing


def test_each_fragment_stands_alone_after_the_init() -> None:
    """A viewer joining at a keyframe: init + fragments from there decode on their own."""
    src = frames(40, gop=15)
    start = next(i for i, f in enumerate(src) if f.keyframe and i > 0)  # the second keyframe
    init, frags = write(src[start:])
    assert len(decode_mp4(init + b"".join(frags))) == len(src) - start


def test_a_gap_is_closed_and_never_a_discontinuity() -> None:
    """Frames dropped up to a keyframe (a slow viewer): the next fragment follows directly."""
    src = frames(45, gop=15)
    skip = frozenset(range(20, 30))  # 20..29 dropped; 30 is a keyframe
    assert src[30].keyframe
    init, frags = write(src, skip)
    times = [decode_time(f) for f in frags]
    step = 90_000 // FPS
    deltas = [b - a for a, b in itertools.pairwise(times)]
    assert all(d == pytest.approx(step, abs=2) for d in deltas), deltas
    assert len(decode_mp4(init + b"".join(frags))) == len(src) - len(skip)


def test_timeline_handles_clock_steps_and_rate_changes() -> None:
    tl = Timeline()
    assert tl.next(10**18) == (1, 0, DEFAULT_DURATION)
    _, t, d = tl.next(10**18 + 100_000_000)  # 10 fps: 9000 ticks, more than twice the default
    assert t == DEFAULT_DURATION and d == 9000  # a jump is closed; the interval is learned
    _, t2, _ = tl.next(10**18 + 200_000_000)
    assert t2 == t + 9000
    _, t3, _ = tl.next(10**17)  # the camera's clock went back: still forward
    assert t3 == t2 + 9000
    _, t4, _ = tl.next(10**17 + 3_600 * 10**9)  # an hour's pause: one interval later
    assert t4 == t3 + 9000


def test_high_profile_avcc_and_codec_string() -> None:
    enc = H264Encoder(320, 180, gop=10)
    enc.ctx.options = {**enc.ctx.options, "profile": "high", "preset": "veryfast"}
    aus = [enc.encode() for _ in range(20)]
    track = AvcTrack.from_access_unit(aus[0], 320, 180)
    assert track.codec.startswith("avc1.64")  # High
    avcc = track.avcc()
    assert avcc[4:8] == b"avcC" and len(avcc) == 8 + 6 + 2 + len(track.sps[0]) + 1 + 2 + len(track.pps[0]) + 4
    assert avcc[-4:-1] == bytes([0xFD, 0xF8, 0xF8])  # 4:2:0, 8-bit
    timeline = Timeline()
    body = track.init_segment() + b"".join(
        fragment(*timeline.next(i * 33_333_333), to_sample(au), h264.is_idr(au)) for i, au in enumerate(aus))
    assert len(decode_mp4(body)) == len(aus)
    # the codec string a browser is given matches the stream
    with av.open(io.BytesIO(body), format="mp4") as c:
        assert c.streams.video[0].codec_context.profile == "High"


def test_an_access_unit_without_parameter_sets_cannot_start_a_track() -> None:
    src = frames(2)
    with pytest.raises(Mp4Error):
        AvcTrack.from_access_unit(src[1].payload, 160, 96)
    same = AvcTrack.from_access_unit(src[0].payload, 160, 96)
    assert same.key == AvcTrack.from_access_unit(src[0].payload, 160, 96).key
    assert same.key != AvcTrack.from_access_unit(frames(1, 320, 192)[0].payload, 320, 192).key


def test_a_viewer_queue_drops_up_to_the_next_keyframe_when_full() -> None:
    track = AvcTrack.from_access_unit(frames(1)[0].payload, 160, 96)

    def lf(i: int, start: bool) -> LiveFrame:
        return LiveFrame(track, b"x" * 10, i, start, start)

    async def scenario() -> None:
        v = Mp4Viewer("cam1", max_frames=3)
        v.offer(lf(0, False))  # before any start: nothing to decode it with
        assert v.queued == 0 and v.dropped == 0
        for i, start in ((1, True), (2, False), (3, False), (4, False), (5, False), (6, True), (7, False)):
            v.offer(lf(i, start))
        # 1..3 queued, 4 overflowed: 4 and 5 dropped, 6 (a start) replaced the stale 1..3
        got = [await v.get() for _ in range(v.queued)]
        assert [(f.capture_ns, gap) for f, gap in got] == [(6, True), (7, False)]
        assert v.dropped == 2 + 3
        v.end()
        v.offer(lf(8, True))  # after the end: ignored
        assert await v.get() is None

    asyncio.run(asyncio.wait_for(scenario(), 5))
