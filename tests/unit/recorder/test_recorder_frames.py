"""Pure rules of the recorder: ordering, dedup, codec choice, timestamps, timing."""

from __future__ import annotations

import itertools

import pytest

from vigil_common.contract import streams
from vigil_common.contract.envelope import Codec, Frame
from vigil_recorder.media import frames as fr

T0 = 1_700_000_000_000_000_000
GAP = 66_666_667  # 15 fps


def mk(seq: int, t: int, codec: Codec = Codec.JPEG, payload: bytes = b"x") -> Frame:
    return Frame(codec, True, seq, t, 320, 240, payload)


def test_order_sorts_by_capture_time_then_seq() -> None:
    frames = [mk(3, T0 + 2 * GAP), mk(1, T0), mk(2, T0 + GAP), mk(9, T0)]
    ordered = fr.order_frames(frames)
    assert [(f.seq, f.capture_ns) for f in ordered] == [(1, T0), (9, T0), (2, T0 + GAP), (3, T0 + 2 * GAP)]


def test_order_drops_exact_duplicates_only() -> None:
    frames = [mk(1, T0), mk(1, T0, payload=b"again"), mk(1, T0 + GAP), mk(2, T0)]
    ordered = fr.order_frames(frames)
    # same (seq, capture) once; same seq at another time kept (camera restart); same time other seq kept
    assert [(f.seq, f.capture_ns) for f in ordered] == [(1, T0), (2, T0), (1, T0 + GAP)]


def test_select_frames_counts_duplicates_and_other_codec() -> None:
    frames = [mk(1, T0), mk(1, T0), mk(2, T0 + GAP), mk(3, T0 + 2 * GAP, Codec.H264)]
    sel = fr.select_frames(frames)
    assert sel.codec == Codec.JPEG
    assert [f.seq for f in sel.frames] == [1, 2]
    assert (sel.duplicates, sel.other_codec) == (1, 1)


def test_select_codec_majority_and_tie_prefers_h264() -> None:
    assert fr.select_codec([]) == (None, [], 0)
    tie = [mk(1, T0), mk(2, T0 + GAP, Codec.H264)]
    codec, kept, dropped = fr.select_codec(tie)
    assert codec == Codec.H264 and [f.seq for f in kept] == [2] and dropped == 1


def test_parse_entries_skips_malformed() -> None:
    good = streams.to_fields(mk(5, T0, payload=b"\xff\xd8..\xff\xd9"))
    fields = {k: str(v).encode() if isinstance(v, int) else v for k, v in good.items()}
    bad = dict(fields)
    del bad[b"t"]
    worse = dict(fields)
    worse[b"codec"] = b"7"
    frames, malformed = fr.parse_entries([(b"1-0", fields), (b"1-1", bad), (b"1-2", worse)])
    assert malformed == 2
    assert len(frames) == 1 and frames[0].seq == 5 and frames[0].capture_ns == T0


def test_presentation_ts_from_capture_offsets() -> None:
    capture = [T0, T0 + GAP, T0 + 2 * GAP, T0 + 5 * GAP]  # VFR: a gap of 3 frames
    assert fr.presentation_ts(capture) == [0, 6000, 12000, 30000]
    assert fr.presentation_ts([]) == []


def test_presentation_ts_strictly_increasing_on_equal_times() -> None:
    capture = [T0, T0, T0 + 5_000, T0 + GAP]  # equal, then 0.45 tick apart (rounds to 0)
    pts = fr.presentation_ts(capture)
    assert pts == [0, 1, 2, 6000]
    assert all(b > a for a, b in itertools.pairwise(pts))


def test_pts_clock_matches_batch_function() -> None:
    capture = [T0, T0, T0 + 10, T0 + GAP, T0 + 3 * GAP + 17]
    clock = fr.PtsClock()
    assert [clock.next(t) for t in capture] == fr.presentation_ts(capture)


def test_ns_to_ticks_rounds_to_nearest() -> None:
    assert fr.ns_to_ticks(GAP) == 6000
    assert fr.ns_to_ticks(1_000_000_000) == 90_000
    assert fr.ns_to_ticks(5_555) == 0 and fr.ns_to_ticks(5_556) == 1


def test_durations_gap_to_next_and_last() -> None:
    assert fr.durations([0, 6000, 18000], 6000) == [6000, 12000, 6000]
    assert fr.durations([], 6000) == []
    assert fr.durations([0], 0) == [1]


def test_median_gap_and_frame_duration() -> None:
    capture = [T0, T0 + GAP, T0 + 2 * GAP, T0 + 10 * GAP, T0 + 11 * GAP]
    assert fr.median_gap_ns(capture) == GAP  # one long gap (a drop) does not skew it
    assert fr.frame_duration_ns(capture) == GAP
    assert fr.median_gap_ns([T0]) is None
    assert fr.frame_duration_ns([T0]) == fr.DEFAULT_FRAME_NS
    assert fr.frame_duration_ns([T0, T0 + 9 * 10**9], max_ns=2 * 10**9) == 2 * 10**9


def test_segment_timing_end_is_last_plus_one_frame() -> None:
    capture = [T0 + i * GAP for i in range(150)]
    timing = fr.segment_timing(capture)
    assert timing.start_ns == T0
    assert timing.end_ns == T0 + 150 * GAP
    assert timing.duration_s == pytest.approx(10.0, abs=1e-6)
    single = fr.segment_timing([T0])
    assert single.end_ns - single.start_ns == fr.DEFAULT_FRAME_NS
    with pytest.raises(ValueError):
        fr.segment_timing([])


def test_fps_estimate_and_keyframe_interval() -> None:
    assert fr.fps_estimate([T0 + i * GAP for i in range(10)]) == pytest.approx(15.0, rel=1e-6)
    assert fr.fps_estimate([T0]) == pytest.approx(15.0)
    assert fr.keyframe_interval(15.0) == 30
    assert fr.keyframe_interval(0.1) == 1
    assert fr.keyframe_interval(10_000.0) == 600


@pytest.mark.parametrize(
    ("size", "even"),
    [((1280, 720), (1280, 720)), ((1281, 721), (1280, 720)), ((1, 1), (2, 2)), ((3, 2), (2, 2))],
)
def test_even_size(size: tuple[int, int], even: tuple[int, int]) -> None:
    assert fr.even_size(*size) == even


def test_metric_deltas_from_a_summary() -> None:
    from vigil_common.contract.metrics import CATALOG, metric_field
    from vigil_common.runtime.counters import sample_name
    from vigil_recorder.metrics import WRITE_SECONDS, metric_deltas

    written = {"camera_id": "c", "status": "written", "frames": 10, "bytes": 999, "decode_errors": 2}
    assert metric_deltas(written) == {
        sample_name("vigil_recorder_segments_total", camera="c", status="written"): 1,
        sample_name("vigil_recorder_frames_total", camera="c"): 10,
        sample_name("vigil_recorder_bytes_total", camera="c"): 999,
        sample_name("vigil_recorder_frames_dropped_total", camera="c", reason="decode_error"): 2,
    }
    assert metric_deltas({"camera_id": "c", "status": "empty"}, 0.5) == {
        sample_name("vigil_recorder_segments_total", camera="c", status="empty"): 1
    }
    timed = metric_deltas(written, 0.2)
    bounds = CATALOG[WRITE_SECONDS].buckets
    assert 0.25 in bounds and timed[metric_field(WRITE_SECONDS, part="0.25")] == 1
    assert timed[metric_field(WRITE_SECONDS, part="sum_us")] == 200_000
