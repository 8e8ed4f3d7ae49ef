"""Where an H.264 segment starts and ends, so that no frame is lost between segments.

Windows are cut on Redis arrival time, but a remuxed MP4 can only start at a keyframe (an IDR
carrying its SPS and PPS). So the segment of window ``[s, e)`` holds the frames from the first
keyframe that arrived at or after ``s`` up to, not including, the first keyframe that arrived
at or after ``e``: the frames a window holds before its first keyframe close the previous
window's segment, and segment n+1 starts exactly where segment n ends (its end time is the
capture time of segment n+1's first frame).

The end needs the frames that arrived after ``e`` up to the first that :func:`ends_span` (the
recorder reads no further than that). The next keyframe is looked for up to
:data:`LOOKAHEAD_MS` past ``e`` (a camera's keyframe interval must be shorter to record without
a loss: ours send one every 2 s; IP cameras typically every 1 to 4 s). Until it has arrived the
decision waits, except when the camera has gone quiet (nothing arrived for :data:`QUIET_MS`: it
stopped, or its connection dropped, and a sender resumes at a keyframe) or the lookahead is
over; the segment then takes everything that arrived before ``e + LOOKAHEAD_MS``.

Every decision is made on entries whose arrival time is final (Redis ids only grow), so a
retried job makes the same one. Pure: plain unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vigil_common.contract import h264
from vigil_common.contract.envelope import Frame

# How far past a window's end its segment may reach, looking for the next keyframe.
LOOKAHEAD_MS = 10_000
# A camera with no frame this long is not about to send the keyframe: decide without it.
QUIET_MS = 3_000

Arrived = tuple[int, Frame]  # (arrival ms, frame), in arrival order


@dataclass(frozen=True, slots=True)
class Span:
    """A decided segment: its frames (decode order), and the capture time it ends at when the
    next segment's first keyframe is known (``None``: last frame + one frame duration)."""

    frames: list[Frame]
    end_ns: int | None
    # Frames of this window before its first keyframe: the previous segment's tail (or, with
    # no previous segment, frames that cannot be decoded).
    lead: int
    # Frames after the window's end taken into this segment (up to the next keyframe).
    tail: int


@dataclass(frozen=True, slots=True)
class Wait:
    """The next keyframe has not arrived yet: decide again at ``until_ms`` (Redis clock)."""

    until_ms: int


def first_keyframe(frames: Sequence[Arrived]) -> int | None:
    """Index of the first frame a segment can start at (an IDR with SPS and PPS), or None."""
    for i, (_, frame) in enumerate(frames):
        if h264.can_start_segment(frame.payload):
            return i
    return None


def ends_span(frame: Frame, matches: Callable[[Frame], bool]) -> bool:
    """A frame after the window that ends its span: the next segment's start, or a frame that
    does not belong to the run (another codec or size)."""
    return not matches(frame) or h264.can_start_segment(frame.payload)


def plan_span(
    own: Sequence[Arrived],
    after: Sequence[Arrived],
    *,
    end_ms: int,
    now_ms: int,
    newest_arrival_ms: int | None,
    matches: Callable[[Frame], bool] = lambda frame: True,
    closed: bool = False,
    lookahead_ms: int = LOOKAHEAD_MS,
    quiet_ms: int = QUIET_MS,
    retry_ms: int = 1_000,
) -> Span | Wait:
    """The segment of a window's run of frames (``own``: arrival in ``[s, e)``) given those
    that arrived after it (in ``[e, e + lookahead_ms)``); ``newest_arrival_ms`` is the camera's
    newest entry in the stream (None if the stream is empty).

    A frame after the window that does not ``match`` the run (another codec or size) ends it
    as a keyframe would. A ``closed`` run is followed by another run of the same window: it
    takes no tail."""
    start = first_keyframe(own)
    if start is None:
        return Span([], None, lead=len(own), tail=0)
    body = [frame for _, frame in own[start:]]
    if closed:
        return Span(body, None, lead=start, tail=0)
    following = [a for a in after if a[0] < end_ms + lookahead_ms]
    for i, (_, frame) in enumerate(following):
        if ends_span(frame, matches):
            tail = [f for _, f in following[:i]]
            return Span(body + tail, frame.capture_ns, lead=start, tail=len(tail))
    over = now_ms >= end_ms + lookahead_ms
    quiet = newest_arrival_ms is None or now_ms - newest_arrival_ms >= quiet_ms
    if not (over or quiet):
        return Wait(min(end_ms + lookahead_ms, now_ms + retry_ms))
    tail = [frame for _, frame in following]
    return Span(body + tail, None, lead=start, tail=len(tail))
