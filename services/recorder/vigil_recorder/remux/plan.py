"""Pure decisions of a remux: where to cut a file, which files can be copied as they are,
and how wall-clock times map onto the output track's clock.

Times here are wall-clock nanoseconds since the Unix epoch; the output track runs on a
10 kHz clock (:data:`OUT_HZ`): fine enough for any frame rate, and coarse enough that one
sample may last 59 hours within MP4's 32-bit sample durations, so a gap of a whole day can
be one held frame.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

NS_PER_S = 1_000_000_000
OUT_HZ = 10_000
OUT_TIME_BASE = Fraction(1, OUT_HZ)
_NS_PER_TICK = NS_PER_S // OUT_HZ
MAX_SAMPLE_TICKS = 2**31 - 1  # ffmpeg's mov muxer rejects longer sample durations
MAX_GAP_TICKS = MAX_SAMPLE_TICKS // 2  # longer gaps (~30 h) are shortened to this


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ns(instant: datetime) -> int:
    """An aware datetime as nanoseconds since the epoch (exact)."""
    return (instant - _EPOCH) // timedelta(microseconds=1) * 1000


def ns_to_out_ticks(ns: int) -> int:
    """Nanoseconds (relative to the output's origin) to output ticks, rounded to nearest."""
    return (ns + _NS_PER_TICK // 2) // _NS_PER_TICK


def ticks_to_ns(ticks: int, time_base: Fraction) -> int:
    """Ticks of an input stream's ``time_base`` to nanoseconds (exact, floored)."""
    return ticks * time_base.numerator * NS_PER_S // time_base.denominator


@dataclass(frozen=True, slots=True)
class Cut:
    """Packets ``[first, stop)`` of a file in decode order (empty when ``first >= stop``)."""

    first: int
    stop: int

    @property
    def empty(self) -> bool:
        return self.first >= self.stop


def cut_indices(times_ns: Sequence[int], keyframes: Sequence[bool], start_ns: int | None, end_ns: int | None) -> Cut:
    """Which packets of one file (decode order) to copy for the range ``[start_ns, end_ns)``.

    ``times_ns`` are the packets' presentation times. The copy starts at the last keyframe
    presented at or before ``start_ns`` (so the range's first instant is included, at most one
    GOP early), or at the first keyframe if the file starts later; nothing before a keyframe
    can be decoded. It stops after the last packet (in decode order) presented before
    ``end_ns``: every frame shown before ``end_ns`` is included with the frames it references
    (with B-frames, a reference shown just after ``end_ns`` may come along). ``None`` bounds
    mean "from the first keyframe" / "to the end".
    """
    if len(times_ns) != len(keyframes):
        raise ValueError("times_ns and keyframes differ in length")
    first: int | None = None
    for i, (t, key) in enumerate(zip(times_ns, keyframes, strict=True)):
        if not key:
            continue
        if first is None or start_ns is None or t <= start_ns:
            first = i
        if start_ns is None or t > start_ns:
            break
    if first is None:
        return Cut(0, 0)
    stop = first
    for i in range(first, len(times_ns)):
        if end_ns is None or times_ns[i] < end_ns:
            stop = i + 1
    return Cut(first, stop)


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a remux needs to know about one input file's video stream."""

    codec: str
    width: int
    height: int
    extradata: bytes
    frames: int = 0


def reference_size(infos: Sequence[StreamInfo]) -> tuple[int, int] | None:
    """The output's picture size: the H.264 size holding the most frames (ties: the earliest
    such file's). Files of another size or codec are re-encoded to it; None if nothing is H.264."""
    counts: Counter[tuple[int, int]] = Counter()
    order: dict[tuple[int, int], int] = {}
    for i, info in enumerate(infos):
        if info.codec != "h264":
            continue
        size = (info.width, info.height)
        counts[size] += max(1, info.frames)
        order.setdefault(size, i)
    if not counts:
        return None
    return max(counts, key=lambda s: (counts[s], -order[s]))


def copyable(info: StreamInfo, size: tuple[int, int]) -> bool:
    """True if the file's packets can go into the output unchanged (same codec and size)."""
    return info.codec == "h264" and (info.width, info.height) == size and bool(info.extradata)


def needs_inband_parameter_sets(infos: Sequence[StreamInfo], size: tuple[int, int]) -> bool:
    """True if the output mixes parameter sets: more than one distinct ``avcC`` among the
    copied files, or any re-encoded file. Then every keyframe carries its own SPS/PPS (one
    file's sets in ``avcC`` would mislead the decoder on the others, even after a seek)."""
    copied = {info.extradata for info in infos if copyable(info, size)}
    return len(copied) > 1 or any(not copyable(info, size) for info in infos)


@dataclass
class Timeline:
    """Maps input packets onto the output clock, keeping it valid for the MP4 muxer.

    ``origin_ns`` is the wall-clock instant of output time 0 (None: the first packet's).
    With ``hold_first`` the first packet is presented at 0 whatever its time, so the output
    starts exactly at the origin (a day video starts at midnight and its position is the
    time of day; the first picture is shown until the footage starts). Each later packet is
    placed at its wall-clock offset: gaps in the footage stay gaps in time (the last picture
    is held). Decode times are kept strictly increasing and never after presentation times;
    a file that overlaps the previous one is shifted just after it (``shifted_ns`` totals it),
    and a gap longer than :data:`MAX_GAP_TICKS` (only possible in very long exports) is
    shortened to it (``collapsed_ns``), as one MP4 sample cannot last longer.
    """

    origin_ns: int | None = None
    hold_first: bool = False
    last_dts: int | None = None
    last_pts_ns: int | None = None
    shifted_ns: int = 0
    collapsed_ns: int = 0
    packets: int = 0

    def file_shift(self, first_pts_ns: int) -> int:
        """The delay (ns) to add to a file whose first presented frame is at ``first_pts_ns``
        so it starts after everything already placed (0 unless the files overlap)."""
        if self.last_pts_ns is None or first_pts_ns > self.last_pts_ns:
            return 0
        shift = self.last_pts_ns - first_pts_ns + _NS_PER_TICK
        self.shifted_ns += shift
        return shift

    def place(self, pts_ns: int, dts_ns: int) -> tuple[int, int]:
        """Output ``(pts, dts)`` ticks for a packet presented at ``pts_ns``, decoded at ``dts_ns``
        (both wall-clock, shift included). Call in decode order."""
        if self.origin_ns is None:
            self.origin_ns = pts_ns
        pts = ns_to_out_ticks(pts_ns - self.origin_ns)
        dts = ns_to_out_ticks(dts_ns - self.origin_ns)
        if self.hold_first and self.packets == 0:
            pts, dts = 0, min(dts, 0)
        elif self.last_dts is not None and dts - self.last_dts > MAX_GAP_TICKS:
            excess = dts - self.last_dts - MAX_GAP_TICKS
            self.origin_ns += excess * _NS_PER_TICK
            self.collapsed_ns += excess * _NS_PER_TICK
            pts, dts = pts - excess, dts - excess
        if self.last_dts is not None and dts <= self.last_dts:
            dts = self.last_dts + 1
        pts = max(pts, dts)
        self.last_dts = dts
        self.last_pts_ns = pts_ns if self.last_pts_ns is None else max(self.last_pts_ns, pts_ns)
        self.packets += 1
        return pts, dts
