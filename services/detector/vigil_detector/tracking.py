"""Objects across frames, pure: IoU tracking, and when a track becomes an event, ends, or gets a
better close-up.

Detections arrive a few times a second per camera (motion-gated samples), so time, not frame
count, bounds a gap: a track not seen for ``max_gap_s`` has ended. Matching is greedy by IoU
within a label (the best-overlapping pair first). A track becomes an **object event** only once it
has been seen ``min_hits`` times (one stray detection is not an event); its close-up follows the
best-scoring sighting, and :class:`Update` tells the caller when to crop a new one from the
frame it just passed in (for tentative tracks too: the best sighting of an event may come before
it is confirmed; the caller keeps those crops until the track is confirmed or dropped).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from vigil_detector.boxes import Box, Detection

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Sighting:
    at_ns: int
    box: Box
    score: float


@dataclass(slots=True)
class Track:
    id: int
    label: str
    first_ns: int
    last_ns: int
    best: Sighting
    hits: int = 1
    confirmed: bool = False
    # The box track, newest last, bounded (a parked car seen for hours keeps its last ones).
    path: deque[Sighting] = field(default_factory=lambda: deque(maxlen=MAX_PATH))

    @property
    def last_box(self) -> Box:
        return self.path[-1].box if self.path else self.best.box


MAX_PATH = 240


@dataclass(frozen=True, slots=True)
class Update:
    started: tuple[Track, ...] = ()  # confirmed by this update: an object event begins
    ended: tuple[Track, ...] = ()  # confirmed tracks whose gap ran out: the event ends
    better: tuple[Track, ...] = ()  # tracks (tentative or not) whose best sighting is this frame's
    dropped: tuple[Track, ...] = ()  # tentative tracks whose gap ran out: never an event
    assigned: tuple[tuple[int, Track], ...] = ()  # (index of the detection given, its track)


class Tracker:
    def __init__(self, *, iou_threshold: float = 0.3, max_gap_s: float = 5.0, min_hits: int = 2) -> None:
        if not 0 < iou_threshold < 1 or max_gap_s <= 0 or min_hits < 1:
            raise ValueError("iou_threshold in (0, 1), max_gap_s > 0 and min_hits >= 1")
        self.iou_threshold = iou_threshold
        self.max_gap_ns = int(max_gap_s * NS_PER_S)
        self.min_hits = min_hits
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)

    def update(self, at_ns: int, detections: Sequence[Detection]) -> Update:
        """Feed one frame's detections (taken at ``at_ns``, not before the previous frame's)."""
        ended, dropped = self._expire(at_ns)
        pairs = sorted(
            ((t.last_box.iou(d.box), ti, di) for ti, t in enumerate(self.tracks) for di, d in enumerate(detections)
             if t.label == d.label),
            key=lambda p: -p[0])
        used_t: set[int] = set()
        used_d: set[int] = set()
        started: list[Track] = []
        better: list[Track] = []
        assigned: list[tuple[int, Track]] = []
        for iou, ti, di in pairs:
            if iou < self.iou_threshold:
                break
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            track, det = self.tracks[ti], detections[di]
            assigned.append((di, track))
            sighting = Sighting(at_ns, det.box, det.score)
            track.hits += 1
            track.last_ns = at_ns
            track.path.append(sighting)
            improved = det.score > track.best.score
            if improved:
                track.best = sighting
                better.append(track)
            if not track.confirmed and track.hits >= self.min_hits:
                track.confirmed = True
                started.append(track)
        for di, det in enumerate(detections):
            if di in used_d:
                continue
            sighting = Sighting(at_ns, det.box, det.score)
            track = Track(next(self._ids), det.label, at_ns, at_ns, sighting)
            track.path.append(sighting)
            self.tracks.append(track)
            assigned.append((di, track))
            better.append(track)
            if self.min_hits <= 1:
                track.confirmed = True
                started.append(track)
        return Update(tuple(started), ended, tuple(better), dropped, tuple(sorted(assigned, key=lambda a: a[0])))

    def end_all(self) -> tuple[Track, ...]:
        """Close every track (the camera stopped, the service stops): the confirmed ones."""
        out = tuple(t for t in self.tracks if t.confirmed)
        self.tracks = []
        return out

    def _expire(self, at_ns: int) -> tuple[tuple[Track, ...], tuple[Track, ...]]:
        keep: list[Track] = []
        ended: list[Track] = []
        dropped: list[Track] = []
        for t in self.tracks:
            if at_ns - t.last_ns > self.max_gap_ns:
                (ended if t.confirmed else dropped).append(t)
            else:
                keep.append(t)
        self.tracks = keep
        return tuple(ended), tuple(dropped)
