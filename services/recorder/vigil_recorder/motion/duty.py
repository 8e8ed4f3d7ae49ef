"""The motion detection duty: every ``1 / VIGIL_MOTION_SAMPLE_FPS`` seconds, each enabled
camera's motion samples are fed to its on/off state machine.

Cameras measure motion themselves (``vigil capture``, docs/protocol.md#motion-at-the-edge): their
scores arrive in ``vigil:motion:{id}`` and nothing is decoded here. The duty tells each camera
how to measure with a retained ``motion_config`` (the registry's sensitivity and mask, the
``VIGIL_MOTION_*`` settings), sent when the camera appears or its settings change. A camera
that sends no scores (a bare-JPEG ESP32-CAM, ``--no-motion``, an older capture) is measured
here instead. Per camera and run (one pipelined ``XREVRANGE`` and ``XRANGE`` cover all cameras):

- scores not seen before and not stale drive the tracker in order; a camera that sent one in
  the last few seconds is in *edge* mode, and a run without a new score only ticks its tracker;
- otherwise a frame not seen before and not stale is decoded to ~160 px grey (JPEG: reduced-size
  decode, ≈ 1-2 ms at 720p; H.264: only the newest IDR picture, so such cameras are sampled
  at their keyframe rate at most) and measured (:mod:`vigil_common.motion.detect`);
- the measurement drives :class:`~vigil_recorder.motion.state.MotionTracker`; when no new
  frame came the tracker still ticks, so an event ends when a camera stops sending;
- an event start writes its thumbnail (an edge camera's newest decodable frame: one decode
  per event, and one more for the peak at its end), inserts a ``motion_events`` row (``end`` NULL) and
  publishes a retained ``ON``; its end sets ``end`` and the peak score, replaces the
  thumbnail with the peak frame, and publishes ``OFF``;
- the camera's :class:`~vigil_recorder.segment.motion_gate.Progress` goes to Redis for the
  motion-only recording decisions.

State lives in ``ctx.state`` while this recorder leads. A new leader first closes every event
left open (ending it at its last known hot sample) and publishes ``OFF``; every minute,
open events it does not track and older than a few minutes are closed too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract import keys
from vigil_common.contract.days import ns_to_datetime
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.contract.messages import MotionConfig
from vigil_common.contract.streams import MotionEntry, motion_from_fields, redis_now_ms
from vigil_common.contract.topics import Topics
from vigil_common.db.models import Camera
from vigil_common.media.frame_buffer import Latest, newest_entries, newest_keyframe
from vigil_common.motion.detect import (
    WORK_WIDTH,
    DetectorConfig,
    MaskError,
    MotionDetector,
    learn_rate_for,
    parse_mask,
    threshold_for,
)
from vigil_common.runtime.settings import Settings
from vigil_recorder.duties import Duty, DutyContext
from vigil_recorder.media.images import ImageError, small_luma
from vigil_recorder.motion import events
from vigil_recorder.motion.state import MotionTracker, Sample, Step, TrackerConfig
from vigil_recorder.segment.motion_gate import PROGRESS_TTL_S, Progress, progress_key, read_progress

log = logging.getLogger(__name__)

STATE_KEY = "motion"
CAMERA_REFRESH_MS = 5_000
ORPHAN_SWEEP_MS = 60_000
CPU_LOG_MS = 300_000
BACKGROUND_TIME_CONSTANT_S = 5.0
MIN_QUIET_S = 2.0
MIN_STALE_MS = 5_000
ERROR_LOG_EVERY_MS = 60_000
EDGE_READ_MAX = 64  # scores read per camera and run (2 per second are expected)


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """A camera's motion settings from the registry."""

    camera_id: str
    sensitivity: float | None
    mask: str | None


@dataclass
class CameraMotion:
    """Everything the duty keeps for one camera."""

    config: CameraConfig
    detector: MotionDetector
    tracker: MotionTracker
    last_entry: str | None = None  # newest stream entry examined
    sampled: tuple[int, int] | None = None  # (arrival ms, capture ns) of the newest sample
    event_id: int | None = None
    event_start: datetime | None = None
    peak_frame: Frame | None = None  # the peak's frame, when it is not the thumbnail yet
    announced: bool = False
    last_error_ms: int = -ERROR_LOG_EVERY_MS
    edge_after: str | None = None  # newest motion score read (stream entry id)
    edge_until_ms: int = 0  # the camera measures motion itself until then (unless it sends again)
    edge_samples: int = 0
    sent_config: MotionConfig | None = None  # the retained motion_config last published


