"""The motion detector on synthetic grey frames (no decoding, no clock)."""

from __future__ import annotations

import numpy as np
import pytest

from vigil_common.motion.detect import (
    DetectorConfig,
    MaskError,
    MotionDetector,
    Rect,
    active_pixels,
    box_blur,
    learn_rate_for,
    parse_mask,
    threshold_for,
)

H, W = 90, 160
RNG = np.random.default_rng(1234)


def scene(noise: float = 2.0, base: int = 100) -> np.ndarray:
    """A textured static scene plus sensor noise."""
    yy, xx = np.mgrid[0:H, 0:W]
    img = base + 40 * np.sin(xx / 9.0) * np.cos(yy / 7.0)
    img = img + RNG.normal(0, noise, (H, W))
    return np.clip(img, 0, 255).astype(np.uint8)


def with_square(img: np.ndarray, x: int, y: int, size: int = 12, value: int = 240) -> np.ndarray:
    out = img.copy()
    out[y : y + size, x : x + size] = value
    return out


def primed(config: DetectorConfig | None = None, mask: list[Rect] | None = None, frames: int = 5) -> MotionDetector:
    det = MotionDetector(config or DetectorConfig(), mask or [])
    for _ in range(frames):
        det.process(scene())
    return det


def test_first_frame_only_initialises() -> None:
    det = MotionDetector(DetectorConfig())
    m = det.process(with_square(scene(), 10, 10))
    assert (m.score, m.hot) == (0.0, False)
    assert m.active == H * W


def test_static_scene_with_sensor_noise_is_quiet() -> None:
    det = primed()
    results = [det.process(scene(noise=3.0)) for _ in range(40)]
    assert not any(r.hot for r in results)
    assert max(r.score for r in results) < 0.001


def test_moving_square_is_motion_with_its_area_as_score() -> None:
    det = primed()
    results = [det.process(with_square(scene(), 10 + 8 * i, 30)) for i in range(10)]
    assert all(r.hot for r in results)
    # The square (12x12, blurred edges) and the place it left: about 2 x 144 px of 14,400.
    assert all(0.005 < r.score < 0.05 for r in results)


def test_dark_object_on_bright_background_counts_the_same_as_bright_on_dark() -> None:
    """No uint8 wraparound: both signs of change are measured alike."""
    bright = MotionDetector(DetectorConfig(min_area=0.001))
    dark = MotionDetector(DetectorConfig(min_area=0.001))
    for _ in range(3):
        bright.process(np.full((H, W), 250, np.uint8))
        dark.process(np.full((H, W), 5, np.uint8))
    a = bright.process(with_square(np.full((H, W), 250, np.uint8), 50, 40, value=5))
    b = dark.process(with_square(np.full((H, W), 5, np.uint8), 50, 40, value=250))
    assert a.hot and b.hot
    assert a.changed == b.changed > 0


