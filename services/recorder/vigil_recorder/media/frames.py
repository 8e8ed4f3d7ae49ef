"""Pure decisions about a window's frames: parsing, ordering, codec choice and timing.

Nothing here touches Redis, files or codecs, so every rule has a plain unit test.
"""

from __future__ import annotations

import itertools
import logging
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from vigil_common.contract import streams
from vigil_common.contract.envelope import Codec, Frame

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
# MP4 track clock: 90 kHz, the usual video clock; a millisecond clock would round 15 fps gaps.
TIME_BASE_HZ = 90_000
# Frame duration assumed when a segment holds a single frame (no gap to measure).
DEFAULT_FRAME_NS = NS_PER_S // 15

StreamEntry = tuple[bytes | str, Mapping[bytes, bytes]]


def parse_identified(entries: Iterable[StreamEntry]) -> tuple[list[tuple[bytes | str, Frame]], int]:
    """Rebuild frames from stream entries, each with its entry id; return ``(frames, malformed)``.

    An entry with a missing or non-numeric field is skipped and counted, never raised:
    one bad entry must not lose the rest of the window.
    """
    frames: list[tuple[bytes | str, Frame]] = []
    malformed = 0
    for entry_id, fields in entries:
        try:
            frames.append((entry_id, streams.from_fields(fields)))
        except (KeyError, ValueError, TypeError) as exc:
            malformed += 1
            log.warning("skipping malformed stream entry %r: %s", entry_id, exc)
    return frames, malformed


def parse_entries(entries: Iterable[StreamEntry]) -> tuple[list[Frame], int]:
    """:func:`parse_identified` without the ids."""
    frames, malformed = parse_identified(entries)
    return [frame for _, frame in frames], malformed


def order_frames(frames: Iterable[Frame]) -> list[Frame]:
    """Sort by capture time (then seq) and drop exact duplicates (same seq and capture time).

    Frames sharing a capture time but not a seq are both kept (a camera restart resets seq);
    :func:`presentation_ts` keeps their timestamps strictly increasing.
    """
    ordered = sorted(frames, key=lambda f: (f.capture_ns, f.seq))
    out: list[Frame] = []
    seen: set[tuple[int, int]] = set()
    for frame in ordered:
        key = (frame.seq, frame.capture_ns)
        if key in seen:
            continue
        seen.add(key)
        out.append(frame)
    return out


def select_codec(frames: Sequence[Frame]) -> tuple[Codec | None, list[Frame], int]:
    """Pick the codec most frames use; return ``(codec, frames_of_that_codec, dropped)``.

    One MP4 holds one codec path: JPEG frames are encoded, H.264 access units are remuxed.
    A window that mixes both (a camera reconfigured mid-window) keeps the majority; ties go
    to H.264, which needs no re-encode.
    """
    if not frames:
        return None, [], 0
    counts = Counter(f.codec for f in frames)
    codec = max(counts, key=lambda c: (counts[c], c == Codec.H264))
    kept = [f for f in frames if f.codec == codec]
    return codec, kept, len(frames) - len(kept)


@dataclass(frozen=True, slots=True)
class Selection:
    """A window's frames ready to write: ordered, deduplicated, one codec."""

    codec: Codec | None
    frames: list[Frame]
    duplicates: int
    other_codec: int


def select_frames(frames: Iterable[Frame]) -> Selection:
    """:func:`order_frames` then :func:`select_codec`, with the counts of what was dropped."""
    frames = list(frames)
    ordered = order_frames(frames)
    codec, kept, other = select_codec(ordered)
    return Selection(codec, kept, len(frames) - len(ordered), other)


def median_gap_ns(capture_ns: Sequence[int]) -> int | None:
    """Median of the positive gaps between consecutive capture times (None if there are none)."""
    gaps = [b - a for a, b in itertools.pairwise(capture_ns) if b > a]
    if not gaps:
        return None
    return int(statistics.median(gaps))


