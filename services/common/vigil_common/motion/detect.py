"""Motion detection on small grey images: pure numpy, no I/O, no clock. Shared by the camera
(``vigil capture`` measures motion where the pixels are, see docs/protocol.md#motion-at-the-edge)
and the recorder (cameras that do not measure it themselves, e.g. a bare-JPEG ESP32-CAM), so
one camera scores the same wherever it is measured.

Each sample (a camera's luma shrunk to about 160 px wide) is box-blurred, compared with a
running background and thresholded:

1. ``diff = frame - background`` in int32 (never uint8 arithmetic, which wraps around);
2. the median of ``diff`` over the unmasked pixels is subtracted: a global brightness change
   (auto exposure, a cloud) shifts every pixel alike and is not motion;
3. a pixel changed if ``|diff - median| > threshold``; the threshold comes from the camera's
   sensitivity (0 → 50 grey levels, 1 → 10);
4. ``score`` = changed pixels / unmasked pixels; the sample is *hot* if ``score >= min_area``;
5. the background learns the frame: ``bg += (frame - bg) * learn_rate`` in 8.8 fixed point
   (int32), so slow light changes and objects that stop moving fade into it.

Masked rectangles (fractions of the frame) are ignored entirely. The first sample, or one of
a new size, only initialises the background.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WORK_WIDTH = 160
MIN_THRESHOLD = 10  # grey levels at sensitivity 1
MAX_THRESHOLD = 50  # ... and at sensitivity 0
FIXED_ONE = 256  # background fixed point: 8 fractional bits
MAX_MASK_RECTS = 64


class MaskError(ValueError):
    """A motion mask that is not a JSON list of ``[x, y, w, h]`` fractions."""


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle in fractions of the frame (0..1)."""

    x: float
    y: float
    w: float
    h: float


def threshold_for(sensitivity: float) -> int:
    """Per-pixel change (grey levels) that counts as motion: 0 → 50, 0.5 → 30, 1 → 10."""
    s = min(1.0, max(0.0, float(sensitivity))) if math.isfinite(sensitivity) else 0.5
    return round(MAX_THRESHOLD - (MAX_THRESHOLD - MIN_THRESHOLD) * s)


def learn_rate_for(sample_interval_s: float, time_constant_s: float = 5.0) -> float:
    """The per-sample background update that forgets with ``time_constant_s`` whatever the rate."""
    return 1.0 - math.exp(-max(sample_interval_s, 1e-3) / time_constant_s)


def parse_mask(text: str | None) -> list[Rect]:
    """``Camera.motion_mask`` (JSON ``[[x, y, w, h], ...]`` in fractions) to rectangles.

    Values are clamped to the frame; raises :class:`MaskError` on anything else.
    """
    if text is None or not text.strip():
        return []
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise MaskError(f"motion mask is not JSON: {exc}") from None
    if not isinstance(doc, list) or len(doc) > MAX_MASK_RECTS:
        raise MaskError(f"motion mask must be a list of at most {MAX_MASK_RECTS} [x, y, w, h]")
    rects: list[Rect] = []
    for item in doc:
        if (
            not isinstance(item, list)
            or len(item) != 4
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in item)
        ):
            raise MaskError("each motion mask entry must be [x, y, w, h] numbers")
        x, y, w, h = (float(v) for v in item)
        if w <= 0 or h <= 0:
            raise MaskError("motion mask rectangles need a positive width and height")
        x0, y0 = min(1.0, max(0.0, x)), min(1.0, max(0.0, y))
        w, h = min(w - (x0 - x), 1.0 - x0), min(h - (y0 - y), 1.0 - y0)  # clipped to the frame
        if w > 0 and h > 0:
            rects.append(Rect(x0, y0, w, h))
    return rects


def active_pixels(rects: Sequence[Rect], shape: tuple[int, int]) -> np.ndarray:
    """Boolean ``shape`` array: True where motion counts (outside every mask rectangle).

    A rectangle covers every pixel it touches (floor of its start, ceil of its end).
    """
    height, width = shape
    active = np.ones(shape, dtype=bool)
    for r in rects:
        x0, x1 = math.floor(r.x * width), math.ceil((r.x + r.w) * width)
        y0, y1 = math.floor(r.y * height), math.ceil((r.y + r.h) * height)
        active[y0:y1, x0:x1] = False
    return active