def test_masked_region_is_ignored() -> None:
    mask = [Rect(0.0, 0.0, 0.5, 1.0)]  # the left half
    det = primed(mask=mask)
    inside = [det.process(with_square(scene(), 5 + 6 * i, 40)) for i in range(8)]  # x < 60 < 80
    assert not any(r.hot for r in inside)
    assert all(r.active == H * W // 2 for r in inside)
    det2 = primed(mask=mask)
    outside = [det2.process(with_square(scene(), 90 + 6 * i, 40)) for i in range(8)]
    assert all(r.hot for r in outside)


def test_fully_masked_frame_never_has_motion() -> None:
    det = primed(mask=[Rect(0, 0, 1, 1)])
    m = det.process(with_square(scene(), 50, 50))
    assert m.active == 0 and m.score == 0.0 and not m.hot


def test_sensitivity_sets_how_large_a_change_counts() -> None:
    def faint_change(sensitivity: float) -> bool:
        det = MotionDetector(DetectorConfig(threshold=threshold_for(sensitivity)))
        flat = np.full((H, W), 100, np.uint8)
        for _ in range(3):
            det.process(flat)
        return det.process(with_square(flat, 60, 30, size=20, value=120)).hot  # +20 grey levels

    assert faint_change(1.0)
    assert not faint_change(0.5)
    assert not faint_change(0.0)
    assert threshold_for(0.0) == 50 and threshold_for(0.5) == 30 and threshold_for(1.0) == 10
    assert threshold_for(-3) == 50 and threshold_for(7) == 10 and threshold_for(float("nan")) == 30


def test_global_brightness_changes_are_not_motion() -> None:
    det = primed()
    base = scene(noise=0)
    for shift in (25, -30, 15, 0):  # auto exposure jumps
        m = det.process(np.clip(base.astype(np.int16) + shift, 0, 255).astype(np.uint8))
        assert not m.hot, shift
    for _ in range(20):  # flicker: the whole frame +-5 at random, plus noise
        m = det.process(np.clip(scene(noise=2).astype(np.int16) + int(RNG.integers(-5, 6)), 0, 255).astype(np.uint8))
        assert not m.hot


def test_changes_smaller_than_the_minimum_area_are_ignored() -> None:
    det = primed(DetectorConfig(min_area=0.01))  # 144 px of 14,400
    small = det.process(with_square(scene(), 70, 40, size=6))  # 36 px + blur, moved in
    assert small.changed > 0 and not small.hot
    big = det.process(with_square(scene(), 10, 10, size=20))
    assert big.hot


def test_an_object_that_stops_fades_into_the_background() -> None:
    det = primed(DetectorConfig(learn_rate=0.3))
    parked = with_square(scene(noise=0), 70, 40, size=16)
    results = [det.process(parked) for _ in range(30)]
    assert results[0].hot
    assert not results[-1].hot


def test_a_new_frame_size_restarts_the_background() -> None:
    det = primed()
    m = det.process(np.zeros((48, 64), np.uint8))
    assert (m.score, m.hot, m.active) == (0.0, False, 48 * 64)
    assert not det.process(np.zeros((48, 64), np.uint8)).hot
    with pytest.raises(ValueError):
        det.process(np.zeros((4, 4, 3), np.uint8))


def test_box_blur_is_the_window_mean() -> None:
    img = RNG.integers(0, 256, (9, 11)).astype(np.uint8)
    out = box_blur(img, 1)
    padded = np.pad(img.astype(np.int64), 1, mode="edge")
    expected = np.array([[padded[y : y + 3, x : x + 3].sum() for x in range(11)] for y in range(9)])
    assert out.dtype == np.int32
    assert np.array_equal(out, (expected + 4) // 9)
    assert np.array_equal(box_blur(img, 0), img.astype(np.int32))


def test_learn_rate_follows_the_sample_interval() -> None:
    assert learn_rate_for(0.5, 5.0) == pytest.approx(0.0952, abs=1e-3)
    assert learn_rate_for(5.0, 5.0) > learn_rate_for(0.5, 5.0)
    assert 0 < learn_rate_for(0.0) < 0.01


def test_parse_mask() -> None:
    assert parse_mask(None) == [] and parse_mask("  ") == [] and parse_mask("[]") == []
    assert parse_mask("[[0.1, 0.2, 0.3, 0.4]]") == [Rect(0.1, 0.2, 0.3, 0.4)]
    clamped = parse_mask("[[-0.5, 0.5, 1, 1], [2, 2, 1, 1]]")  # second lies outside: dropped
    assert clamped == [Rect(0.0, 0.5, 0.5, 0.5)]
    for bad in ("{", '{"x": 1}', "[[1, 2, 3]]", '[["a", 0, 1, 1]]', "[[0, 0, 0, 1]]", "[[0, 0, 1, NaN]]",
                "[[true, 0, 1, 1]]", "[1, 2, 3, 4]", "[" + ",".join(["[0,0,1,1]"] * 65) + "]"):
        with pytest.raises(MaskError):
            parse_mask(bad)


def test_mask_rectangles_cover_every_pixel_they_touch() -> None:
    active = active_pixels([Rect(0.26, 0.0, 0.25, 0.5)], (4, 4))
    assert active.tolist() == [
        [True, False, False, True],
        [True, False, False, True],
        [True, True, True, True],
        [True, True, True, True],
    ]
