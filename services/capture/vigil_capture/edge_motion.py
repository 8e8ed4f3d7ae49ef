"""Motion measured on the camera, where the pixels already are (docs/protocol.md#motion-at-the-edge).

The server no longer decodes a camera's frames to find motion: each capture process samples its
own picture ``sample_fps`` times a second, scores it with the detector the recorder uses
(:mod:`vigil_common.motion.detect`: the same shrink, blur, background and threshold, so a camera
scores alike wherever it is measured) and publishes a :class:`MotionScore` per sample; the
recorder turns the scores into events. How to measure (sensitivity, mask, minimum area, rate)
comes from the server as a retained :class:`MotionConfig`.

- cameras whose frames the capture has as pixels (USB, file, synthetic, HTTP; JPEG or edge
  H.264) are sampled in the grab thread on the raw picture, before the overlay is drawn (the
  burned-in clock is not motion): a resize to ~160 px and the detector, well under 1 ms at 720p;
- cameras that encode themselves (RTSP passthrough, the Pi's hardware encoder) are sampled at
  their keyframes only, decoded on a thread of their own (:class:`KeyframeSampler`): one decode
  per GOP, never per frame. With a 2 s GOP that is a sample every 2 s.

The background's learning rate follows the interval the samples actually come at.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import av
import cv2
import numpy as np
from av.codec.context import CodecContext
from av.packet import Packet
from av.video.frame import VideoFrame

from vigil_capture.access_units import AccessUnit
from vigil_common.contract import h264
from vigil_common.contract.messages import MotionConfig, MotionScore
from vigil_common.motion.detect import (
    WORK_WIDTH,
    DetectorConfig,
    MaskError,
    MotionDetector,
    learn_rate_for,
    parse_mask,
    threshold_for,
)
from vigil_common.runtime.logsetup import RateLimitedLog

log = logging.getLogger(__name__)

BACKGROUND_TIME_CONSTANT_S = 5.0  # as the recorder's detector
MAX_INTERVAL_S = 10.0  # a longer gap (stream paused) is not a learning interval
NS = 1_000_000_000

PublishScore = Callable[[MotionScore], None]


class MotionInputError(ValueError):
    """A picture the sampler cannot measure (an undecodable keyframe, an empty image)."""


def small_gray(image: np.ndarray, target_width: int = WORK_WIDTH) -> np.ndarray:
    """A BGR (or grey) picture's brightness about ``target_width`` px wide: an area resize by the
    integer factor :func:`vigil_common.motion.detect.shrink` would use, then BT.601 luma."""
    if image.ndim not in (2, 3) or image.size == 0:
        raise MotionInputError(f"cannot measure an image of shape {image.shape}")
    height, width = image.shape[:2]
    factor = max(1, width // max(1, target_width))
    if factor > 1 and height >= factor:
        image = cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(image, dtype=np.uint8)


def keyframe_gray(access_unit: bytes, target_width: int = WORK_WIDTH) -> np.ndarray:
    """An IDR access unit (SPS/PPS in band) decoded alone, as :func:`small_gray` of its luma."""
    if not h264.can_start_segment(access_unit):
        raise MotionInputError("not an IDR picture with in-band SPS/PPS")
    ctx = CodecContext.create("h264", "r")
    try:
        frames = list(ctx.decode(Packet(access_unit)))
        if not frames:
            frames = list(ctx.decode(None))
    except (av.FFmpegError, ValueError) as exc:
        raise MotionInputError(f"keyframe decode failed: {exc}") from None
    if not frames or not isinstance(frames[0], VideoFrame):
        raise MotionInputError("keyframe decoder returned no picture")
    plane = frames[0].planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    return small_gray(rows[:, : plane.width], target_width)


@dataclass
class MotionCounters:
    samples: int = 0
    hot: int = 0
    failed: int = 0


class EdgeMotion:
    """One camera's motion sampler. ``configure`` may be called from any thread (the MQTT
    network thread); sampling happens on one thread at a time (grab or keyframe thread)."""

    def __init__(self, publish: PublishScore, config: MotionConfig | None = None, *, enabled: bool = True) -> None:
        self._publish = publish
        self.allowed = enabled  # False: this camera never measures (``vigil capture --no-motion``)
        self._lock = threading.Lock()
        self._pending: MotionConfig | None = None
        self._config = config or MotionConfig()
        self._detector = self._build(self._config)
        self._next_ns = 0
        self._last_ns: int | None = None
        self._rate_for: float | None = None
        self.counters = MotionCounters()

    # --- any thread ------------------------------------------------------------------------
    def configure(self, config: MotionConfig) -> None:
        with self._lock:
            self._pending = config

    @property
    def config(self) -> MotionConfig:
        with self._lock:
            return self._pending or self._config

    @property
    def enabled(self) -> bool:
        return self.allowed and self.config.enabled

    # --- the sampling thread ---------------------------------------------------------------
    def due(self, capture_ns: int) -> bool:
        """True when a picture captured at ``capture_ns`` should be measured."""
        return self.enabled and capture_ns >= self._next_ns

    def observe_bgr(self, image: np.ndarray, seq: int, capture_ns: int) -> MotionScore | None:
        return self.observe_gray(small_gray(image), seq, capture_ns)

    def observe_keyframe(self, unit: AccessUnit, seq: int) -> MotionScore | None:
        return self.observe_gray(keyframe_gray(unit.data), seq, unit.capture_ns)

    def observe_gray(self, gray: np.ndarray, seq: int, capture_ns: int) -> MotionScore | None:
        """Measure one small grey picture and publish its score (None: it only set the background)."""
        self._apply_pending()
        config = self._config
        self._next_ns = capture_ns + int(NS / config.sample_fps)
        if self._last_ns is not None:
            interval = (capture_ns - self._last_ns) / NS
            if 0 < interval <= MAX_INTERVAL_S:
                self._learn_for(interval)
        first = self._last_ns is None
        self._last_ns = capture_ns
        measurement = self._detector.process(gray)
        if first:
            return None
        score = MotionScore(seq=seq, capture_ns=capture_ns, score=min(1.0, measurement.score), hot=measurement.hot)
        self.counters.samples += 1
        self.counters.hot += int(measurement.hot)
        self._publish(score)
        return score

    def _learn_for(self, interval_s: float) -> None:
        # Follow the real interval, but only rebuild when it moved by more than 20 %.
        if self._rate_for is None or abs(interval_s - self._rate_for) > 0.2 * self._rate_for:
            self._rate_for = interval_s
            self._detector.set_learn_rate(learn_rate_for(interval_s, BACKGROUND_TIME_CONSTANT_S))

    def _apply_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is None or pending == self._config:
            return
        self._config = pending
        self._detector = self._build(pending)
        self._last_ns = None
        self._rate_for = None
        self._next_ns = 0
        log.info("motion settings now: %s", pending.model_dump())

    @staticmethod
    def _build(config: MotionConfig) -> MotionDetector:
        try:
            mask = parse_mask(json.dumps(config.mask))
        except MaskError as exc:
            log.warning("motion mask ignored: %s", exc)
            mask = []
        detector_config = DetectorConfig(
            threshold=threshold_for(config.sensitivity),
            min_area=config.min_area,
            learn_rate=learn_rate_for(1.0 / config.sample_fps, BACKGROUND_TIME_CONSTANT_S),
        )
        return MotionDetector(detector_config, mask)


class KeyframeSampler:
    """Measures an encoded camera at its keyframes on a thread of its own. ``offer`` never blocks
    the reader: it keeps only the newest keyframe due, so a slow decode skips samples, never
    frames."""

    def __init__(self, motion: EdgeMotion) -> None:
        self.motion = motion
        self._slot: tuple[AccessUnit, int] | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture-motion", daemon=True)
        self._log = RateLimitedLog(log)

    def offer(self, unit: AccessUnit, seq: int) -> bool:
        if not unit.keyframe or not self.motion.due(unit.capture_ns):
            return False
        with self._cond:
            self._slot = (unit, seq)
            self._cond.notify()
        return True

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                if self._slot is None:
                    self._cond.wait(0.5)
                item, self._slot = self._slot, None
            if item is None:
                continue
            try:
                self.motion.observe_keyframe(*item)
            except Exception as exc:  # noqa: BLE001 - one bad keyframe must not end motion sampling
                self.motion.counters.failed += 1
                self._log.warning("motion", "motion sample skipped: %s", exc)
