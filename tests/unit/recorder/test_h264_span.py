"""Where an H.264 segment starts and ends (segment.h264_span) and how a window splits into
parts (segment.runs): plain data, no codec."""

from __future__ import annotations

from vigil_common.contract.envelope import Codec, Frame
from vigil_recorder.segment import h264_span, runs

IDR = b"\x00\x00\x00\x01\x67sps\x00\x00\x00\x01\x68pps\x00\x00\x01\x65idr"
P = b"\x00\x00\x00\x01\x41p"
END = 10_000


def au(n: int, key: bool, arrival: int, size: tuple[int, int] = (64, 48), codec: Codec = Codec.H264) -> runs.Arrived:
    payload = (IDR if key else P) if codec == Codec.H264 else b"\xff\xd8jpeg"
    return arrival, Frame(codec, key, n, arrival * 1_000_000, size[0], size[1], payload)


def seqs(frames: list[Frame]) -> list[int]:
    return [f.seq for f in frames]


def test_starts_at_first_keyframe_and_ends_before_the_next_one_after_the_window() -> None:
    own = [au(0, False, 9000), au(1, True, 9100), au(2, False, 9900)]
    after = [au(3, False, 10_000), au(4, True, 10_100), au(5, False, 10_200)]
    span = h264_span.plan_span(own, after, end_ms=END, now_ms=10_300, newest_arrival_ms=10_200)
    assert isinstance(span, h264_span.Span)
    assert seqs(span.frames) == [1, 2, 3] and span.lead == 1 and span.tail == 1
    assert span.end_ns == 10_100 * 1_000_000  # where the next segment starts


def test_waits_while_the_camera_streams_and_the_keyframe_has_not_arrived() -> None:
    own = [au(0, True, 9000)]
    after = [au(1, False, 10_000)]
    plan = h264_span.plan_span(own, after, end_ms=END, now_ms=10_500, newest_arrival_ms=10_000)
    assert plan == h264_span.Wait(11_500)


def test_a_quiet_camera_or_the_end_of_the_lookahead_decides_without_the_keyframe() -> None:
    own = [au(0, True, 9000)]
    after = [au(1, False, 10_000), au(2, False, 19_999), au(3, False, 20_000)]
    quiet = h264_span.plan_span(own, after[:1], end_ms=END, now_ms=13_001, newest_arrival_ms=10_000)
    assert isinstance(quiet, h264_span.Span) and seqs(quiet.frames) == [0, 1] and quiet.end_ns is None
    over = h264_span.plan_span(own, after, end_ms=END, now_ms=20_000, newest_arrival_ms=20_000)
    assert isinstance(over, h264_span.Span) and seqs(over.frames) == [0, 1, 2]  # arrived before e + lookahead


def test_a_window_without_a_keyframe_belongs_to_the_previous_segment() -> None:
    own = [au(0, False, 9000), au(1, False, 9500)]
    span = h264_span.plan_span(own, [], end_ms=END, now_ms=10_100, newest_arrival_ms=10_000)
    assert isinstance(span, h264_span.Span) and span.frames == [] and span.lead == 2


def test_a_frame_of_another_stream_after_the_window_ends_the_run() -> None:
    own = [au(0, True, 9000)]
    run = runs.Run(Codec.H264, 64, 48, list(own))
    after = [au(1, False, 10_000), au(2, False, 10_100, size=(128, 96)), au(3, False, 10_200)]
    span = h264_span.plan_span(own, after, end_ms=END, now_ms=10_300, newest_arrival_ms=10_200, matches=run.matches)
    assert isinstance(span, h264_span.Span) and seqs(span.frames) == [0, 1] and span.end_ns == 10_100 * 1_000_000


def test_a_closed_run_takes_no_tail() -> None:
    span = h264_span.plan_span([au(0, True, 9000)], [au(1, False, 10_000)], end_ms=END, now_ms=10_000,
                               newest_arrival_ms=10_000, closed=True)
    assert isinstance(span, h264_span.Span) and seqs(span.frames) == [0]


def test_runs_split_on_codec_and_h264_size_and_keep_the_biggest() -> None:
    items = [au(0, True, 1), au(1, False, 2), au(2, True, 3, size=(128, 96)), au(3, True, 4, codec=Codec.JPEG),
             au(4, True, 5, size=(99, 99), codec=Codec.JPEG)]
    split, left = runs.split_runs(items)
    assert [(r.codec, len(r.items)) for r in split] == [(Codec.H264, 2), (Codec.H264, 1), (Codec.JPEG, 2)]
    assert left == 0
    flapping = [au(i, True, i, codec=Codec.JPEG if i % 2 else Codec.H264) for i in range(10)]
    kept, left = runs.split_runs(flapping, max_parts=4)
    assert len(kept) == 4 and left == 6 and [r.items[0][0] for r in kept] == [0, 1, 2, 3]


def test_dedupe_keeps_the_first_arrival() -> None:
    a, b = au(0, True, 1), au(1, False, 2)
    kept, dupes = runs.dedupe([a, b, (3, a[1])])
    assert kept == [a, b] and dupes == 1
