"""The two capture threads and the bounded buffer between them.

- **grab thread**: paced by ``fps``; reads the source, stamps ``capture_ns``, resizes and draws
  the overlay, and puts the frame in a small drop-oldest buffer. It never touches the network.
- **publish thread**: waits for room in the sink's in-flight window, takes the oldest buffered
  frame, encodes it (JPEG, or H.264 with :class:`~vigil_capture.edge_encoder.EdgeEncoder`),
  wraps it in a VGF1 envelope and sends it.

Encoding in the publish thread means a frame dropped by the buffer is never encoded (so an
H.264 stream never loses a reference frame there), and the two threads overlap (OpenCV and
libx264 release the GIL), so the pipeline keeps up with a bare encoder. An H.264 frame lost on
the way out (the MQTT client refused it, or the connection dropped) breaks the chain: the
frames after it are dropped up to the next keyframe (:class:`~vigil_capture.access_units.KeyframeGate`)
and the encoder is told to make the very next frame an IDR.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import cv2

from vigil_capture.access_units import AccessUnit, KeyframeGate
from vigil_capture.buffer import DropOldestBuffer
from vigil_capture.config import CaptureConfig
from vigil_capture.edge_encoder import EdgeEncoder, EncoderError
from vigil_capture.edge_motion import EdgeMotion, MotionInputError
from vigil_capture.images import Image
from vigil_capture.pacing import Pacer
from vigil_capture.processing import EncodeError, encode_jpeg, envelope, h264_envelope, prepare_frame
from vigil_capture.sinks import FrameSink
from vigil_capture.sources import Source, SourceKind
from vigil_capture.stats import CaptureStats
from vigil_common.runtime.logsetup import RateLimitedLog

log = logging.getLogger(__name__)

# Live sources keep being read while streaming is stopped, so a snapshot or a restart gets a
# current frame and the device/stream does not back up. Files and the test pattern just pause.
LIVE_SOURCE_KINDS = frozenset({SourceKind.DEVICE.value, SourceKind.URL.value, SourceKind.PICAMERA.value})
IDLE_FPS = 10.0  # how often a live source is drained while stopped and unthrottled
SOURCE_RETRY_S = 0.05  # pause after the source had no frame
UNTHROTTLED_WAIT_S = 0.05  # longest an unthrottled grab waits for room in the buffer
POLL_S = 0.1  # how often the publish thread re-checks the stop flag and the connection
# A frame this long after the previous one encoded starts with an IDR (streaming resumed, or a
# snapshot while stopped), so the server can use it at once.
PAUSE_KEYFRAME_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class GrabbedFrame:
    """A prepared (resized, overlaid) frame waiting to be encoded and published."""

    seq: int
    capture_ns: int
    image: Image
    quality: int


class CapturePipeline:
    """Runs the grab and publish threads. ``config``, ``streaming`` and snapshot requests may
    be changed from any thread; the grab thread picks them up at its next step."""

    def __init__(
        self,
        source: Source,
        sink: FrameSink,
        config: CaptureConfig,
        *,
        streaming: bool = True,
        buffer_size: int = 3,
        stats: CaptureStats | None = None,
        clock: Callable[[], float] = time.monotonic,
        encoder: EdgeEncoder | None = None,
        motion: EdgeMotion | None = None,
    ) -> None:
        self.source = source
        self.encoder = encoder  # None: JPEG
        self.motion = motion  # measured here, on the raw picture (vigil_capture.edge_motion)
        self._gate = KeyframeGate()
        self._last_encoded_ns: int | None = None
        self.sink = sink
        self.stats = stats or CaptureStats()
        self._config = config
        self._streaming = streaming
        self._buffer: DropOldestBuffer[GrabbedFrame] = DropOldestBuffer(buffer_size)
        self._clock = clock
        self._live = source.kind in LIVE_SOURCE_KINDS
        self._snapshots = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._seq = 0
        self._log = RateLimitedLog(log)
        self.failure: str | None = None

    # --- control (any thread) -------------------------------------------------------------
    @property
    def codec(self) -> str:
        return "jpeg" if self.encoder is None else "h264"

    @property
    def config(self) -> CaptureConfig:
        return self._config

    @config.setter
    def config(self, config: CaptureConfig) -> None:
        self._config = config
        self._wake.set()

    @property
    def streaming(self) -> bool:
        return self._streaming

    @streaming.setter
    def streaming(self, on: bool) -> None:
        self._streaming = on
        self._wake.set()

    def request_snapshot(self) -> None:
        """Publish the next grabbed frame even if streaming is stopped (grabbed at once)."""
        with self._lock:
            self._snapshots += 1
        self._wake.set()

    @property
    def stopped(self) -> bool:
        """True once stopped, or after a thread died (``failure`` says why)."""
        return self._stop.is_set()

    def start(self) -> None:
        for name, body in (("grab", self._grab_loop), ("publish", self._publish_loop)):
            thread = threading.Thread(target=self._guarded, args=(body,), name=f"capture-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    @property
    def running(self) -> bool:
        """True while a capture thread is still alive (e.g. stuck in a slow ``source.read``)."""
        return any(thread.is_alive() for thread in self._threads)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both threads, waiting up to ``timeout`` s for each (they are daemon threads)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._buffer.clear()
        if self.running:
            log.warning("a capture thread did not stop within %.0fs (blocked in the source?)", timeout)

    def _guarded(self, body: Callable[[], None]) -> None:
        try:
            body()
        except Exception as exc:
            log.exception("capture thread %s died", threading.current_thread().name)
            self.failure = f"{threading.current_thread().name}: {exc!r}"
            self._stop.set()
            self._wake.set()

    # --- grab thread ----------------------------------------------------------------------
    def _take_snapshot(self) -> bool:
        with self._lock:
            if self._snapshots:
                self._snapshots -= 1
                return True
            return False

    def _snapshot_pending(self) -> bool:
        with self._lock:
            return self._snapshots > 0

    def _target_fps(self) -> float | None:
        """The grab rate now: the configured fps while streaming; None = wait for a wake-up."""
        if self._streaming:
            return self._config.fps
        if self._live:
            return self._config.fps or IDLE_FPS
        return None

    def _grab_loop(self) -> None:
        pacer = Pacer(self._config.fps, self._clock())
        while not self._stop.is_set():
            target = self._target_fps()
            snapshot_due = self._snapshot_pending()
            now = self._clock()
            if target is not None and target != pacer.fps:
                pacer.set_fps(target, now)
            delay = pacer.delay(now) if target is not None else POLL_S * 5
            if delay > 0 and not snapshot_due:
                self._wake.wait(delay)
                self._wake.clear()
                continue
            if target == 0 and self._streaming:
                # Unthrottled: grab on demand rather than render frames only to evict them, but
                # never wait long for the consumer (it may be stuck behind the network).
                self._buffer.wait_for_room(UNTHROTTLED_WAIT_S)
            image = self.source.read()
            capture_ns = time.time_ns()
            if delay == 0:
                pacer.grabbed(self._clock())
            if image is None:
                self.stats.source_miss()
                self._wake.wait(SOURCE_RETRY_S)
                continue
            self._handle_grabbed(image, capture_ns)

    def _handle_grabbed(self, image: Image, capture_ns: int) -> None:
        seq = self._seq
        self._seq += 1
        self.stats.grabbed()
        snapshot = self._take_snapshot()
        if not (self._streaming or snapshot):
            return
        if self._streaming and self.motion is not None and self.motion.due(capture_ns):
            self._measure_motion(self.motion, image, seq, capture_ns)
        config = self._config
        try:
            frame = prepare_frame(image, config, datetime.fromtimestamp(capture_ns / 1e9).astimezone())
        except cv2.error as exc:
            self.stats.dropped()
            self._log.warning("prepare", "cannot resize/overlay a %s frame: %s", image.shape, exc)
            return
        if self._buffer.put(GrabbedFrame(seq, capture_ns, frame, config.quality)) is not None:
            self.stats.dropped()

    def _measure_motion(self, motion: EdgeMotion, image: Image, seq: int, capture_ns: int) -> None:
        try:
            motion.observe_bgr(image, seq, capture_ns)
        except (MotionInputError, cv2.error, ValueError) as exc:
            motion.counters.failed += 1
            self._log.warning("motion", "motion sample skipped: %s", exc)

    # --- publish thread -------------------------------------------------------------------
    def _publish_loop(self) -> None:
        while not self._stop.is_set():
            if self.sink.is_connected() and not self.sink.wait_for_room(POLL_S):
                continue  # window full: the buffer keeps only the newest frames meanwhile
            item = self._buffer.get(timeout=POLL_S)
            if item is not None:
                self._publish(item)

    def _publish(self, item: GrabbedFrame) -> None:
        if self.encoder is not None:
            self._publish_h264(self.encoder, item)
            return
        if not self.sink.is_connected():
            self.stats.dropped()
            return
        try:
            jpeg = encode_jpeg(item.image, item.quality)
        except (EncodeError, cv2.error) as exc:
            self.stats.dropped()
            self._log.warning("encode", "cannot encode frame %d: %s", item.seq, exc)
            return
        height, width = item.image.shape[:2]
        payload = envelope(jpeg, seq=item.seq, capture_ns=item.capture_ns, width=width, height=height)
        if self.sink.send(payload):
            self.stats.sent(len(payload), item.capture_ns)
        else:
            self.stats.dropped()
            self._log.warning("send", "MQTT client refused a frame; dropped")

    def _publish_h264(self, encoder: EdgeEncoder, item: GrabbedFrame) -> None:
        if not self.sink.is_connected():
            # Not encoded, so no reference is missing; but frames queued in the MQTT client
            # when the connection dropped are lost: restart the stream at an IDR.
            self.stats.dropped()
            encoder.force_keyframe()
            return
        config = self._config
        encoder.fps = config.fps
        if self._last_encoded_ns is None or item.capture_ns - self._last_encoded_ns > PAUSE_KEYFRAME_NS:
            encoder.force_keyframe()  # streaming (re)started, or a snapshot while stopped
        self._last_encoded_ns = item.capture_ns
        try:
            units = encoder.encode(item.image, item.capture_ns)
        except EncoderError as exc:
            self.stats.dropped()
            encoder.force_keyframe()
            self._log.warning("encode", "cannot encode frame %d: %s", item.seq, exc)
            return
        for unit in units:
            self.send_unit(unit, item.seq, on_lost=encoder.force_keyframe)

    def send_unit(self, unit: AccessUnit, seq: int, on_lost: Callable[[], None] | None = None) -> bool:
        """Send one access unit unless its chain is broken; a refused send breaks it."""
        if not self._gate.admit(unit.keyframe):
            self.stats.dropped()
            return False
        payload = h264_envelope(unit, seq=seq)
        if self.sink.send(payload):
            self.stats.sent(len(payload), unit.capture_ns)
            return True
        self.stats.dropped()
        self._gate.dropped()
        if on_lost is not None:
            on_lost()
        self._log.warning("send", "MQTT client refused a frame; dropped up to the next keyframe")
        return False
