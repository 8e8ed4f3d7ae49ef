"""build_timeline: covered intervals, gap reasons, events and bytes per hour over synthetic
segments and camera events (no database)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vigil_api.timeline import (
    Gap,
    Interval,
    MotionSpan,
    SegmentSpan,
    StateEvent,
    build_timeline,
    bytes_per_hour,
    complement,
    merge_intervals,
)
from vigil_common.contract.days import day_bounds, parse_day

UTCZ = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2024, 5, 1)
D0, D1 = day_bounds(DAY, UTCZ)
AFTER = D1 + timedelta(days=3)  # "now" for a past day


def at(h: float) -> datetime:
    return D0 + timedelta(hours=h)


def seg(h0: float, h1: float, size: int = 1000) -> SegmentSpan:
    return SegmentSpan(at(h0), at(h1), size)


def ev(h: float, kind: str) -> StateEvent:
    return StateEvent(at(h), kind)


def test_day_bounds_and_dates() -> None:
    assert day_bounds(DAY, UTCZ) == (datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))
    start, end = day_bounds(date(2024, 5, 1), BERLIN)
    assert start == datetime(2024, 4, 30, 22, tzinfo=UTC) and end - start == timedelta(hours=24)
    spring = day_bounds(date(2024, 3, 31), BERLIN)
    autumn = day_bounds(date(2024, 10, 27), BERLIN)
    assert spring[1] - spring[0] == timedelta(hours=23)
    assert autumn[1] - autumn[0] == timedelta(hours=25)
    assert parse_day("2024-02-29") == date(2024, 2, 29)
    for bad in ("2023-02-29", "2024-13-01", "24-01-01", "2024-1-1", "today", "2024-01-01T00:00"):
        with pytest.raises(ValueError):
            parse_day(bad)


def test_merge_and_complement() -> None:
    spans = [(at(1), at(2)), (at(0), at(1)), (at(2) + timedelta(seconds=1), at(3)), (at(5), at(6)), (at(5.5), at(5.7))]
    merged = merge_intervals(spans, tolerance_s=1.5)
    assert merged == [Interval(at(0), at(3)), Interval(at(5), at(6))]
    strict = merge_intervals(spans, tolerance_s=0.5)
    assert strict[:2] == [Interval(at(0), at(2)), Interval(at(2) + timedelta(seconds=1), at(3))]
    assert complement(merged, D0, D1) == [Interval(at(3), at(5)), Interval(at(6), D1)]
    assert complement([], D0, D1) == [Interval(D0, D1)]
    assert complement([Interval(D0 - timedelta(hours=1), D1 + timedelta(hours=1))], D0, D1) == []


def test_empty_past_day_is_one_gap() -> None:
    tl = build_timeline([], [], [], D0, D1, AFTER)
    assert tl.covered == []
    assert tl.gaps == [Gap(D0, D1, "unknown")]
    assert tl.events == [] and tl.bytes_per_hour == [0] * 24


def test_empty_day_of_a_streaming_camera_is_not_recorded() -> None:
    before = [StateEvent(D0 - timedelta(days=2), "online"), StateEvent(D0 - timedelta(days=2), "streaming")]
    tl = build_timeline([], [], before, D0, D1, AFTER, first_seen=D0 - timedelta(days=2))
    assert tl.gaps == [Gap(D0, D1, "not_recorded")]


def test_segments_merge_into_covered_and_gaps_are_the_rest() -> None:
    s = timedelta(seconds=1)
    segments = [SegmentSpan(at(1), at(1) + 10 * s, 100), SegmentSpan(at(1) + 10.07 * s, at(1) + 20 * s, 100),
                SegmentSpan(at(1) + 25 * s, at(1) + 35 * s, 100)]
    tl = build_timeline(segments, [], [], D0, D1, AFTER)
    assert tl.covered == [Interval(at(1), at(1) + 20 * s), Interval(at(1) + 25 * s, at(1) + 35 * s)]
    assert [(g.start, g.end) for g in tl.gaps] == [(D0, at(1)), (at(1) + 20 * s, at(1) + 25 * s), (at(1) + 35 * s, D1)]
    # covered + gaps tile the day exactly
    pieces = sorted([(c.start, c.end) for c in tl.covered] + [(g.start, g.end) for g in tl.gaps])
    assert pieces[0][0] == D0 and pieces[-1][1] == D1
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))


def test_gap_reasons_follow_camera_events() -> None:
    events = [
        StateEvent(D0 - timedelta(hours=5), "online"),
        StateEvent(D0 - timedelta(hours=5), "streaming"),
        ev(2, "offline"),
        ev(4, "online"),  # online again; streaming state unknown until the next event...
        ev(4, "stopped"),
        ev(6, "streaming"),
        ev(8.5, "recording_lost"),
    ]
    segments = [seg(0, 1), seg(7, 8), seg(9, 24)]
    tl = build_timeline(segments, [], events, D0, D1, AFTER, first_seen=D0 - timedelta(days=1))
    assert [(g.start, g.end, g.reason) for g in tl.gaps] == [
        (at(1), at(2), "not_recorded"),
        (at(2), at(4), "offline"),
        (at(4), at(6), "stopped"),
        (at(6), at(7), "not_recorded"),
        (at(8), at(9), "recording_lost"),
    ]


def test_before_first_seen_is_no_camera_yet() -> None:
    first = at(8)
    events = [StateEvent(first, "online"), StateEvent(first, "streaming"), ev(12, "offline")]
    tl = build_timeline([seg(10, 11)], [], events, D0, D1, AFTER, first_seen=first)
    assert [(g.start, g.end, g.reason) for g in tl.gaps] == [
        (D0, at(8), "no_camera_yet"),
        (at(8), at(10), "not_recorded"),
        (at(11), at(12), "not_recorded"),
        (at(12), D1, "offline"),
    ]


def test_today_stops_at_now_and_the_newest_stretch_is_recorder_lag() -> None:
    now = at(15)
    events = [StateEvent(D0 - timedelta(days=1), "streaming")]
    tl = build_timeline([seg(0, 14.99)], [], events, D0, D1, now)
    assert tl.covered == [Interval(D0, at(14.99))]
    assert tl.gaps == [Gap(at(14.99), now, "recorder_lag")]


def test_future_day_has_nothing() -> None:
    tl = build_timeline([], [], [], D0, D1, D0 - timedelta(hours=3))
    assert tl.covered == [] and tl.gaps == []


def test_segments_crossing_midnight_are_clipped() -> None:
    segments = [SegmentSpan(D0 - timedelta(seconds=5), D0 + timedelta(seconds=5), 1000),
                SegmentSpan(D1 - timedelta(seconds=2), D1 + timedelta(seconds=8), 1000)]
    tl = build_timeline(segments, [], [], D0, D1, AFTER)
    assert tl.covered == [Interval(D0, D0 + timedelta(seconds=5)), Interval(D1 - timedelta(seconds=2), D1)]
    assert tl.bytes_per_hour[0] == 500 and tl.bytes_per_hour[23] == 200
    assert sum(tl.bytes_per_hour) == 700


def test_motion_events_overlapping_the_day() -> None:
    events = [
        MotionSpan(1, D0 - timedelta(hours=2), D0 - timedelta(hours=1), 0.5),  # before: out
        MotionSpan(2, D0 - timedelta(minutes=1), D0 + timedelta(minutes=1), 0.7),  # across midnight: in
        MotionSpan(4, at(13), None, 0.9, has_thumbnail=True),  # ongoing: in
        MotionSpan(3, at(12), at(12.1), 0.2),
        MotionSpan(5, D1, D1 + timedelta(minutes=1), 0.3),  # next day: out
    ]
    tl = build_timeline([], events, [], D0, D1, AFTER)
    assert [e.id for e in tl.events] == [2, 3, 4]
    assert tl.events[2].end is None and tl.events[2].has_thumbnail


def test_bytes_split_proportionally_across_hours() -> None:
    s = timedelta(seconds=1)
    segments = [SegmentSpan(at(1) - 10 * s, at(1) + 10 * s, 1000), SegmentSpan(at(5), at(5) + 10 * s, 333)]
    out = bytes_per_hour(segments, D0, D1, UTCZ)
    assert len(out) == 24
    assert out[0] == 500 and out[1] == 500 and out[5] == 333 and sum(out) == 1333


def test_dst_spring_day_has_23_hours_and_24_values() -> None:
    d0, d1 = day_bounds(date(2024, 3, 31), BERLIN)  # 02:00 local does not exist
    local = [datetime(2024, 3, 31, h, 30, tzinfo=BERLIN) for h in (1, 3, 23)]
    segments = [SegmentSpan(t, t + timedelta(minutes=1), 100 * (i + 1)) for i, t in enumerate(local)]
    tl = build_timeline(segments, [], [], d0, d1, d1 + timedelta(days=1), tz=BERLIN)
    assert len(tl.bytes_per_hour) == 24
    assert tl.bytes_per_hour[1] == 100 and tl.bytes_per_hour[2] == 0 and tl.bytes_per_hour[3] == 200
    assert tl.bytes_per_hour[23] == 300
    covered = sum((c.end - c.start for c in tl.covered), timedelta())
    gaps = sum((g.end - g.start for g in tl.gaps), timedelta())
    assert covered + gaps == timedelta(hours=23)


def test_dst_autumn_day_sums_the_repeated_hour() -> None:
    d0, d1 = day_bounds(date(2024, 10, 27), BERLIN)  # 02:00-03:00 local happens twice
    first = datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN)  # fold=0: the first 02:30 (CEST)
    second = first.replace(fold=1)  # the second 02:30 (CET), one hour later
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    # (adding a timedelta to a fold=1 local time drops the fold: do the arithmetic in UTC)
    starts = [t.astimezone(UTC) for t in (first, second)]
    segments = [SegmentSpan(t, t + timedelta(minutes=1), 100) for t in starts]
    tl = build_timeline(segments, [], [], d0, d1, d1 + timedelta(days=1), tz=BERLIN)
    assert tl.bytes_per_hour[2] == 200 and sum(tl.bytes_per_hour) == 200
    assert len(tl.covered) == 2
    gaps = sum((g.end - g.start for g in tl.gaps), timedelta())
    assert gaps == timedelta(hours=25) - timedelta(minutes=2)
