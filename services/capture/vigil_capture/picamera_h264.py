"""The Raspberry Pi camera through its hardware H.264 encoder: :class:`PicameraH264Source`.

picamera2 runs the camera and the V4L2 encoder (``H264Encoder``) in its own threads and hands
every encoded frame to an ``Output`` (``outputframe(frame, keyframe, timestamp)``, timestamp in
µs of sensor time since the first frame). Ours stamps the frame's capture time there, at once,
and puts it in a bounded queue that :meth:`PicameraH264Source.read` takes from; nothing is
decoded or re-encoded, so the Pi's CPU is not spent on video.

- **Keyframes**: one every ``round(fps * gop_s)`` frames (``iperiod``), with SPS and PPS
  repeated before each (``repeat=True``); should an IDR still come without them, the last ones
  seen are inserted (:class:`~vigil_capture.rtsp_passthrough.AnnexBForwarder`), and the NAL types,
  not the encoder's flag alone, decide what is a keyframe. No B-frames (the Pi's encoder has none).
- **Capture time**: the encoder timestamp anchored to the wall clock at the first frame, kept
  monotonic and slewed back when it drifts more than a second from the wall clock
  (:class:`~vigil_capture.rtsp_passthrough.CaptureClock`); ``time.time_ns()`` for a frame that
  comes without a timestamp.
- **Falling behind**: when the queue is full, the frame is dropped, and so is every frame up to
  the next keyframe (:class:`~vigil_capture.access_units.KeyframeGate`), counted in
  :attr:`PicameraH264Source.dropped`; the camera is never blocked.

picamera2 is imported when the source opens (it exists only on Raspberry Pi OS).
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from vigil_capture.access_units import AccessUnit, KeyframeGate
from vigil_capture.edge_encoder import gop_frames
from vigil_capture.rtsp_passthrough import AnnexBForwarder, CaptureClock
from vigil_capture.sources import SourceError, SourceKind

log = logging.getLogger(__name__)

READ_WAIT_S = 0.1  # how long read() waits for a frame before answering None


class PicameraH264Source:
    """The Pi camera's hardware H.264 as an :class:`~vigil_capture.access_units.EncodedSource`
    (kind ``picamera``). ``read()`` is used from one thread; the encoder's callback from
    picamera2's."""

    codec = "h264"

    def __init__(
        self,
        width: int,
        height: int,
        fps: float = 15.0,
        *,
        gop_s: float = 2.0,
        bitrate: int | None = None,
        queue_size: int = 60,
        wall: Callable[[], int] = time.time_ns,
    ) -> None:
        if width < 16 or height < 16:
            raise ValueError("the Pi camera's size must be at least 16x16")
        self.width = width
        self.height = height
        self.fps = fps
        self.gop_s = gop_s
        self.iperiod = gop_frames(fps, gop_s)
        self.bitrate = bitrate
        self._queue: queue.Queue[AccessUnit] = queue.Queue(max(2, queue_size))
        self._clock = CaptureClock(wall, frame_ns=int(1e9 / fps) if fps > 0 else 33_333_333)
        self._forwarder = AnnexBForwarder(None, width, height)
        self._gate = KeyframeGate()
        self._started = False  # a keyframe has been queued
        self._lock = threading.Lock()  # the callback's state (one picamera2 thread, but be safe)
        self._camera: Any = None
        self._encoder: Any = None
        self.dropped = 0  # frames dropped because read() fell behind (and up to the next keyframe)
        self.skipped = 0  # frames before the first keyframe

    @property
    def kind(self) -> str:
        return SourceKind.PICAMERA.value

    def open(self) -> None:
        try:
            module = importlib.import_module("picamera2")
            encoders = importlib.import_module("picamera2.encoders")
            outputs = importlib.import_module("picamera2.outputs")
        except ImportError as exc:
            raise SourceError("picamera2 is not installed (Raspberry Pi OS: apt install python3-picamera2)") from exc
        output = _make_output(outputs.Output, self._on_frame)
        camera = None
        try:
            camera = module.Picamera2()
            config = camera.create_video_configuration(
                main={"size": (self.width, self.height), "format": "YUV420"}, controls={"FrameRate": float(self.fps)}
            )
            camera.configure(config)
            encoder = encoders.H264Encoder(bitrate=self.bitrate, repeat=True, iperiod=self.iperiod)
            self._clock.new_connection()
            camera.start_recording(encoder, output)
        except Exception as exc:  # libcamera and V4L2 raise many kinds: all mean "no encoder"
            if camera is not None:
                _quietly(camera, "close")
            raise SourceError(f"cannot start the Pi camera's H.264 encoder: {exc}") from exc
        self._camera, self._encoder = camera, encoder
        log.info("Pi camera H.264 %dx%d at %.0f fps, a keyframe every %d frames", self.width, self.height,
                 self.fps, self.iperiod)

    def read(self) -> AccessUnit | None:
        if self._camera is None and self._queue.empty():
            return None
        try:
            return self._queue.get(timeout=READ_WAIT_S)
        except queue.Empty:
            return None

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is None:
            return
        for step in ("stop_recording", "close"):
            _quietly(camera, step)
        while not self._queue.empty():
            self._queue.get_nowait()

    # --- picamera2's encoder thread ---------------------------------------------------------
    def _on_frame(self, frame: Any, keyframe: bool, timestamp: int | None) -> None:
        try:
            self._take(frame, keyframe, timestamp)
        except Exception:  # an exception here would kill picamera2's encoder thread
            log.exception("dropped a Pi camera frame")
            with self._lock:
                self._gate.dropped()
                self.dropped += 1

    def _take(self, frame: Any, keyframe: bool, timestamp: int | None) -> None:
        with self._lock:
            capture_ns = self._clock.stamp(timestamp * 1000) if timestamp is not None else self._clock.stamp_now()
            forwarded = self._forwarder.forward(bytes(frame))
            if forwarded is None:  # parameter sets alone: remembered for the next IDR
                return
            data, is_key = forwarded
            if keyframe and not is_key:
                log.debug("the encoder flagged a frame without an IDR slice as keyframe")
            if not self._started:
                if not is_key:
                    self.skipped += 1
                    return
                self._started = True
            if not self._gate.admit(is_key):
                self.dropped += 1
                return
            unit = AccessUnit(data, is_key, capture_ns, self._forwarder.width, self._forwarder.height)
            try:
                self._queue.put_nowait(unit)
            except queue.Full:
                self._gate.dropped()
                self.dropped += 1


def _make_output(base: type, deliver: Callable[[Any, bool, int | None], None]) -> Any:
    """An instance of a ``picamera2.outputs.Output`` subclass that hands frames to ``deliver``."""

    class _QueueOutput(base):
        def outputframe(
            self, frame: Any, keyframe: bool = True, timestamp: int | None = None, packet: Any = None,
            audio: bool = False,
        ) -> None:
            if audio or frame is None:
                return
            deliver(frame, keyframe, timestamp)

    return _QueueOutput()


def _quietly(camera: Any, step: str) -> None:
    try:
        getattr(camera, step)()
    except Exception as exc:  # noqa: BLE001 - closing must not raise during shutdown
        log.warning("Pi camera %s failed: %s", step, exc)
