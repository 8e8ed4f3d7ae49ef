"""The pipeline for cameras that encode themselves (RTSP H.264, the Pi's hardware encoder): their
access units are forwarded untouched, with the same two threads and the same public surface
as :class:`~vigil_capture.pipeline.CapturePipeline`.

- **read thread**: takes access units from the :class:`EncodedSource` as fast as it gives them
  (the camera sets the pace) and queues them. The queue is bounded; when it is full, or while
  streaming is stopped, a unit is dropped, and after any drop every unit up to the next keyframe
  is dropped too (:class:`KeyframeGate`): nothing downstream ever gets a frame whose reference
  it did not get.
- **publish thread**: sends the queued units as VGF1 codec-2 frames through the same gate.

A camera's own encoder cannot be told to make an IDR now, so a drop costs up to one GOP; a
snapshot request while stopped sends the next keyframe. Motion is measured on the keyframes
only, on a thread of their own. ``configure`` changes only the name,
location and streaming; fps, size and quality belong to the camera, and the size reported is
the stream's own.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import deque
from collections.abc import Callable

from vigil_capture.access_units import AccessUnit, EncodedSource, KeyframeGate
from vigil_capture.config import CaptureConfig
from vigil_capture.edge_motion import EdgeMotion, KeyframeSampler
from vigil_capture.processing import h264_envelope
from vigil_capture.sinks import FrameSink
from vigil_capture.stats import CaptureStats
from vigil_common.runtime.logsetup import RateLimitedLog

log = logging.getLogger(__name__)

POLL_S = 0.1
SOURCE_RETRY_S = 0.05


class PassthroughPipeline:
    def __init__(
        self,
        source: EncodedSource,
        sink: FrameSink,
        config: CaptureConfig,
        *,
        streaming: bool = True,
        buffer_size: int = 30,
        stats: CaptureStats | None = None,
        motion: EdgeMotion | None = None,
    ) -> None:
        self.source = source
        # Motion from the keyframes only, decoded on their own thread (vigil_capture.edge_motion).
        self.motion = motion
        self._sampler = KeyframeSampler(motion) if motion is not None else None
        self.sink = sink
        self.stats = stats or CaptureStats()
        self.encoder = None  # nothing is encoded here
        self._config = config
        self._streaming = streaming
        self._capacity = max(2, buffer_size)
        self._queue: deque[tuple[int, AccessUnit]] = deque()
        self._cond = threading.Condition()
        self._in_gate = KeyframeGate()  # read side: queue full or stopped
        self._out_gate = KeyframeGate()  # publish side: refused sends, lost connection
        self._snapshots = 0
        self._size: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._seq = 0
        self._was_connected = True
        self._log = RateLimitedLog(log)
        self.failure: str | None = None

    # --- control (any thread) -------------------------------------------------------------
    @property
    def codec(self) -> str:
        return self.source.codec

    @property
    def config(self) -> CaptureConfig:
        """The settings, with the size the camera actually sends once it is known."""
        if self._size is None:
            return self._config
        return dataclasses.replace(self._config, width=self._size[0], height=self._size[1])

    @config.setter
    def config(self, config: CaptureConfig) -> None:
        self._config = config

    @property
    def streaming(self) -> bool:
        return self._streaming

    @streaming.setter
    def streaming(self, on: bool) -> None:
        self._streaming = on

    def request_snapshot(self) -> None:
        """Send the next keyframe even if streaming is stopped."""
        with self._cond:
            self._snapshots += 1

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> None:
        if self._sampler is not None:
            self._sampler.start()
        for name, body in (("read", self._read_loop), ("publish", self._publish_loop)):
            thread = threading.Thread(target=self._guarded, args=(body,), name=f"capture-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        if self._sampler is not None:
            self._sampler.stop()
        with self._cond:
            self._queue.clear()
        if self.running:
            log.warning("a capture thread did not stop within %.0fs (blocked in the source?)", timeout)

    def _guarded(self, body: Callable[[], None]) -> None:
        try:
            body()
        except Exception as exc:
            log.exception("capture thread %s died", threading.current_thread().name)
            self.failure = f"{threading.current_thread().name}: {exc!r}"
            self._stop.set()
            with self._cond:
                self._cond.notify_all()

    # --- read thread ----------------------------------------------------------------------
    def _read_loop(self) -> None:
        while not self._stop.is_set():
            unit = self.source.read()
            if unit is None:
                self.stats.source_miss()
                self._stop.wait(SOURCE_RETRY_S)
                continue
            self.stats.grabbed()
            self._size = (unit.width, unit.height)
            if self._sampler is not None and self._streaming:
                self._sampler.offer(unit, self._seq)
            self._offer(unit)

    def _offer(self, unit: AccessUnit) -> None:
        seq = self._seq
        self._seq += 1
        with self._cond:
            wanted = self._streaming or (self._snapshots > 0 and unit.keyframe)
            if not wanted:
                self._in_gate.dropped()  # the stream resumes at a keyframe
                return
            if unit.damaged:  # packets lost on the way: this unit and its dependants cannot decode
                self._in_gate.dropped()
                self.stats.dropped()
                return
            if len(self._queue) >= self._capacity:
                self._in_gate.dropped()
                self.stats.dropped()
                return
            if not self._in_gate.admit(unit.keyframe):
                self.stats.dropped()
                return
            if not self._streaming:
                self._snapshots -= 1
                self._in_gate.dropped()  # one frame only: the next one sent starts again at a keyframe
            self._queue.append((seq, unit))
            self._cond.notify_all()

    # --- publish thread -------------------------------------------------------------------
    def _publish_loop(self) -> None:
        while not self._stop.is_set():
            connected = self.sink.is_connected()
            if not connected:
                self._was_connected = False
            if connected and not self.sink.wait_for_room(POLL_S):
                continue
            with self._cond:
                if not self._queue:
                    self._cond.wait(POLL_S)
                if not self._queue:
                    continue
                seq, unit = self._queue.popleft()
            self._send(seq, unit)

    def _send(self, seq: int, unit: AccessUnit) -> None:
        connected = self.sink.is_connected()
        if connected and not self._was_connected:
            # Frames queued in the MQTT client when the connection dropped were lost.
            self._out_gate.dropped()
            self._was_connected = True
        if not connected:
            self._was_connected = False
            self._out_gate.dropped()
            self.stats.dropped()
            return
        if not self._out_gate.admit(unit.keyframe):
            self.stats.dropped()
            return
        payload = h264_envelope(unit, seq=seq)
        if self.sink.send(payload):
            self.stats.sent(len(payload), unit.capture_ns)
        else:
            self.stats.dropped()
            self._out_gate.dropped()
            self._log.warning("send", "MQTT client refused a frame; dropped up to the next keyframe")