@dataclass
class CpuStats:
    """Thread CPU spent on samples (decode, then detection), for the periodic log line."""

    samples: int = 0
    decode_s: float = 0.0
    detect_s: float = 0.0

    def per_sample_ms(self) -> tuple[float, float]:
        n = max(1, self.samples)
        return self.decode_s * 1000 / n, self.detect_s * 1000 / n


def tracker_config(settings: Settings) -> TrackerConfig:
    interval = 1.0 / settings.motion_sample_fps
    return TrackerConfig(
        on_samples=2,
        quiet_s=max(settings.motion_post_roll_s, MIN_QUIET_S, 3 * interval),
        max_gap_s=max(2.0, 3 * interval),
    )


def detector_config(settings: Settings, sensitivity: float | None) -> DetectorConfig:
    return DetectorConfig(
        threshold=threshold_for(settings.motion_sensitivity if sensitivity is None else sensitivity),
        min_area=settings.motion_min_area,
        learn_rate=learn_rate_for(1.0 / settings.motion_sample_fps, BACKGROUND_TIME_CONSTANT_S),
    )


def edge_config(settings: Settings, config: CameraConfig) -> MotionConfig:
    """What the camera is told to measure with (its retained ``motion_config``)."""
    try:
        mask = [[r.x, r.y, r.w, r.h] for r in parse_mask(config.mask)]
    except MaskError:
        mask = []
    return MotionConfig(
        enabled=settings.motion_enabled,
        sensitivity=settings.motion_sensitivity if config.sensitivity is None else config.sensitivity,
        min_area=settings.motion_min_area,
        sample_fps=settings.motion_sample_fps,
        mask=mask,
    )


def load_cameras(sessions: sessionmaker[Session]) -> list[CameraConfig]:
    with sessions() as db:
        rows = db.execute(
            select(Camera.id, Camera.motion_sensitivity, Camera.motion_mask)
            .where(Camera.enabled.is_(True))
            .order_by(Camera.id)
        ).all()
    return [CameraConfig(cam, sens, mask) for cam, sens, mask in rows]


