"""A camera's day as a timeline: covered intervals, gaps with reasons, motion events and
bytes per hour. Pure functions (no database, no clock): :func:`build_timeline` has plain
unit tests; ``routes/days.py`` does the I/O.

Days are ``[local midnight, next local midnight)`` in VIGIL_TIMEZONE (23 or 25 hours on DST
days): the rule is :mod:`vigil_common.contract.days`, shared with the recorder.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

# Segments closer than this are one covered interval: consecutive segments leave a hole of
# about one frame between them (the next window's first frame), which is not a gap.
MERGE_TOLERANCE_S = 1.5

Reason = Literal["no_camera_yet", "offline", "stopped", "recording_lost", "recorder_lag", "not_recorded", "unknown"]
STATUS_KINDS = frozenset({"online", "offline"})
STREAM_KINDS = frozenset({"streaming", "stopped"})
LOST_KIND = "recording_lost"


@dataclass(frozen=True, slots=True)
class SegmentSpan:
    start: datetime
    end: datetime
    bytes: int


@dataclass(frozen=True, slots=True)
class MotionSpan:
    id: int
    start: datetime
    end: datetime | None  # None while the motion goes on
    score: float
    has_thumbnail: bool = False


@dataclass(frozen=True, slots=True)
class StateEvent:
    """A ``camera_events`` row: ``online``, ``offline``, ``streaming``, ``stopped`` or
    ``recording_lost``."""

    time: datetime
    kind: str


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Gap:
    start: datetime
    end: datetime
    reason: Reason


@dataclass(frozen=True, slots=True)
class Timeline:
    covered: list[Interval]
    gaps: list[Gap]
    events: list[MotionSpan]
    bytes_per_hour: list[int] = field(default_factory=lambda: [0] * 24)


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC)


def merge_intervals(spans: Iterable[tuple[datetime, datetime]], tolerance_s: float) -> list[Interval]:
    """Sort and merge intervals that overlap, touch or are at most ``tolerance_s`` apart."""
    merged: list[list[datetime]] = []
    tolerance = timedelta(seconds=tolerance_s)
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start - merged[-1][1] <= tolerance:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [Interval(a, b) for a, b in merged]


def complement(covered: Sequence[Interval], start: datetime, end: datetime) -> list[Interval]:
    """The parts of ``[start, end)`` not in ``covered`` (sorted, disjoint)."""
    out: list[Interval] = []
    cursor = start
    for iv in covered:
        if iv.start > cursor:
            out.append(Interval(cursor, min(iv.start, end)))
        cursor = max(cursor, iv.end)
        if cursor >= end:
            break
    if cursor < end:
        out.append(Interval(cursor, end))
    return [iv for iv in out if iv.end > iv.start]


@dataclass(slots=True)
class _State:
    online: bool | None = None
    streaming: bool | None = None

    def apply(self, kind: str) -> None:
        if kind == "online":
            self.online = True
        elif kind == "offline":
            self.online, self.streaming = False, False
        elif kind in STREAM_KINDS:
            self.online = True  # only an online camera reports streaming/stopped
            self.streaming = kind == "streaming"


def _reason(state: _State, lost: bool, first_seen: datetime | None, piece: Interval, tail: bool) -> Reason:
    if first_seen is not None and piece.end <= first_seen:
        return "no_camera_yet"
    if state.online is False:
        return "offline"
    if state.online and state.streaming is False:
        return "stopped"
    if lost:
        return "recording_lost"
    if state.online is None and state.streaming is None:
        return "unknown"
    return "recorder_lag" if tail else "not_recorded"


def explain_gaps(
    holes: Sequence[Interval], camera_events: Sequence[StateEvent], first_seen: datetime | None, now: datetime
) -> list[Gap]:
    """Give each hole a reason, splitting it where the camera's state changed.

    The state at an instant comes from the camera events up to it (pass the last status and
    streaming events before the day too). Reasons: ``no_camera_yet`` (before the camera was
    first seen), ``offline``, ``stopped`` (online, not streaming), ``recording_lost`` (a
    ``recording_lost`` event in it), ``recorder_lag`` (online and streaming, the newest
    stretch up to now: not recorded yet), ``not_recorded`` (online and streaming, no
    footage: recorder down, motion-only recording, or footage deleted), ``unknown`` (no
    state known).
    """
    events = sorted(camera_events, key=lambda e: e.time)
    state_events = [e for e in events if e.kind in STATUS_KINDS or e.kind in STREAM_KINDS]
    lost_times = [e.time for e in events if e.kind == LOST_KIND]
    gaps: list[Gap] = []
    for hole in holes:
        cuts = {hole.start, hole.end}
        cuts.update(e.time for e in state_events if hole.start < e.time < hole.end)
        if first_seen is not None and hole.start < first_seen < hole.end:
            cuts.add(first_seen)
        points = sorted(cuts)
        for a, b in itertools.pairwise(points):
            state = _State()
            for e in state_events:
                if e.time > a:
                    break
                state.apply(e.kind)
            piece = Interval(a, b)
            lost = any(a <= t < b for t in lost_times)
            reason = _reason(state, lost, first_seen, piece, tail=b >= now)
            if gaps and gaps[-1].end == a and gaps[-1].reason == reason:
                gaps[-1] = Gap(gaps[-1].start, b, reason)
            else:
                gaps.append(Gap(a, b, reason))
    return gaps


def bytes_per_hour(segments: Iterable[SegmentSpan], day_start: datetime, day_end: datetime, tz: tzinfo) -> list[int]:
    """Bytes recorded in each local clock hour 0..23 of the day.

    A segment's bytes are spread over the hours it overlaps in proportion to the overlap
    (footage outside the day is left out). On a 25-hour day the repeated clock hour holds
    both real hours; on a 23-hour day the skipped clock hour is 0.
    """
    day_start, day_end = _utc(day_start), _utc(day_end)
    hours = max(1, round((day_end - day_start).total_seconds() / 3600))
    buckets = [0.0] * hours
    for seg in segments:
        seg_start, seg_end = _utc(seg.start), _utc(seg.end)
        length = (seg_end - seg_start).total_seconds()
        if length <= 0:
            continue
        lo, hi = max(seg_start, day_start), min(seg_end, day_end)
        k = max(0, int((lo - day_start).total_seconds() // 3600))
        while lo < hi and k < hours:
            bucket_end = min(hi, day_start + timedelta(hours=k + 1))
            buckets[k] += seg.bytes * (bucket_end - lo).total_seconds() / length
            lo, k = bucket_end, k + 1
    out = [0.0] * 24
    for k, amount in enumerate(buckets):
        out[(day_start + timedelta(hours=k)).astimezone(tz).hour] += amount
    return [round(x) for x in out]


def build_timeline(
    segments: Sequence[SegmentSpan],
    events: Sequence[MotionSpan],
    camera_events: Sequence[StateEvent],
    day_start: datetime,
    day_end: datetime,
    now: datetime,
    *,
    tz: tzinfo = UTC,
    first_seen: datetime | None = None,
    tolerance_s: float = MERGE_TOLERANCE_S,
) -> Timeline:
    """The day ``[day_start, day_end)`` of one camera.

    ``covered``: the segments clipped to the day and merged (touching or within
    ``tolerance_s``). ``gaps``: the rest of the day up to ``now`` (all of it for a past day;
    nothing for a future one), each with a reason (:func:`explain_gaps`). ``events``: the
    motion events overlapping the day. ``bytes_per_hour``: see :func:`bytes_per_hour`.
    A day without footage is one gap (or a few, where the camera's state changed).

    All instants are normalised to UTC first: Python compares and subtracts datetimes that
    share a ``tzinfo`` by wall clock, which is wrong across a DST change.
    """
    day_start, day_end, now = _utc(day_start), _utc(day_end), _utc(now)
    first_seen = _utc(first_seen) if first_seen is not None else None
    segments = [SegmentSpan(_utc(s.start), _utc(s.end), s.bytes) for s in segments]
    events = [MotionSpan(e.id, _utc(e.start), _utc(e.end) if e.end is not None else None, e.score, e.has_thumbnail)
              for e in events]
    camera_events = [StateEvent(_utc(e.time), e.kind) for e in camera_events]
    clipped = [(max(s.start, day_start), min(s.end, day_end)) for s in segments]
    covered = merge_intervals(clipped, tolerance_s)
    horizon = min(day_end, max(now, day_start))
    holes = complement(covered, day_start, horizon)
    gaps = explain_gaps(holes, camera_events, first_seen, now)
    in_day = [e for e in events if e.start < day_end and (e.end is None or e.end > day_start)]
    in_day.sort(key=lambda e: (e.start, e.id))
    return Timeline(covered, gaps, in_day, bytes_per_hour(segments, day_start, day_end, tz))
