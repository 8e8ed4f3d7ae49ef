"""``picamera2.encoders`` stand-in: :class:`H264Encoder` with picamera2's constructor, encoding
REAL H.264 (PyAV's libx264) from a synthetic moving pattern, paced at the camera's frame rate,
and handing each access unit to its outputs as picamera2's V4L2 encoder does:
``outputframe(frame, keyframe, timestamp)`` from the encoder's own thread, ``timestamp`` in µs
since the first frame (sensor time), ``keyframe`` from the encoder's flag.

``repeat=True`` (picamera2's default) puts SPS and PPS before every IDR; ``repeat=False`` only
before the first, like the hardware encoder without ``V4L2_CID_MPEG_VIDEO_REPEAT_SEQ_HEADER``.
``iperiod`` is the keyframe interval in frames (hardware default here: 60).

Test hooks (class attributes): ``H264Encoder.instances`` (every encoder made),
``H264Encoder.stall_s`` (a pause before each output, to make the consumer fall behind).
"""

from __future__ import annotations

import threading
import time
from enum import Enum
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from picamera2.outputs import Output


class Quality(Enum):
    VERY_LOW = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    VERY_HIGH = 4


def pattern(index: int, width: int, height: int) -> np.ndarray:
    """A moving gradient with a bar, as yuv420p-able BGR: every frame differs."""
    x = np.arange(width, dtype=np.uint16)[None, :]
    y = np.arange(height, dtype=np.uint16)[:, None]
    img = np.zeros((height, width, 3), np.uint8)
    img[..., 0] = ((x + index * 4) % 256).astype(np.uint8)
    img[..., 1] = ((y * 2 + index * 3) % 256).astype(np.uint8)
    img[..., 2] = 128
    bar = (index * 5) % max(1, width - 8)
    img[:, bar : bar + 8] = 255
    return img


class Encoder:
    def __init__(self) -> None:
        self._width = 0
        self._height = 0
        self._output: list[Output] = []
        self._running = False
        self.framerate: float | None = None

    @property
    def running(self) -> bool:
        return self._running

    @property
    def size(self) -> tuple[int, int]:
        return self._width, self._height

    @size.setter
    def size(self, value: tuple[int, int]) -> None:
        self._width, self._height = value

    @property
    def output(self) -> Any:
        return self._output[0] if len(self._output) == 1 else self._output

    @output.setter
    def output(self, value: Any) -> None:
        outputs = value if isinstance(value, list) else [value]
        if not all(isinstance(o, Output) for o in outputs):
            raise RuntimeError("Must pass Output")
        self._output = outputs

    def outputframe(
        self, frame: bytes, keyframe: bool = True, timestamp: int | None = None, packet: Any = None, audio: bool = False
    ) -> None:
        for out in self._output:
            out.outputframe(frame, keyframe, timestamp, packet, audio)


class H264Encoder(Encoder):
    instances: ClassVar[list[H264Encoder]] = []
    stall_s: ClassVar[float] = 0.0

    def __init__(
        self,
        bitrate: int | None = None,
        repeat: bool = True,
        iperiod: int | None = None,
        framerate: float | None = None,
        enable_sps_framerate: bool = False,
        qp: int | None = None,
        profile: str | None = None,
    ) -> None:
        super().__init__()
        self.bitrate = bitrate
        self.repeat = repeat
        self.iperiod = iperiod
        self.framerate = framerate
        self.qp = qp
        self.profile = profile
        self.frames_out = 0
        self._thread: threading.Thread | None = None
        H264Encoder.instances.append(self)

    def start(self, quality: Quality | None = None) -> None:
        if self._running:
            raise RuntimeError("Encoder already running")
        if not self._width or not self._height:
            raise RuntimeError("encoder size not set")
        self._running = True
        for out in self._output:
            out.start()
        self._thread = threading.Thread(target=self._run, name="fake-h264-encoder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if not self._running:
            raise RuntimeError("Encoder already stopped")
        self._running = False
        if self._thread is not None:
            self._thread.join(5)
        for out in self._output:
            out.stop()

    def _run(self) -> None:
        import av

        fps = self.framerate or 30.0
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = self._width, self._height, "yuv420p"
        ctx.time_base = Fraction(1, 1_000_000)
        ctx.framerate = Fraction(fps).limit_denominator(1001)
        ctx.gop_size = self.iperiod or 60
        ctx.max_b_frames = 0
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "keyint_min": str(ctx.gop_size),
                       "sc_threshold": "0"}
        if self.bitrate:
            ctx.bit_rate = self.bitrate
        from av.video.frame import VideoFrame

        start = time.monotonic()
        index = 0
        while self._running:
            due = start + index / fps
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            frame = VideoFrame.from_ndarray(pattern(index, self._width, self._height), format="bgr24")
            frame = frame.reformat(format="yuv420p")
            frame.pts = round(index * 1_000_000 / fps)
            frame.time_base = ctx.time_base
            for packet in ctx.encode(frame):
                self._emit(packet)
            index += 1
        for packet in ctx.encode(None):
            self._emit(packet)

    def _emit(self, packet: Any) -> None:
        data = bytes(packet)
        if not self.repeat and self.frames_out > 0 and packet.is_keyframe:
            data = _strip_parameter_sets(data)
        if self.stall_s:
            time.sleep(self.stall_s)
        self.frames_out += 1
        self.outputframe(data, bool(packet.is_keyframe), int(packet.pts))


def _strip_parameter_sets(data: bytes) -> bytes:
    """Drop the SPS (7) and PPS (8) NAL units from an Annex B access unit."""
    out = bytearray()
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i)
        i = data.find(b"\x00\x00\x01", i + 3)
    for n, begin in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(data)
        unit = data[begin + 3 : end]
        if n + 1 < len(starts) and unit.endswith(b"\x00"):
            unit = unit[:-1]
        if unit and unit[0] & 0x1F not in (7, 8):
            out += b"\x00\x00\x00\x01" + unit
    return bytes(out)
