"""A demo camera that shows something worth detecting (``--source scene``): real photos (a person,
a cat, a motorbike: :mod:`vigil_capture.demo_photos`) walking into a still yard one at a time.

Each visitor, in turn, every :data:`VISIT_S` seconds: walks in from the left
(:data:`WALK_S`), stays in the middle, swaying a little so motion detection keeps seeing it
(:data:`STAY_S`), walks out to the right, then the yard is empty until the next one (a quiet
spell, so motion and object events end). A visitor is half the frame's height, the scale at which
the default model (YOLOv3-tiny) finds these photos. ``render(t)`` depends only on ``t`` (seconds
since the source opened), the size and the photos, so tests can ask for any moment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vigil_capture import demo_photos
from vigil_capture.images import Image, as_image
from vigil_capture.sources import SourceError

VISITORS = ("astronaut.png", "chelsea.png", "motorcycle_left.png")
WALK_S = 4.0
STAY_S = 12.0
VISIT_S = 30.0  # walk in + stay + walk out + empty yard
SCALE = 0.5  # a visitor's height, as a fraction of the frame's


@dataclass(frozen=True, slots=True)
class Placement:
    """Where visitor ``index`` is at some moment (``x`` may be off the frame); ``None`` = nobody."""

    index: int
    x: int
    y: int


class SceneSource:
    kind = "scene"  # generated frames, paced by the capture loop like ``synthetic``

    def __init__(self, width: int, height: int, photo_dir: Path | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if width < 64 or height < 64:
            raise ValueError("scene frames must be at least 64x64")
        self.width = width
        self.height = height
        self.photo_dir = photo_dir
        self.clock = clock
        self.visitors: list[Image] = []
        self._background = _yard(width, height)
        self._opened_at = 0.0

    def open(self) -> None:
        try:
            paths = [demo_photos.photo(name, self.photo_dir) for name in VISITORS]
        except FileNotFoundError as exc:
            raise SourceError(str(exc)) from exc
        self.visitors = [self._scaled(path) for path in paths]
        self._opened_at = self.clock()

    def read(self) -> Image | None:
        return self.render(self.clock() - self._opened_at)

    def close(self) -> None:
        self.visitors = []

    def placement(self, t: float) -> Placement | None:
        """Who is where at ``t`` seconds (pure: for the tests and :meth:`render`)."""
        if not self.visitors:
            return None
        visit, into = divmod(max(0.0, t), VISIT_S)
        index = int(visit) % len(self.visitors)
        w, h = self.visitors[index].shape[1], self.visitors[index].shape[0]
        centre = (self.width - w) // 2
        y = round(self.height * 0.92) - h
        if into < WALK_S:  # walking in from beyond the left edge
            x = round(-w + (centre + w) * into / WALK_S)
        elif into < WALK_S + STAY_S:  # standing, swaying by a few per cent of the frame
            x = centre + round(0.04 * self.width * np.sin(2 * np.pi * (into - WALK_S) / 3.0))
        elif into < 2 * WALK_S + STAY_S:  # walking out beyond the right edge
            x = round(centre + (self.width - centre) * (into - WALK_S - STAY_S) / WALK_S)
        else:
            return None
        return Placement(index, x, y)

    def render(self, t: float) -> Image:
        frame = self._background.copy()
        where = self.placement(t)
        if where is not None:
            _paste(frame, self.visitors[where.index], where.x, where.y)
        return frame

    def _scaled(self, path: Path) -> Image:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise SourceError(f"demo photo {path.name} does not decode")
        s = SCALE * self.height / img.shape[0]
        size = (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s)))
        return as_image(cv2.resize(img, size, interpolation=cv2.INTER_AREA))


def _yard(width: int, height: int) -> Image:
    """A still, plain scene: a pale sky over darker ground (no texture to trip motion detection)."""
    frame = np.empty((height, width, 3), np.uint8)
    horizon = round(height * 0.55)
    sky = np.linspace(200, 160, horizon, dtype=np.float32)[:, np.newaxis]
    frame[:horizon] = np.stack([np.broadcast_to(sky + 20, (horizon, width)), np.broadcast_to(sky, (horizon, width)),
                                np.broadcast_to(sky - 30, (horizon, width))], axis=-1).astype(np.uint8)
    frame[horizon:] = (70, 95, 85)
    return frame


def _paste(frame: Image, img: Image, x: int, y: int) -> None:
    """``img`` onto ``frame`` at (x, y), clipped to the frame."""
    h, w = img.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(frame.shape[1], x + w), min(frame.shape[0], y + h)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = img[y0 - y:y1 - y, x0 - x:x1 - x]
