"""Export range planning: which segments, where each is cut, and how packets are placed on
the output clock (vigil_recorder.exports.plan, vigil_recorder.remux.plan): pure rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from vigil_common.contract.exports import download_name, export_relpath, new_export_id, require_export_id
from vigil_recorder.exports.plan import Span, plan_pieces
from vigil_recorder.remux.plan import (
    MAX_GAP_TICKS,
    OUT_HZ,
    Cut,
    StreamInfo,
    Timeline,
    copyable,
    cut_indices,
    needs_inband_parameter_sets,
    ns_to_out_ticks,
    reference_size,
    to_ns,
)

S = 1_000_000_000
T0 = 1_700_000_000 * S


def ts(*seconds: float) -> list[int]:
    return [T0 + int(s * S) for s in seconds]


# --- which segments --------------------------------------------------------------------------


def test_pieces_are_the_overlapping_segments_in_order_each_cut_to_the_range() -> None:
    spans = [Span(T0 + 20 * S, T0 + 30 * S, "recordings/c.mp4"), Span(T0, T0 + 10 * S, "recordings/a.mp4"),
             Span(T0 + 10 * S, T0 + 20 * S, "recordings/b.mp4"), Span(T0 + 40 * S, T0 + 50 * S, "recordings/d.mp4"),
             Span(T0, T0 + 30 * S, "../etc/shadow")]  # a row naming a file outside: never an input
    pieces = plan_pieces(spans, T0 + 5 * S, T0 + 25 * S, Path("/data"))
    assert [p.path.name for p in pieces] == ["a.mp4", "b.mp4", "c.mp4"]
    assert all(p.cut_start_ns == T0 + 5 * S and p.cut_end_ns == T0 + 25 * S for p in pieces)
    assert pieces[0].path == Path("/data/recordings/a.mp4") and pieces[0].start_ns == T0
    # touching the range's edges is not overlapping it
    assert plan_pieces(spans, T0 + 30 * S, T0 + 40 * S, Path("/d")) == []
    with pytest.raises(ValueError):
        plan_pieces(spans, T0 + 5 * S, T0 + 5 * S, Path("/d"))


# --- where to cut ----------------------------------------------------------------------------


def test_cut_starts_at_the_keyframe_at_or_before_start_and_stops_before_end() -> None:
    times = ts(0, 1, 2, 3, 4, 5, 6, 7)  # one frame a second, keyframes at 0 and 4
    keys = [True, False, False, False, True, False, False, False]
    assert cut_indices(times, keys, T0 + int(2.5 * S), T0 + int(5.5 * S)) == Cut(0, 6)
    assert cut_indices(times, keys, T0 + 4 * S, T0 + 6 * S) == Cut(4, 6)  # a keyframe exactly at start
    assert cut_indices(times, keys, T0 + int(4.2 * S), None) == Cut(4, 8)
    assert cut_indices(times, keys, None, None) == Cut(0, 8)
    assert cut_indices(times, keys, T0 - 10 * S, T0 + 100 * S) == Cut(0, 8)  # the range holds the file
    assert cut_indices(times, keys, T0 + 100 * S, None) == Cut(4, 8)  # start after the file: last GOP
    assert cut_indices(times, keys, None, T0 - S).empty  # end before the file
    assert cut_indices(times, keys, T0, T0 + 1).stop == 1  # a single frame


def test_cut_skips_leading_frames_without_a_keyframe() -> None:
    times = ts(0, 1, 2, 3)
    assert cut_indices(times, [False, False, True, False], None, None) == Cut(2, 4)
    assert cut_indices(times, [False] * 4, None, None).empty
    assert cut_indices([], [], None, None).empty


def test_cut_with_b_frames_keeps_the_references_of_frames_before_end() -> None:
    # decode order I0 P3 B1 B2 I4 P7 B5 B6 (presentation seconds)
    times = ts(0, 3, 1, 2, 4, 7, 5, 6)
    keys = [True, False, False, False, True, False, False, False]
    cut = cut_indices(times, keys, T0 + int(1.5 * S), T0 + int(5.5 * S))
    assert cut == Cut(0, 7)  # up to B5 in decode order, which needs P7 (decoded before it)
    kept = times[cut.first : cut.stop]
    assert kept[0] <= T0 + int(1.5 * S)  # starts at or before the range
    assert {T0 + k * S for k in (1, 2, 3, 4, 5)} <= set(kept)


def test_cut_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError):
        cut_indices(ts(0, 1), [True], None, None)


# --- sizes and parameter sets ------------------------------------------------------------------


def test_reference_size_is_the_size_with_most_frames() -> None:
    a = StreamInfo("h264", 640, 480, b"A", 100)
    b = StreamInfo("h264", 1280, 720, b"B", 150)
    c = StreamInfo("h264", 640, 480, b"A", 60)
    assert reference_size([a, b, c]) == (640, 480)
    assert reference_size([a, b]) == (1280, 720)
    tie = [StreamInfo("h264", 320, 240, b"X", 10), StreamInfo("h264", 640, 480, b"Y", 10)]
    assert reference_size(tie) == (320, 240)
    assert reference_size([StreamInfo("mpeg4", 640, 480, b"", 10)]) is None
    assert reference_size([]) is None


def test_inband_parameter_sets_only_when_they_differ() -> None:
    a, a2 = StreamInfo("h264", 640, 480, b"A", 1), StreamInfo("h264", 640, 480, b"A", 1)
    b = StreamInfo("h264", 640, 480, b"B", 1)
    small = StreamInfo("h264", 320, 240, b"A", 1)
    size = (640, 480)
    assert not needs_inband_parameter_sets([a, a2], size)
    assert needs_inband_parameter_sets([a, b], size)
    assert needs_inband_parameter_sets([a, small], size)  # re-encoded
    assert copyable(a, size) and not copyable(small, size) and not copyable(StreamInfo("h264", 640, 480, b"", 1), size)


# --- the output clock ---------------------------------------------------------------------------


def test_timeline_places_packets_at_their_wall_clock_offset() -> None:
    tl = Timeline(origin_ns=T0)
    assert tl.place(T0 + S, T0 + S) == (OUT_HZ, OUT_HZ)
    # a gap of an hour stays an hour
    assert tl.place(T0 + 3601 * S, T0 + 3601 * S) == (3601 * OUT_HZ, 3601 * OUT_HZ)
    assert ns_to_out_ticks(149_999) == 1 and ns_to_out_ticks(150_000) == 2  # 10 kHz, rounded


def test_timeline_hold_first_starts_at_the_origin() -> None:
    tl = Timeline(origin_ns=T0, hold_first=True)
    assert tl.place(T0 + 3600 * S, T0 + 3600 * S - S // 10) == (0, 0)  # the first picture is shown from 0
    assert tl.place(T0 + 3600 * S + S // 10, T0 + 3600 * S) == (36001000, 36000000)


def test_timeline_without_origin_starts_at_the_first_packet() -> None:
    tl = Timeline()
    assert tl.place(T0 + 5 * S, T0 + 5 * S - S // 5) == (0, -2000)
    assert tl.origin_ns == T0 + 5 * S


def test_timeline_keeps_decode_times_increasing_and_shifts_overlaps() -> None:
    tl = Timeline(origin_ns=T0)
    tl.place(T0 + 10 * S, T0 + 10 * S)
    # a B-frame file's first packet decodes "before" the previous file's last one: clamped
    pts, dts = tl.place(T0 + 10 * S + S // 10, T0 + 10 * S - S // 10)
    assert dts == tl.last_dts and dts > 10 * OUT_HZ and pts >= dts
    # a file starting before the last placed frame is shifted after it
    shift = tl.file_shift(T0 + 9 * S)
    assert shift > 0 and T0 + 9 * S + shift > T0 + 10 * S + S // 10
    assert tl.shifted_ns == shift
    assert tl.file_shift(T0 + 20 * S) == 0


def test_timeline_shortens_gaps_longer_than_an_mp4_sample_can_last() -> None:
    tl = Timeline(origin_ns=T0)
    tl.place(T0, T0)
    far = T0 + 100 * 3600 * S
    pts, dts = tl.place(far, far)
    assert dts == MAX_GAP_TICKS and pts == dts
    assert tl.collapsed_ns == 100 * 3600 * S - MAX_GAP_TICKS * (S // OUT_HZ)
    assert tl.place(far + S, far + S) == (MAX_GAP_TICKS + OUT_HZ,) * 2


# --- ids and names -----------------------------------------------------------------------------


def test_export_ids_and_paths() -> None:
    eid = new_export_id()
    assert require_export_id(eid) == eid and len(eid) == 32
    assert export_relpath(eid).as_posix() == f"exports/{eid}.mp4"
    for bad in ("", "../" + "a" * 29, "A" * 32, "g" * 32, "a" * 31, "a" * 33, "a" * 32 + "\n", None, 5):
        with pytest.raises(ValueError):
            require_export_id(bad)


def test_download_name_is_safe() -> None:
    start = datetime(2024, 5, 1, 10, 0, 5, tzinfo=UTC)
    end = datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert download_name("cam-1", start, end, ZoneInfo("Europe/Berlin")) == "cam-1_20240501-120005_20240501-123000.mp4"
    # The API and `vigil export` share it: anything outside [a-z0-9_-] never reaches a header.
    assert download_name('a"b\r\n', start, end, UTC) == "a_b___20240501-100005_20240501-103000.mp4"


def test_to_ns_is_exact() -> None:
    assert to_ns(datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)) == T0 + 123_456_000


def test_an_export_that_would_cross_the_free_space_floor_is_refused(tmp_path: Path) -> None:
    from vigil_common.runtime.settings import Settings
    from vigil_recorder.exports.build import NoSpace, check_space_for
    from vigil_recorder.remux.concat import Piece

    (tmp_path / "recordings").mkdir()
    seg = tmp_path / "recordings" / "a.mp4"
    seg.write_bytes(b"x" * 1000)
    pieces = [Piece(seg, T0)]
    s = Settings(_env_file=None, data_dir=tmp_path, min_free_bytes=5000)  # type: ignore[call-arg]
    check_space_for(s, pieces, free=lambda _p: 6000)  # 6000 - 1000 leaves the 5000 floor
    with pytest.raises(NoSpace, match="VIGIL_MIN_FREE_BYTES"):
        check_space_for(s, pieces, free=lambda _p: 5999)
    no_floor = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    check_space_for(no_floor, pieces, free=lambda _p: 1000)  # no floor: exactly enough room is enough
