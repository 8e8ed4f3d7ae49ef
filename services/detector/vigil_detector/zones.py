"""Which detections matter where, pure: per-camera zones (polygons) with the labels that count
there, a minimum score and a minimum size, so "a person in the driveway" is an event and a car
passing on the street is not.

A zone's points are fractions of the frame (0..1, x right, y down), so a zone survives a change of
resolution. A detection is *in* a zone when the bottom centre of its box (where a person stands, a
car touches the road) lies inside the polygon or on its edge. With no zone configured, the whole
frame is one zone with the camera's default filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vigil_common.contract.object_zones import ObjectZone
from vigil_detector.boxes import Detection

WHOLE_FRAME = "frame"


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    points: tuple[tuple[float, float], ...]  # fractions of the frame; empty: the whole frame
    labels: frozenset[str] | None = None  # None: every label
    min_score: float = 0.5
    min_area: float = 0.0  # fraction of the frame the box must cover

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 64:
            raise ValueError("a zone needs a name of 1 to 64 characters")
        if self.points and len(self.points) < 3:
            raise ValueError(f"zone {self.name!r}: a polygon needs at least 3 points")
        if any(not (0 <= x <= 1 and 0 <= y <= 1) for x, y in self.points):
            raise ValueError(f"zone {self.name!r}: points are fractions of the frame, 0 to 1")
        if not 0 <= self.min_score <= 1 or not 0 <= self.min_area < 1:
            raise ValueError(f"zone {self.name!r}: min_score in [0, 1], min_area in [0, 1)")

    def admits(self, det: Detection, frame_w: int, frame_h: int) -> bool:
        if self.labels is not None and det.label not in self.labels:
            return False
        if det.score < self.min_score or det.box.area < self.min_area * frame_w * frame_h:
            return False
        if not self.points:
            return True
        foot = ((det.box.x + det.box.w / 2) / frame_w, (det.box.y + det.box.h) / frame_h)
        return inside_polygon(foot, self.points)


def inside_polygon(point: tuple[float, float], polygon: Sequence[tuple[float, float]]) -> bool:
    """Inside or on the edge (OpenCV's ``pointPolygonTest``)."""
    contour = np.asarray(polygon, np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False) >= 0


def zones_for(det: Detection, zones: Sequence[Zone], frame_w: int, frame_h: int,
              default: Zone | None = None) -> list[str]:
    """The names of the zones that admit ``det``; with no zones, the whole frame under
    ``default`` (every label, score at least 0.5, when none is given)."""
    if not zones:
        whole = default or Zone(WHOLE_FRAME, ())
        return [whole.name] if whole.admits(det, frame_w, frame_h) else []
    return [z.name for z in zones if z.admits(det, frame_w, frame_h)]


def from_contract(zones: Sequence[ObjectZone]) -> list[Zone]:
    """The registry's zones (:mod:`vigil_common.contract.object_zones`) as the filter uses them."""
    return [Zone(z.name, tuple((float(p[0]), float(p[1])) for p in z.points),
                 frozenset(z.labels) if z.labels else None, z.min_score, z.min_area) for z in zones]
