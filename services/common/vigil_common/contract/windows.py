"""Segment windows: pure functions shared by ingest (enqueue) and recorder (read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Window:
    """Half-open interval ``[start_ms, end_ms)`` of Redis arrival time for one camera."""

    camera_id: str
    start_ms: int
    end_ms: int

    @property
    def job_id(self) -> str:
        return f"seg-{self.camera_id}-{self.start_ms}"


def window_start_ms(arrival_ms: int, segment_seconds: int) -> int:
    size = segment_seconds * 1000
    return arrival_ms - (arrival_ms % size)


def window_for(camera_id: str, arrival_ms: int, segment_seconds: int) -> Window:
    start = window_start_ms(arrival_ms, segment_seconds)
    return Window(camera_id, start, start + segment_seconds * 1000)


def stream_id_ms(entry_id: bytes | str) -> int:
    """The millisecond part of a Redis stream entry id such as ``1700000000000-3``."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def closable(window_end_ms: int, now_ms: int, grace_s: float) -> bool:
    """A window is closed once its end plus the lateness grace has passed."""
    return now_ms >= window_end_ms + int(grace_s * 1000)


# Motion-only recording (vigil_recorder.segment.motion_gate) may put a window's keep/skip decision
# off for the pre-roll plus some slack for the detector, never so long that Redis trims the
# window's frames. The recording watchdog allows a motion-only camera this much extra lag.
MOTION_DETECTOR_SLACK_MS = 30_000
# Margin for encoding and queueing once a window is released, before Redis trims its frames.
MOTION_BUFFER_MARGIN_MS = 30_000
# A re-enqueued wait runs through RQ's scheduler, whose lock a killed worker holds for up to this.
SCHEDULER_STALL_MS = 61_000


def motion_max_wait_ms(pre_roll_s: float, stream_buffer_s: float, segment_seconds: float) -> int:
    """How long after a window's (arrival) end its motion decision may be put off."""
    wanted = int(pre_roll_s * 1000) + MOTION_DETECTOR_SLACK_MS
    buffer_left = int((stream_buffer_s - segment_seconds) * 1000) - MOTION_BUFFER_MARGIN_MS - SCHEDULER_STALL_MS
    return max(0, min(wanted, buffer_left))


# No indexed segment is longer than this (VIGIL_SEGMENT_SECONDS is at most 600 s; a segment
# holds one window). Overlap queries `start < :end AND end > :start` also bound `start` by it,
# so the database can range-scan the start indexes instead of a camera's whole history.
MAX_SEGMENT_SPAN = timedelta(hours=1)