def shrink(image: np.ndarray, target_width: int) -> np.ndarray:
    """Block-average a 2-D uint8 image by the integer factor that keeps it at least
    ``target_width`` wide (no resampling library needed; sums in int32)."""
    factor = max(1, image.shape[1] // max(1, target_width))
    if factor == 1:
        return image
    h = (image.shape[0] // factor) * factor
    w = (image.shape[1] // factor) * factor
    if h == 0:
        return image
    blocks = image[:h, :w].astype(np.int32).reshape(h // factor, factor, w // factor, factor)
    total = blocks.sum(axis=(1, 3))
    area = factor * factor
    return ((total + area // 2) // area).astype(np.uint8)


def box_blur(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a ``(2r+1)²`` window (edges repeated), as int32, from running sums."""
    img = image.astype(np.int32)
    if radius <= 0:
        return img
    k = 2 * radius + 1
    padded = np.pad(img, radius, mode="edge")
    rows = np.cumsum(padded, axis=0, dtype=np.int64)
    rows = np.concatenate([np.zeros((1, rows.shape[1]), np.int64), rows])
    vertical = rows[k:] - rows[:-k]
    cols = np.cumsum(vertical, axis=1)
    cols = np.concatenate([np.zeros((cols.shape[0], 1), np.int64), cols], axis=1)
    total = cols[:, k:] - cols[:, :-k]
    return ((total + (k * k) // 2) // (k * k)).astype(np.int32)


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    threshold: int = 30  # grey levels (see threshold_for)
    min_area: float = 0.002  # fraction of the unmasked frame that must change
    learn_rate: float = 0.1  # background update per sample, 0..1
    blur_radius: int = 1  # box blur radius in working pixels


@dataclass(frozen=True, slots=True)
class Measurement:
    """One sample's result: ``score`` is the changed fraction of the unmasked frame."""

    score: float
    hot: bool
    changed: int = 0
    active: int = 0


class MotionDetector:
    """Running-background frame differencing for one camera (see the module doc)."""

    def __init__(self, config: DetectorConfig, mask: Sequence[Rect] = ()) -> None:
        self.config = config
        self.mask = list(mask)
        self._rate_q8 = max(1, min(FIXED_ONE, round(config.learn_rate * FIXED_ONE)))
        self._background: np.ndarray | None = None  # int32, grey level * 256
        self._active: np.ndarray | None = None
        self._active_count = 0

    def reset(self) -> None:
        self._background = None

    def set_learn_rate(self, learn_rate: float) -> None:
        """Change the background update per sample (a camera whose sample interval turned
        out different from the one configured, e.g. sampled at its keyframes)."""
        self._rate_q8 = max(1, min(FIXED_ONE, round(learn_rate * FIXED_ONE)))

    def process(self, gray: np.ndarray) -> Measurement:
        """Compare one 2-D uint8 image with the background, then learn it."""
        if gray.ndim != 2 or gray.size == 0:
            raise ValueError("expected a non-empty 2-D grey image")
        frame = box_blur(gray, self.config.blur_radius)
        bg = self._background
        if bg is None or bg.shape != frame.shape:
            self._background = frame * FIXED_ONE
            self._active = active_pixels(self.mask, frame.shape)
            self._active_count = int(self._active.sum())
            return Measurement(0.0, False, 0, self._active_count)
        assert self._active is not None
        # Background rounded to whole grey levels; all int32.
        diff = frame - ((bg + FIXED_ONE // 2) >> 8)
        changed = 0
        if self._active_count:
            values = diff[self._active]
            shift = int(np.median(values))
            changed = int(np.count_nonzero(np.abs(values - shift) > self.config.threshold))
        bg += ((frame * FIXED_ONE - bg) * self._rate_q8) >> 8
        score = changed / self._active_count if self._active_count else 0.0
        return Measurement(score, changed > 0 and score >= self.config.min_area, changed, self._active_count)
