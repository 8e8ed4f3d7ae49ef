"""Close-ups: the crop of an object at the frame's full resolution, with a margin, as JPEG."""

from __future__ import annotations

import cv2
import numpy as np

from vigil_detector.boxes import Box

MARGIN = 0.15  # of the box's size, on each side: some context around the object
MIN_SIDE = 64  # a tiny box still gives a close-up one can look at
JPEG_QUALITY = 90


def crop_box(box: Box, frame_w: int, frame_h: int, margin: float = MARGIN, min_side: int = MIN_SIDE) -> Box:
    """The box grown by ``margin`` on each side (and to ``min_side``), clipped to the frame."""
    if box.w <= 0 or box.h <= 0:
        raise ValueError(f"empty box {box}")
    w = max(box.w * (1 + 2 * margin), min(min_side, frame_w))
    h = max(box.h * (1 + 2 * margin), min(min_side, frame_h))
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    x0 = int(max(0, min(frame_w - w, cx - w / 2)))
    y0 = int(max(0, min(frame_h - h, cy - h / 2)))
    x1, y1 = int(min(frame_w, x0 + round(w))), int(min(frame_h, y0 + round(h)))
    return Box(x0, y0, x1 - x0, y1 - y0)


def closeup_jpeg(frame: np.ndarray, box: Box, quality: int = JPEG_QUALITY) -> tuple[bytes, Box]:
    """The JPEG of the object's crop from ``frame`` (BGR), and the crop's box in the frame."""
    crop = crop_box(box, frame.shape[1], frame.shape[0])
    ok, data = cv2.imencode(".jpg", frame[crop.y:crop.y + crop.h, crop.x:crop.x + crop.w],
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode the close-up")
    return data.tobytes(), crop
