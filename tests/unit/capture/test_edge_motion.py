"""Motion measured at the edge (vigil_capture.edge_motion): the shrink, the sampler's rate, mask,
sensitivity and enable switches, the keyframe path through real libx264/PyAV, and the capture
pipeline measuring the raw picture before the overlay. No mocks: real detector, real codec."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from tests.unit.capture.test_capture_pipeline import RecordingSink, wait_until
from vigil_capture.access_units import AccessUnit
from vigil_capture.config import CaptureConfig
from vigil_capture.edge_encoder import EdgeEncoder
from vigil_capture.edge_motion import (
    EdgeMotion,
    KeyframeSampler,
    MotionInputError,
    keyframe_gray,
    small_gray,
)
from vigil_capture.images import Image
from vigil_capture.pipeline import CapturePipeline
from vigil_capture.processing import prepare_frame
from vigil_capture.sources import Source, SourceKind, SyntheticSource
from vigil_common.contract.messages import MotionConfig, MotionScore
from vigil_common.motion.detect import shrink

NS = 1_000_000_000
T0 = 1_700_000_000 * NS  # a wall-clock capture time
HALF_S = NS // 2  # the default sample interval (sample_fps 2)
WIDTH, HEIGHT = 640, 360  # 4x the detector's 160 px working width
SQUARE = 200


class Collector:
    """The publish callback: keeps every score (thread-safe, the keyframe path publishes from
    its own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scores: list[MotionScore] = []

    def __call__(self, score: MotionScore) -> None:
        with self._lock:
            self._scores.append(score)

    @property
    def scores(self) -> list[MotionScore]:
        with self._lock:
            return list(self._scores)

    def count(self) -> int:
        with self._lock:
            return len(self._scores)


def textured(seed: int = 1, width: int = WIDTH, height: int = HEIGHT) -> Image:
    """A deterministic noisy BGR background (30..149, so +20 or a white square never clips)."""
    rng = np.random.default_rng(seed)
    return rng.integers(30, 150, (height, width, 3), dtype=np.uint8)


def smooth_textured(seed: int = 2, width: int = WIDTH, height: int = HEIGHT) -> Image:
    """A deterministic low-frequency BGR background: compresses well, so H.264 keyframes of the
    same picture decode (nearly) alike."""
    rng = np.random.default_rng(seed)
    low = rng.integers(30, 170, (12, 20, 3), dtype=np.uint8)
    return np.ascontiguousarray(cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC))


def with_square(background: Image, x: int, y: int = 80, size: int = SQUARE, level: int = 255) -> Image:
    frame = background.copy()
    frame[y : y + size, x : x + size] = level
    return frame


# --- small_gray ----------------------------------------------------------------------------
@pytest.mark.parametrize("level", [0, 17, 128, 255])
def test_small_gray_of_a_uniform_bgr_picture_is_that_level_about_160_px_wide(level: int) -> None:
    image = np.full((720, 1280, 3), level, np.uint8)
    gray = small_gray(image)
    assert gray.ndim == 2 and gray.dtype == np.uint8
    assert 160 <= gray.shape[1] <= 320
    assert gray.shape == (90, 160)  # 1280 / 8, 720 / 8
    assert int(gray.min()) == int(gray.max()) == level
    assert gray.flags.c_contiguous


def test_small_gray_of_a_grey_2d_picture() -> None:
    gray = small_gray(np.full((720, 1280), 93, np.uint8))
    assert gray.shape == (90, 160)
    assert int(gray.min()) == int(gray.max()) == 93


def test_small_gray_leaves_a_small_picture_at_its_size() -> None:
    image = np.full((90, 120, 3), 50, np.uint8)
    gray = small_gray(image)
    assert gray.shape == (90, 120) and int(gray.max()) == 50


