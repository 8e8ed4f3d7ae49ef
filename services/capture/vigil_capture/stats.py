"""Counters shared by the capture threads, and the measured frame rate reported in heartbeats."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    frames_grabbed: int
    frames_sent: int
    frames_dropped: int
    bytes_sent: int
    source_misses: int
    last_frame_ns: int | None


class CaptureStats:
    """Thread-safe counters. ``frames_dropped`` counts every frame meant for publishing that
    was not published: evicted from the buffer, disconnected, or refused by the MQTT client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grabbed = 0
        self._sent = 0
        self._dropped = 0
        self._bytes = 0
        self._misses = 0
        self._last_frame_ns: int | None = None

    def grabbed(self) -> None:
        with self._lock:
            self._grabbed += 1

    def source_miss(self) -> None:
        with self._lock:
            self._misses += 1

    def dropped(self, count: int = 1) -> None:
        with self._lock:
            self._dropped += count

    def sent(self, nbytes: int, capture_ns: int) -> None:
        with self._lock:
            self._sent += 1
            self._bytes += nbytes
            self._last_frame_ns = capture_ns

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(
                frames_grabbed=self._grabbed,
                frames_sent=self._sent,
                frames_dropped=self._dropped,
                bytes_sent=self._bytes,
                source_misses=self._misses,
                last_frame_ns=self._last_frame_ns,
            )


class RateMeter:
    """Events per second between successive ``update`` calls (pure: pass the count and time)."""

    def __init__(self, count: int, now: float) -> None:
        self._count = count
        self._time = now

    def update(self, count: int, now: float) -> float:
        elapsed = now - self._time
        rate = (count - self._count) / elapsed if elapsed > 0 else 0.0
        self._count, self._time = count, now
        return max(0.0, rate)
