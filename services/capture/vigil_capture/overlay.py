"""The text overlay: current time, camera name and location, white on a darkened box.

OpenCV's Hershey fonts draw ASCII only, so other characters are shown as ``?``.
"""

from __future__ import annotations

from datetime import datetime

import cv2
import numpy as np

from vigil_capture.images import Image

FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT_COLOUR = (255, 255, 255)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S %Z"


def overlay_lines(now: datetime, name: str, location: str) -> list[str]:
    """The overlay's text: ``name - location`` (whichever are set), then the time."""
    label = " - ".join(part for part in (name.strip(), location.strip()) if part)
    stamp = now.strftime(TIME_FORMAT).strip()
    return [_ascii(label), stamp] if label else [stamp]


def draw_overlay(image: Image, lines: list[str]) -> None:
    """Draw ``lines`` in the top-left corner of ``image`` (in place), sized to the image height."""
    height, width = image.shape[:2]
    scale = max(0.35, height / 720 * 0.75)
    thickness = max(1, round(scale * 2))
    pad = max(2, round(8 * scale))
    sizes = [cv2.getTextSize(line, FONT, scale, thickness) for line in lines]
    line_h = max(h + baseline for (_w, h), baseline in sizes)
    box_w = min(width, max(w for (w, _h), _b in sizes) + 2 * pad)
    box_h = min(height, len(lines) * (line_h + pad) + pad)
    region = image[0:box_h, 0:box_w]
    np.right_shift(region, 2, out=region)  # darken to 25 %: readable on any background
    top = pad
    for line, ((_w, h), _baseline) in zip(lines, sizes, strict=True):
        cv2.putText(image, line, (pad, top + h), FONT, scale, TEXT_COLOUR, thickness, cv2.LINE_AA)
        top += line_h + pad


def _ascii(text: str) -> str:
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text)
