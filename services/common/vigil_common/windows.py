"""Segment windows: pure functions shared by ingest (enqueue) and recorder (read)."""

from __future__ import annotations

from dataclasses import dataclass


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
