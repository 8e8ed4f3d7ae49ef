"""A window's frames split into runs that can each be one MP4: same codec, same size.

A camera that switches between JPEG and H.264, or whose H.264 changes resolution (a new SPS
at a keyframe), must not produce a mixed file: one MP4 track has one codec path and one
``avcC``. Each run becomes its own segment file (part 0 keeps the window's usual name). A
window holds at most :data:`MAX_PARTS` runs: the biggest ones are kept and the frames of the
others are counted, so a camera flapping between two modes cannot write a file per frame.
Pure: plain unit tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vigil_common.contract.envelope import Codec, Frame

MAX_PARTS = 4

Arrived = tuple[int, Frame]  # (arrival ms, frame), in arrival order


@dataclass(slots=True)
class Run:
    codec: Codec
    width: int
    height: int
    items: list[Arrived] = field(default_factory=list)

    def matches(self, frame: Frame) -> bool:
        """``frame`` continues this run: same codec and, for H.264, the same size (a JPEG
        run is scaled to its first size, as it always was)."""
        if frame.codec != self.codec:
            return False
        return self.codec != Codec.H264 or (frame.width, frame.height) == (self.width, self.height)

    @property
    def frames(self) -> list[Frame]:
        return [frame for _, frame in self.items]


def dedupe(arrived: Sequence[Arrived]) -> tuple[list[Arrived], int]:
    """Drop exact duplicates (same seq and capture time: a frame delivered twice), keeping the
    first arrival; returns ``(kept, duplicates)``."""
    seen: set[tuple[int, int]] = set()
    kept: list[Arrived] = []
    for item in arrived:
        key = (item[1].seq, item[1].capture_ns)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept, len(arrived) - len(kept)


def split_runs(arrived: Sequence[Arrived], max_parts: int = MAX_PARTS) -> tuple[list[Run], int]:
    """Consecutive frames of one codec and size; returns ``(runs, frames_left_out)``."""
    runs: list[Run] = []
    for item in arrived:
        frame = item[1]
        if not runs or not runs[-1].matches(frame):
            runs.append(Run(frame.codec, frame.width, frame.height))
        runs[-1].items.append(item)
    if len(runs) <= max_parts:
        return runs, 0
    keep = sorted(sorted(range(len(runs)), key=lambda i: -len(runs[i].items))[:max_parts])
    kept = [runs[i] for i in keep]
    return kept, len(arrived) - sum(len(r.items) for r in kept)
