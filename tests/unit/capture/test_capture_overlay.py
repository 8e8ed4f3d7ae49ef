"""Per-frame processing: resize, overlay on/off, JPEG encoding and the VGF1 envelope."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from vigil_capture.config import CaptureConfig
from vigil_capture.overlay import draw_overlay, overlay_lines
from vigil_capture.processing import encode_jpeg, envelope, fit_to_size, prepare_frame
from vigil_capture.sources import SyntheticSource
from vigil_common.contract.envelope import Codec, parse
from vigil_common.contract.jpeg import jpeg_dimensions

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def _config(**changes: object) -> CaptureConfig:
    base = {
        "fps": 10.0,
        "width": 320,
        "height": 240,
        "quality": 80,
        "overlay": True,
        "name": "Front door",
        "location": "Porch",
    }
    base.update(changes)
    return CaptureConfig(**base)  # type: ignore[arg-type]


def _frame(width: int = 320, height: int = 240) -> np.ndarray:
    source = SyntheticSource(width, height)
    source.open()
    return source.render(7)


def test_overlay_lines() -> None:
    assert overlay_lines(NOW, "Front door", "Porch") == ["Front door - Porch", "2025-03-04 05:06:07 UTC"]
    assert overlay_lines(NOW, "cam1", "") == ["cam1", "2025-03-04 05:06:07 UTC"]
    assert overlay_lines(NOW, " ", "") == ["2025-03-04 05:06:07 UTC"]
    assert overlay_lines(NOW, "Café", "") == ["Caf?", "2025-03-04 05:06:07 UTC"]


def test_overlay_on_draws_in_the_top_left_corner_only() -> None:
    original = _frame()
    drawn = prepare_frame(original.copy(), _config(overlay=True), NOW)
    changed = np.any(drawn != original, axis=2)
    assert changed[:30, :100].any()  # text box in the top-left corner
    assert not changed[120:, :].any()  # the rest of the picture is untouched
    # the box behind the text is darker than the picture was
    assert drawn[:5, :5].mean() < original[:5, :5].mean()


def test_overlay_off_leaves_the_frame_alone() -> None:
    original = _frame()
    result = prepare_frame(original.copy(), _config(overlay=False), NOW)
    assert np.array_equal(result, original)


def test_overlay_text_changes_with_time() -> None:
    a = prepare_frame(_frame(), _config(), NOW)
    b = prepare_frame(_frame(), _config(), NOW.replace(second=8))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(("width", "height"), [(16, 16), (40, 20), (1920, 1080)])
def test_overlay_fits_any_size(width: int, height: int) -> None:
    image = np.zeros((height, width, 3), dtype=np.uint8)
    draw_overlay(image, overlay_lines(NOW, "a very long camera name indeed", "somewhere"))
    assert image.shape == (height, width, 3)


def test_resize_only_when_the_size_differs() -> None:
    frame = _frame(320, 240)
    assert fit_to_size(frame, 320, 240) is frame
    assert fit_to_size(frame, 160, 120).shape == (120, 160, 3)
    assert fit_to_size(frame, 640, 360).shape == (360, 640, 3)
    result = prepare_frame(frame, _config(width=64, height=48, overlay=False), NOW)
    assert result.shape == (48, 64, 3)


def test_jpeg_and_envelope() -> None:
    image = prepare_frame(_frame(), _config(), NOW)
    jpeg = encode_jpeg(image, 80)
    assert jpeg_dimensions(jpeg) == (320, 240)
    assert len(encode_jpeg(image, 20)) < len(jpeg)
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == (240, 320, 3)

    data = envelope(jpeg, seq=42, capture_ns=1_700_000_000_123_456_789, width=320, height=240)
    frame = parse(data)
    assert frame.codec is Codec.JPEG and frame.keyframe
    assert (frame.seq, frame.capture_ns, frame.width, frame.height) == (42, 1_700_000_000_123_456_789, 320, 240)
    assert frame.payload == jpeg