@pytest.mark.parametrize(
    "shape",
    [(0, 0, 3), (0, 640, 3), (360, 0), (0,), (640,), (2, 2, 3, 1)],
)
def test_small_gray_refuses_empty_or_ill_shaped_pictures(shape: tuple[int, ...]) -> None:
    with pytest.raises(MotionInputError):
        small_gray(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("size", [(1280, 720), (640, 360), (1000, 600), (1920, 1080)])
def test_small_gray_matches_the_recorders_shrink_of_the_luma(size: tuple[int, int]) -> None:
    width, height = size
    xs = np.linspace(0, 255, width, dtype=np.float32)[np.newaxis, :]
    ys = np.linspace(0, 255, height, dtype=np.float32)[:, np.newaxis]
    image = np.empty((height, width, 3), np.uint8)
    image[:, :, 0] = np.broadcast_to(xs, (height, width)).astype(np.uint8)
    image[:, :, 1] = np.broadcast_to(ys, (height, width)).astype(np.uint8)
    image[:, :, 2] = ((xs + ys) / 2).astype(np.uint8)
    luma = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    expected = shrink(luma, 160)
    gray = small_gray(image)
    assert gray.shape == expected.shape
    assert int(np.abs(gray.astype(np.int32) - expected.astype(np.int32)).max()) <= 2


# --- EdgeMotion ----------------------------------------------------------------------------
def test_first_sample_initialises_static_scores_zero_moving_square_is_hot() -> None:
    collect = Collector()
    motion = EdgeMotion(collect)
    background = textured()
    t = T0
    assert motion.due(t)
    assert motion.observe_bgr(background, 0, t) is None  # only sets the background
    assert collect.count() == 0 and motion.counters.samples == 0
    static: list[MotionScore] = []
    for seq in range(1, 5):
        t += HALF_S
        score = motion.observe_bgr(background.copy(), seq, t)
        assert score is not None
        static.append(score)
    assert all(s.score == 0.0 and not s.hot for s in static)
    moving: list[MotionScore] = []
    for i, seq in enumerate(range(5, 10)):
        t += HALF_S
        score = motion.observe_bgr(with_square(background, 40 + 60 * i), seq, t)
        assert score is not None
        moving.append(score)
    min_area = motion.config.min_area
    assert all(s.hot and s.score > min_area for s in moving)
    published = collect.scores
    assert published == static + moving  # every measured sample is published, and returned
    assert [s.seq for s in published] == list(range(1, 10))
    assert [s.capture_ns for s in published] == [T0 + k * HALF_S for k in range(1, 10)]
    assert all(0.0 <= s.score <= 1.0 for s in published)
    assert motion.counters.samples == 9 and motion.counters.hot == 5 and motion.counters.failed == 0


def test_due_follows_sample_fps() -> None:
    motion = EdgeMotion(Collector())
    background = textured()
    assert motion.due(1)  # nothing measured yet
    motion.observe_bgr(background, 0, T0)
    assert not motion.due(T0)
    assert not motion.due(T0 + HALF_S - 1)
    assert motion.due(T0 + HALF_S)  # default 2 samples a second
    fast = EdgeMotion(Collector(), MotionConfig(sample_fps=4.0))
    fast.observe_bgr(background, 0, T0)
    assert not fast.due(T0 + NS // 4 - 1) and fast.due(T0 + NS // 4)
    slow = EdgeMotion(Collector(), MotionConfig(sample_fps=0.5))
    slow.observe_bgr(background, 0, T0)
    assert not slow.due(T0 + 2 * NS - 1) and slow.due(T0 + 2 * NS)


def test_grey_pictures_can_be_observed_directly() -> None:
    collect = Collector()
    motion = EdgeMotion(collect)
    gray = small_gray(textured())
    assert motion.observe_gray(gray, 0, T0) is None
    score = motion.observe_gray(gray.copy(), 1, T0 + HALF_S)
    assert score is not None and score.score == 0.0 and not score.hot
    assert collect.scores == [score]


def test_a_mask_over_the_moving_square_silences_it_after_a_reinitialisation() -> None:
    collect = Collector()
    motion = EdgeMotion(collect)
    background = textured()
    t = T0
    assert motion.observe_bgr(background, 0, t) is None
    t += HALF_S
    unmasked = motion.observe_bgr(with_square(background, 340), 1, t)
    assert unmasked is not None and unmasked.hot  # the square in the right half is motion ...

    mask = [[0.5, 0.0, 0.5, 1.0]]  # ... until the right half is masked
    motion.configure(MotionConfig(mask=mask))
    assert motion.config.mask == mask  # visible at once, applied at the next sample
    published = collect.count()
    t += HALF_S
    assert motion.due(t)
    assert motion.observe_bgr(with_square(background, 360), 2, t) is None  # restarts the background
    assert collect.count() == published
    masked: list[MotionScore] = []
    for seq, x in enumerate((400, 440, 380), start=3):
        t += HALF_S
        score = motion.observe_bgr(with_square(background, x), seq, t)
        assert score is not None
        masked.append(score)
    t += HALF_S
    gone = motion.observe_bgr(background, 6, t)  # the square leaves, still inside the mask
    assert gone is not None
    masked.append(gone)
    assert all(not s.hot and s.score == 0.0 for s in masked)

    t += HALF_S
    left = motion.observe_bgr(with_square(background, 40), 7, t)  # the unmasked half still counts
    assert left is not None and left.hot


def test_motion_disabled_by_config_is_never_due_and_reenabled_is() -> None:
    motion = EdgeMotion(Collector())
    motion.observe_bgr(textured(), 0, T0)
    motion.configure(MotionConfig(enabled=False))
    assert not motion.enabled
    assert not motion.due(T0 + 10 * NS)
    motion.configure(MotionConfig(enabled=True))
    assert motion.enabled and motion.due(T0 + 10 * NS)


def test_motion_disabled_on_the_camera_is_never_due_whatever_the_config() -> None:
    motion = EdgeMotion(Collector(), enabled=False)
    assert not motion.enabled and not motion.due(T0)
    motion.configure(MotionConfig(enabled=True, sample_fps=30.0))
    assert not motion.enabled and not motion.due(T0 + 100 * NS)
    assert KeyframeSampler(motion).offer(AccessUnit(b"", True, T0, 16, 16), 0) is False


def faint_change_score(sensitivity: float) -> MotionScore:
    motion = EdgeMotion(Collector(), MotionConfig(sensitivity=sensitivity))
    background = textured()
    assert motion.observe_bgr(background, 0, T0) is None
    brighter = background.copy()
    brighter[100:300, 100:300] += 20  # +20 grey levels on a 200x200 region (no clipping)
    score = motion.observe_bgr(brighter, 1, T0 + HALF_S)
    assert score is not None
    return score


def test_sensitivity_decides_whether_a_faint_change_is_motion() -> None:
    insensitive = faint_change_score(0.0)  # threshold 50 grey levels
    sensitive = faint_change_score(1.0)  # threshold 10 grey levels
    assert not insensitive.hot and insensitive.score == 0.0
    assert sensitive.hot and sensitive.score > 0.05


def test_a_global_brightness_change_is_not_motion() -> None:
    motion = EdgeMotion(Collector(), MotionConfig(sensitivity=1.0))
    background = textured()
    motion.observe_bgr(background, 0, T0)
    score = motion.observe_bgr(background + 40, 1, T0 + HALF_S)  # auto exposure, a cloud
    assert score is not None and not score.hot


# --- keyframes -----------------------------------------------------------------------------
def encoded_clip(frames: int = 60, fps: float = 10.0) -> list[tuple[int, AccessUnit]]:
    """``frames`` pictures 640x360 at ``fps`` with a 1 s GOP; a square moves in the second half.
    Returns (frame index, access unit) in order."""
    encoder = EdgeEncoder(fps, gop_s=1.0)
    background = smooth_textured()
    units: list[tuple[int, AccessUnit]] = []
    for i in range(frames):
        image = background if i < frames // 2 else with_square(background, 20 + 8 * (i - frames // 2))
        for unit in encoder.encode(image.copy(), T0 + i * NS // round(fps)):
            units.append((i, unit))
    return units


def measured(motion: EdgeMotion, collect: Collector, unit: AccessUnit, published: int) -> Callable[[], bool]:
    """True once the keyframe thread measured ``unit`` (it is no longer due) and ``published``
    scores are out."""
    return lambda: not motion.due(unit.capture_ns) and collect.count() == published


@pytest.fixture(scope="module")
def clip() -> list[tuple[int, AccessUnit]]:
    return encoded_clip()


def test_keyframe_sampler_measures_keyframes_only(clip: list[tuple[int, AccessUnit]]) -> None:
    assert len(clip) == 60
    collect = Collector()
    motion = EdgeMotion(collect)
    sampler = KeyframeSampler(motion)
    sampler.start()
    accepted: list[int] = []
    try:
        for index, unit in clip:
            taken = sampler.offer(unit, index)
            if not unit.keyframe:
                assert taken is False
                continue
            assert taken  # a keyframe every 1 s, a sample due every 0.5 s
            accepted.append(index)
            # let the decode thread take and measure it before the next keyframe is offered
            wait_until(measured(motion, collect, unit, published=len(accepted) - 1))
            assert sampler.offer(unit, index) is False  # measured: not due again
    finally:
        sampler.stop()
    assert accepted == [0, 10, 20, 30, 40, 50]
    scores = collect.scores
    assert len(scores) + 1 == len(accepted)  # the first keyframe only initialised the background
    assert [s.seq for s in scores] == accepted[1:]
    by_seq = {s.seq: s for s in scores}
    min_area = motion.config.min_area
    for index in (10, 20):  # the same picture re-encoded: only compression noise
        assert not by_seq[index].hot and by_seq[index].score < min_area
    for index in (30, 40, 50):  # the square appeared, then moved 80 px a second
        assert by_seq[index].hot and by_seq[index].score > min_area
    assert motion.counters.failed == 0


def test_keyframe_sampler_survives_an_undecodable_keyframe(clip: list[tuple[int, AccessUnit]]) -> None:
    collect = Collector()
    motion = EdgeMotion(collect)
    sampler = KeyframeSampler(motion)
    sampler.start()
    keys = [unit for _i, unit in clip if unit.keyframe]
    garbage = b"\x00\x00\x00\x01\x67" + b"\xff" * 20 + b"\x00\x00\x00\x01\x68" + b"\xff" * 4 + b"\x00\x00\x00\x01\x65"
    try:
        assert sampler.offer(AccessUnit(garbage + b"\xff" * 200, True, T0 - NS, 640, 360), 0)
        wait_until(lambda: motion.counters.failed == 1)
        for n, unit in enumerate(keys[:3]):
            assert sampler.offer(unit, n + 1)
            wait_until(measured(motion, collect, unit, published=n))
    finally:
        sampler.stop()
    assert collect.count() == 2 and motion.counters.failed == 1


def test_keyframe_gray_decodes_an_idr_alone(clip: list[tuple[int, AccessUnit]]) -> None:
    key = next(unit for _i, unit in clip if unit.keyframe)
    gray = keyframe_gray(key.data)
    assert gray.shape == (90, 160) and gray.dtype == np.uint8
    # limited-range luma of the source picture: close to 16 + 219/255 of its BT.601 luma
    source = small_gray(smooth_textured()).astype(np.float64)
    assert float(np.abs(gray - (16 + source * 219 / 255)).mean()) < 3.0


def test_keyframe_gray_refuses_non_idr_and_garbage(clip: list[tuple[int, AccessUnit]]) -> None:
    p_frame = next(unit for _i, unit in clip if not unit.keyframe)
    with pytest.raises(MotionInputError):
        keyframe_gray(p_frame.data)
    with pytest.raises(MotionInputError):
        keyframe_gray(b"")
    rng = np.random.default_rng(3)
    garbage = (
        b"\x00\x00\x00\x01\x67" + rng.integers(0, 256, 40, dtype=np.uint8).tobytes()
        + b"\x00\x00\x00\x01\x68" + rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
        + b"\x00\x00\x00\x01\x65" + rng.integers(0, 256, 500, dtype=np.uint8).tobytes()
    )
    with pytest.raises(MotionInputError):
        keyframe_gray(garbage)
    with pytest.raises(MotionInputError):
        EdgeMotion(Collector()).observe_keyframe(AccessUnit(garbage, True, T0, 640, 360), 0)


# --- the capture pipeline ------------------------------------------------------------------
class StaticSource:
    """A camera that always sees the same picture (a fresh copy each read, as a real camera)."""

    kind = SourceKind.SYNTHETIC.value

    def __init__(self, image: Image) -> None:
        self.image = image

    def open(self) -> None:
        pass

    def read(self) -> Image | None:
        return self.image.copy()

    def close(self) -> None:
        pass


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def run_pipeline(sink: RecordingSink) -> Iterator[Callable[..., CapturePipeline]]:
    pipelines: list[CapturePipeline] = []

    def factory(source: Source, config: CaptureConfig, **kwargs: object) -> CapturePipeline:
        pipeline = CapturePipeline(source, sink, config, **kwargs)
        pipeline.start()
        pipelines.append(pipeline)
        return pipeline

    yield factory
    for pipeline in pipelines:
        pipeline.stop()
        assert pipeline.failure is None


def test_pipeline_publishes_motion_scores_of_a_moving_source(
    run_pipeline: Callable[..., CapturePipeline], sink: RecordingSink
) -> None:
    config = CaptureConfig(fps=30.0, width=320, height=180, quality=70, overlay=True, name="t", location="")
    source = SyntheticSource(config.width, config.height)
    source.open()
    collect = Collector()
    motion = EdgeMotion(collect, MotionConfig(sample_fps=10.0))
    pipeline = run_pipeline(source, config, encoder=EdgeEncoder(config.fps, 1.0), motion=motion)
    wait_until(lambda: collect.count() >= 6)
    assert pipeline.motion is motion and pipeline.codec == "h264"
    scores = collect.scores
    assert [s.seq for s in scores] == sorted({s.seq for s in scores})
    gaps = [b.capture_ns - a.capture_ns for a, b in itertools.pairwise(scores)]
    assert all(gap >= NS // 10 for gap in gaps)  # no faster than sample_fps
    assert sum(s.hot for s in scores) >= len(scores) - 1  # the bouncing box moves between samples
    wait_until(lambda: sink.count() > 0)
    assert motion.counters.failed == 0


def test_pipeline_measures_the_raw_picture_before_the_overlay(
    run_pipeline: Callable[..., CapturePipeline], sink: RecordingSink
) -> None:
    # At 160x96 the detector works at full size, so the burned-in clock's digits are visible to
    # it at sensitivity 1: a one-second tick is motion if the overlaid picture is measured.
    image = textured(5, 160, 96)
    config = CaptureConfig(fps=30.0, width=160, height=96, quality=70, overlay=True, name="cam", location="")
    settings = MotionConfig(sample_fps=10.0, sensitivity=1.0)

    # Control: the same picture overlaid a second apart.
    probe = EdgeMotion(Collector(), settings)
    before = datetime(2024, 1, 1, 12, 59, 58, tzinfo=UTC)
    after = datetime(2024, 1, 1, 12, 59, 59, tzinfo=UTC)
    probe.observe_bgr(prepare_frame(image.copy(), config, before), 0, T0)
    overlaid = probe.observe_bgr(prepare_frame(image.copy(), config, after), 1, T0 + NS // 10)
    assert overlaid is not None and overlaid.hot

    collect = Collector()
    motion = EdgeMotion(collect, settings)
    run_pipeline(StaticSource(image), config, motion=motion)

    def clock_ticked() -> bool:  # scores on both sides of a whole second: the overlay changed
        seconds = {s.capture_ns // NS for s in collect.scores}
        return len(seconds) >= 2 and collect.count() >= 4

    wait_until(clock_ticked, timeout=5.0)
    scores = collect.scores
    assert all(not s.hot and s.score == 0.0 for s in scores)
    wait_until(lambda: sink.count() > 0)
    sent = cv2.imdecode(np.frombuffer(sink.frames[0].payload, np.uint8), cv2.IMREAD_COLOR)
    assert sent is not None and sent.shape == (96, 160, 3)
    # what was sent carries the overlay (its corner is darkened), what was measured did not
    assert float(sent[:3, :40].mean()) < float(image[:3, :40].mean()) / 2