class MotionRunner:
    """The duty's memory and logic; ``clock`` (ms, Redis time by default) is for tests."""

    def __init__(self, settings: Settings, *, clock: Callable[[], int] | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.cameras: dict[str, CameraMotion] = {}
        self.cpu = CpuStats()
        self._started = False
        self._cameras_due_ms = 0
        self._sweep_due_ms = 0
        self._cpu_log_due_ms = 0
        self._configs: list[CameraConfig] = []
        self._unclosed: dict[int, tuple[str, Step]] = {}  # event id -> (camera, ending step)

    # --- one run -------------------------------------------------------------------------
    def run(self, ctx: DutyContext) -> None:
        now_ms = self.clock() if self.clock is not None else redis_now_ms(ctx.redis)
        if not self._started:
            self._close_left_open(ctx, started_before_ms=None)
            self._started = True
            self._sweep_due_ms = now_ms + ORPHAN_SWEEP_MS
        self._retry_unclosed(ctx)
        if now_ms >= self._cameras_due_ms:
            self._configs = load_cameras(ctx.sessions)
            self._sync_cameras(ctx, self._configs)
            self._cameras_due_ms = now_ms + CAMERA_REFRESH_MS
        self._publish_configs(ctx)
        scores = self._read_scores(ctx, now_ms)
        for cam, cm in self.cameras.items():
            if cam in scores:
                cm.edge_until_ms = now_ms + self._stale_ms()
        # Only cameras measured here need their newest frame (an edge camera's is read only for a
        # thumbnail): at 1080p that is the bulk of this duty's Redis traffic.
        ids = [c.camera_id for c in self._configs if now_ms >= self.cameras[c.camera_id].edge_until_ms]
        newest = newest_entries(ctx.redis, ids)
        for cam, cm in self.cameras.items():
            try:
                self._process(ctx, cm, newest.get(cam), now_ms, scores.get(cam, []))
            except (SQLAlchemyError, OSError, redis.RedisError) as exc:
                self._log_error(cm, now_ms, "motion step failed: %s", exc)
                if cm.tracker.active and cm.event_id is None:
                    cm.tracker = MotionTracker(tracker_config(self.settings))  # the start was not saved
        self._write_progress(ctx)
        if now_ms >= self._sweep_due_ms:
            self._close_left_open(ctx, started_before_ms=now_ms - int(events.ORPHAN_AGE.total_seconds() * 1000))
            self._sweep_due_ms = now_ms + ORPHAN_SWEEP_MS
        if now_ms >= self._cpu_log_due_ms:
            self._log_cpu()
            self._cpu_log_due_ms = now_ms + CPU_LOG_MS

    # --- cameras -------------------------------------------------------------------------
    def _new_camera(self, config: CameraConfig) -> CameraMotion:
        return CameraMotion(config, self._detector(config), MotionTracker(tracker_config(self.settings)))

    def _detector(self, config: CameraConfig) -> MotionDetector:
        try:
            mask = parse_mask(config.mask)
        except MaskError as exc:
            log.warning("camera %s: motion mask ignored: %s", config.camera_id, exc)
            mask = []
        return MotionDetector(detector_config(self.settings, config.sensitivity), mask)

    def _sync_cameras(self, ctx: DutyContext, configs: Sequence[CameraConfig]) -> None:
        """Add new cameras, rebuild detectors whose settings changed, end removed ones."""
        wanted = {c.camera_id: c for c in configs}
        for cam in [c for c in self.cameras if c not in wanted]:
            cm = self.cameras.pop(cam)
            if cm.event_id is not None and cm.tracker.last_hot is not None:
                self._end_event(ctx, cm, Step(ended=cm.tracker.last_hot, score=cm.tracker.score))
            self._publish_config(ctx, cam, None)  # removed or disabled: the retained settings go
        for cam, config in wanted.items():
            known = self.cameras.get(cam)
            if known is None:
                self.cameras[cam] = self._new_camera(config)
            elif known.config != config:
                known.config = config
                known.detector = self._detector(config)

    # --- telling the cameras how to measure --------------------------------------------------
    def _publish_configs(self, ctx: DutyContext) -> None:
        for cam, cm in self.cameras.items():
            wanted = edge_config(self.settings, cm.config)
            if cm.sent_config != wanted and self._publish_config(ctx, cam, wanted):
                cm.sent_config = wanted

    def _publish_config(self, ctx: DutyContext, cam: str, config: MotionConfig | None) -> bool:
        """Retained ``motion_config`` (None: an empty retained message, clearing it)."""
        payload = b"" if config is None else config.model_dump_json().encode()
        try:
            ctx.publish(Topics(self.settings.topic_prefix).motion_config(cam), payload, 1, True)
        except (OSError, RuntimeError, ValueError) as exc:  # paho raises these when it cannot queue
            log.warning("camera %s: motion settings not published (retried): %s", cam, exc)
            return False
        return True

    # --- sampling ------------------------------------------------------------------------
    def _read_scores(self, ctx: DutyContext, now_ms: int) -> dict[str, list[MotionEntry]]:
        """New motion scores per camera, oldest first (never older than the stale limit)."""
        cams = list(self.cameras.values())
        pipe = ctx.redis.pipeline(transaction=False)
        oldest = now_ms - self._stale_ms()
        for cm in cams:
            low = f"({cm.edge_after}" if cm.edge_after is not None else str(max(0, oldest))
            pipe.xrange(keys.motion_stream(cm.config.camera_id), min=low, max="+", count=EDGE_READ_MAX)
        out: dict[str, list[MotionEntry]] = {}
        for cm, rows in zip(cams, pipe.execute(), strict=True):
            entries: list[MotionEntry] = []
            for entry_id, fields in rows or []:
                try:
                    entry = motion_from_fields(entry_id, fields)
                except (KeyError, ValueError) as exc:
                    self._log_error(cm, now_ms, "motion score unreadable: %s", exc)
                    continue
                cm.edge_after = entry.entry_id
                if entry.arrival_ms >= oldest:
                    entries.append(entry)
            if entries:
                out[cm.config.camera_id] = entries
        return out

    def _stale_ms(self) -> int:
        return max(MIN_STALE_MS, int(3000 / self.settings.motion_sample_fps))

    def _next_sample(self, ctx: DutyContext, cm: CameraMotion, newest: Latest | None, now_ms: int) -> Latest | None:
        """The entry to sample now: new since the last run, recent, decodable alone."""
        if newest is None or newest.entry_id == cm.last_entry:
            return None
        after, cm.last_entry = cm.last_entry, newest.entry_id
        entry: Latest | None = newest
        if newest.frame.codec == Codec.H264:
            cam = cm.config.camera_id
            entry = newest_keyframe(ctx.redis, cam, newest_id=newest.entry_id, after_id=after)
        if entry is None or now_ms - entry.arrival_ms > self._stale_ms():
            return None
        return entry

    def _process(self, ctx: DutyContext, cm: CameraMotion, newest: Latest | None, now_ms: int,
                 scores: Sequence[MotionEntry] = ()) -> None:
        if not cm.announced:
            events.publish_state(self.settings, ctx.publish, cm.config.camera_id, on=False)
            cm.announced = True
        if now_ms < cm.edge_until_ms:
            self._process_edge(ctx, cm, now_ms, scores)
            return
        entry = self._next_sample(ctx, cm, newest, now_ms)
        step = None
        if entry is not None:
            t0 = time.thread_time()
            try:
                gray = small_luma(entry.frame, WORK_WIDTH)
            except ImageError as exc:
                self._log_error(cm, now_ms, "motion sample not decodable: %s", exc)
            else:
                t1 = time.thread_time()
                m = cm.detector.process(gray)
                self.cpu.samples += 1
                self.cpu.decode_s += t1 - t0
                self.cpu.detect_s += time.thread_time() - t1
                cm.sampled = (entry.arrival_ms, entry.frame.capture_ns)
                step = cm.tracker.observe(Sample(entry.arrival_ms / 1000, entry.frame.capture_ns, m.score, m.hot))
        if step is None:
            step = cm.tracker.idle(now_ms / 1000)
            entry = None
        self._apply(ctx, cm, step, entry)

    def _process_edge(self, ctx: DutyContext, cm: CameraMotion, now_ms: int, scores: Sequence[MotionEntry]) -> None:
        """The camera measured motion itself: its scores drive the tracker, nothing is decoded
        but the frame for a thumbnail."""
        cm.last_entry = None  # if the scores stop, the frame path starts from the newest frame
        for score in scores:
            cm.sampled = (score.arrival_ms, score.capture_ns)
            cm.edge_samples += 1
            step = cm.tracker.observe(Sample(score.arrival_ms / 1000, score.capture_ns, score.score, score.hot))
            frame = None
            if (step.started is not None) or (step.peak and cm.event_id is not None):
                frame = self._thumbnail_frame(ctx, cm.config.camera_id)
            self._apply(ctx, cm, step, frame)
        if not scores:
            self._apply(ctx, cm, cm.tracker.idle(now_ms / 1000), None)

    @staticmethod
    def _thumbnail_frame(ctx: DutyContext, cam: str) -> Latest | None:
        newest = newest_entries(ctx.redis, [cam]).get(cam)
        if newest is None or newest.frame.codec != Codec.H264:
            return newest
        return newest_keyframe(ctx.redis, cam, newest_id=newest.entry_id)

    # --- events --------------------------------------------------------------------------
    def _apply(self, ctx: DutyContext, cm: CameraMotion, step: Step, entry: Latest | None) -> None:
        cam = cm.config.camera_id
        if step.started is not None:
            start = ns_to_datetime(step.started.capture_ns)
            thumb = None if entry is None else events.write_thumbnail(self.settings, cam, start, entry.frame)
            cm.event_id = events.open_event(ctx.sessions, cam, start, step.score, thumb)
            cm.event_start = start
            cm.peak_frame = None
            events.publish_state(self.settings, ctx.publish, cam, on=True)
            log.info("motion started on camera %s (event %d, score %.3f)", cam, cm.event_id, step.score)
        elif step.peak and entry is not None and cm.event_id is not None:
            cm.peak_frame = entry.frame
        if step.ended is not None:
            self._end_event(ctx, cm, step)

    def _end_event(self, ctx: DutyContext, cm: CameraMotion, step: Step) -> None:
        event_id, start, cam = cm.event_id, cm.event_start, cm.config.camera_id
        peak, cm.event_id, cm.event_start, cm.peak_frame = cm.peak_frame, None, None, None
        if event_id is None or start is None or step.ended is None:
            return
        thumb = None if peak is None else events.write_thumbnail(self.settings, cam, start, peak)
        try:
            events.close_event(ctx.sessions, event_id, ns_to_datetime(step.ended.capture_ns), step.score, thumb)
        except SQLAlchemyError:
            self._unclosed[event_id] = (cam, step)
            raise
        events.publish_state(self.settings, ctx.publish, cam, on=False)
        log.info("motion ended on camera %s (event %d, score %.3f)", cam, event_id, step.score)

    def _retry_unclosed(self, ctx: DutyContext) -> None:
        for event_id, (cam, step) in list(self._unclosed.items()):
            assert step.ended is not None
            events.close_event(ctx.sessions, event_id, ns_to_datetime(step.ended.capture_ns), step.score)
            del self._unclosed[event_id]
            cm = self.cameras.get(cam)
            if cm is None or not cm.tracker.active:
                events.publish_state(self.settings, ctx.publish, cam, on=False)

    def _close_left_open(self, ctx: DutyContext, started_before_ms: int | None) -> None:
        """End open events this runner does not track, at their last hot sample if the
        progress their detector left says so, else at their start; publish ``OFF``."""
        ours = {cm.event_id for cm in self.cameras.values() if cm.event_id is not None} | set(self._unclosed)
        before = None if started_before_ms is None else ns_to_datetime(started_before_ms * 1_000_000)
        for event_id, cam, start in events.find_open_events(ctx.sessions, started_before=before):
            if event_id in ours:
                continue
            end = start
            progress = read_progress(ctx.redis, cam)
            if progress is not None and progress.event_id == event_id and progress.last_hot_ms is not None:
                end = max(start, ns_to_datetime(progress.last_hot_ms * 1_000_000))
            if not events.end_open_event(ctx.sessions, event_id, end):
                continue
            log.info("closed motion event %d of camera %s left open by an earlier recorder", event_id, cam)
            cm = self.cameras.get(cam)
            if cm is None or not cm.tracker.active:
                events.publish_state(self.settings, ctx.publish, cam, on=False)

    # --- progress, logs ------------------------------------------------------------------
    def _write_progress(self, ctx: DutyContext) -> None:
        pipe = ctx.redis.pipeline(transaction=False)
        for cam, cm in self.cameras.items():
            settled, sampled = cm.tracker.settled_ns(), cm.sampled
            if settled is None or sampled is None:
                continue
            last_hot = cm.tracker.last_hot
            progress = Progress(
                arrival_ms=sampled[0],
                capture_ms=sampled[1] // 1_000_000,
                settled_ms=settled // 1_000_000,
                event_id=cm.event_id,
                last_hot_ms=None if last_hot is None else last_hot.capture_ns // 1_000_000,
            )
            pipe.set(progress_key(cam), progress.dumps(), ex=PROGRESS_TTL_S)
        pipe.execute()

    def _log_error(self, cm: CameraMotion, now_ms: int, msg: str, exc: Exception) -> None:
        if now_ms - cm.last_error_ms >= ERROR_LOG_EVERY_MS:
            cm.last_error_ms = now_ms
            log.warning("camera %s: " + msg, cm.config.camera_id, exc)

    def _log_cpu(self) -> None:
        if self.cpu.samples:
            decode_ms, detect_ms = self.cpu.per_sample_ms()
            log.info(
                "motion: %d cameras, %d samples, CPU per camera-sample %.2f ms (decode %.2f, detect %.2f)",
                len(self.cameras), self.cpu.samples, decode_ms + detect_ms, decode_ms, detect_ms,
            )
            self.cpu = CpuStats()


def run_motion(ctx: DutyContext) -> None:
    """The duty: one :class:`MotionRunner` per leadership term (``ctx.state`` is cleared when
    this recorder becomes leader)."""
    runner = ctx.state.get(STATE_KEY)
    if not isinstance(runner, MotionRunner):
        runner = MotionRunner(ctx.settings)
        ctx.state[STATE_KEY] = runner
    runner.run(ctx)


def duties(settings: Settings) -> list[Duty]:
    if not settings.motion_enabled:
        return []
    return [Duty("motion", 1.0 / settings.motion_sample_fps, run_motion)]