def frame_duration_ns(capture_ns: Sequence[int], max_ns: int | None = None) -> int:
    """One frame's duration: the median inter-frame gap, else :data:`DEFAULT_FRAME_NS`.

    ``max_ns`` caps it, so two frames far apart do not stretch a segment past its window.
    """
    gap = median_gap_ns(capture_ns)
    duration = gap if gap is not None else DEFAULT_FRAME_NS
    if max_ns is not None:
        duration = min(duration, max_ns)
    return max(1, duration)


def ns_to_ticks(ns: int, hz: int = TIME_BASE_HZ) -> int:
    """Nanoseconds to clock ticks, rounded to nearest (exact integer arithmetic)."""
    return (ns * hz + NS_PER_S // 2) // NS_PER_S


def presentation_ts(capture_ns: Sequence[int], hz: int = TIME_BASE_HZ) -> list[int]:
    """Presentation timestamps in ``1/hz`` ticks from capture times: the first is 0, each
    later one is its offset from the first, bumped by one tick if needed so the sequence is
    strictly increasing (equal or out-of-order capture times would be rejected by the muxer).
    """
    out: list[int] = []
    if not capture_ns:
        return out
    first = capture_ns[0]
    prev = -1
    for ns in capture_ns:
        pts = max(ns_to_ticks(ns - first, hz), prev + 1)
        out.append(pts)
        prev = pts
    return out


def durations(pts: Sequence[int], last: int) -> list[int]:
    """Per-frame durations in ticks: the gap to the next pts, ``last`` for the final frame."""
    out = [b - a for a, b in itertools.pairwise(pts)]
    if pts:
        out.append(max(1, last))
    return out


class PtsClock:
    """Assigns strictly increasing timestamps one frame at a time (for streaming encoders),
    matching :func:`presentation_ts` on the same capture times."""

    def __init__(self, hz: int = TIME_BASE_HZ) -> None:
        self.hz = hz
        self._first: int | None = None
        self._prev = -1

    def next(self, capture_ns: int) -> int:
        if self._first is None:
            self._first = capture_ns
        pts = max(ns_to_ticks(capture_ns - self._first, self.hz), self._prev + 1)
        self._prev = pts
        return pts


@dataclass(frozen=True, slots=True)
class Timing:
    """A segment's extent in capture time: ``end`` = last frame + one frame duration."""

    start_ns: int
    end_ns: int
    frame_ns: int

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S


def last_frame_ns(capture_ns: Sequence[int], frame_ns: int, end_ns: int | None) -> int:
    """How long the last frame lasts: up to ``end_ns`` (where the next segment starts) when that
    follows on (within two frame durations), else one frame duration: a segment never
    stretches over a pause in the stream."""
    if end_ns is not None and capture_ns and 0 < end_ns - capture_ns[-1] <= 2 * frame_ns:
        return end_ns - capture_ns[-1]
    return frame_ns


def segment_timing(capture_ns: Sequence[int], max_frame_ns: int | None = None, *,
                   end_ns: int | None = None) -> Timing:
    """Start, end and frame duration of the frames actually written (sorted capture times);
    ``end_ns``: see :func:`last_frame_ns`."""
    if not capture_ns:
        raise ValueError("no frames")
    frame_ns = frame_duration_ns(capture_ns, max_frame_ns)
    return Timing(capture_ns[0], capture_ns[-1] + last_frame_ns(capture_ns, frame_ns, end_ns), frame_ns)


def fps_estimate(capture_ns: Sequence[int]) -> float:
    """Frames per second from the median gap (15 when it cannot be measured)."""
    gap = median_gap_ns(capture_ns)
    if gap is None:
        return NS_PER_S / DEFAULT_FRAME_NS
    return NS_PER_S / gap


def keyframe_interval(fps: float, seconds: float = 2.0, maximum: int = 600) -> int:
    """GOP length in frames for a keyframe about every ``seconds`` (browser seek granularity)."""
    return max(1, min(maximum, round(fps * seconds)))


def even_size(width: int, height: int) -> tuple[int, int]:
    """Round dimensions down to even numbers (4:2:0 needs them); at least 2x2."""
    return max(2, width - width % 2), max(2, height - height % 2)
