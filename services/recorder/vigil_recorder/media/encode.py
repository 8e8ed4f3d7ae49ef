"""Writing one MP4 with PyAV: JPEG frames re-encoded with libx264, or H.264 access units
remuxed without decoding.

Output is browser-playable: H.264 (High profile from x264's presets), 8-bit ``yuv420p``,
limited range, tagged BT.601 matrix, even dimensions, ``moov`` in front (``+faststart``),
variable frame rate with presentation times taken from the capture times.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from av.container import OutputContainer
from av.packet import Packet
from av.video.frame import PictureType, VideoFrame
from av.video.reformatter import ColorRange, VideoReformatter
from av.video.stream import VideoStream

from vigil_common.contract import h264
from vigil_common.contract.envelope import Frame
from vigil_recorder.media import frames as fr

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, fr.TIME_BASE_HZ)
MP4_OPTIONS = {"movflags": "+faststart"}
PIX_FMT = "yuv420p"
# AVColorSpace / AVColorRange values for the encoder's VUI: JPEG's YCbCr is BT.601.
AVCOL_SPC_SMPTE170M = 6
AVCOL_RANGE_MPEG = int(ColorRange.MPEG)


@dataclass(frozen=True, slots=True)
class EncoderOptions:
    """libx264 settings; the benchmark's bare baseline uses the same ones."""

    preset: str = "veryfast"
    crf: int = 23
    keyint_s: float = 2.0
    # One encoder thread per job: throughput scales by running more workers (one per core)
    # instead of threads inside a job competing with the other workers. 0 = x264's auto.
    threads: int = 1

    def codec_options(self) -> dict[str, str]:
        return {"preset": self.preset, "crf": str(self.crf), "threads": str(self.threads)}


@dataclass(slots=True)
class Written:
    """What went into a file: capture times of the frames written, in order, and counts of
    what was left out."""

    source_codec: str
    capture_ns: list[int] = field(default_factory=list)
    width: int = 0
    height: int = 0
    decode_errors: int = 0
    skipped: int = 0

    @property
    def frames(self) -> int:
        return len(self.capture_ns)


def open_mp4(path: Path) -> OutputContainer:
    """An MP4 output (format given explicitly: the temporary name has no .mp4 suffix)."""
    return av.open(str(path), "w", format="mp4", container_options=MP4_OPTIONS)


def add_x264_stream(
    container: OutputContainer, width: int, height: int, fps: float, options: EncoderOptions
) -> VideoStream:
    """A libx264 stream on a 90 kHz clock; ``fps`` (the segment's median rate) only guides
    x264's rate control and the keyframe interval, timestamps stay per frame."""
    rate = Fraction(fps).limit_denominator(1001)
    stream = container.add_stream("libx264", rate=rate)
    cc = stream.codec_context
    cc.width = width
    cc.height = height
    cc.pix_fmt = PIX_FMT
    cc.time_base = TIME_BASE
    cc.framerate = rate
    cc.gop_size = fr.keyframe_interval(fps, options.keyint_s)
    cc.color_range = AVCOL_RANGE_MPEG
    cc.colorspace = AVCOL_SPC_SMPTE170M
    cc.options = options.codec_options()
    return stream


class JpegDecoder:
    """Decodes JPEG payloads and converts them to the encoder's input: ``yuv420p``, limited
    range, one fixed size.

    PyAV's JPEG decoder yields full-range ``yuvj420p`` (or ``yuvj422p``/``gray``); a plain
    ``reformat(format="yuv420p")`` keeps the full range (white stays 255), so the range
    conversion is requested explicitly. One reformatter is reused so swscale's context is
    not rebuilt per frame.
    """

    def __init__(self) -> None:
        self._decoder = av.CodecContext.create("mjpeg", "r")
        self._scaler = VideoReformatter()

    def decode(self, payload: bytes) -> VideoFrame | None:
        """The decoded picture, or None if the payload is not a decodable JPEG."""
        try:
            decoded = self._decoder.decode(av.Packet(payload))
        except (av.FFmpegError, ValueError):
            return None
        if not decoded:
            return None
        picture = decoded[-1]
        if not isinstance(picture, VideoFrame) or picture.width < 2 or picture.height < 2:
            return None
        return picture

    def convert(self, picture: VideoFrame, width: int, height: int) -> VideoFrame:
        src_range = picture.color_range or int(ColorRange.JPEG)
        return self._scaler.reformat(
            picture,
            width=width,
            height=height,
            format=PIX_FMT,
            src_color_range=src_range,
            dst_color_range=ColorRange.MPEG,
        )


class _Muxer:
    """Muxes encoder output in order, each packet once its duration is known.

    A frame's duration is the gap to the next frame's pts, known only when the next frame
    has been timestamped; x264 emits packets in decode order with some delay, so packets
    wait in a FIFO (muxing must stay in dts order) until the head's duration is known.
    """

    def __init__(self, container: OutputContainer) -> None:
        self.container = container
        self.durations: dict[int, int] = {}
        self.waiting: deque[Packet] = deque()

    def push(self, packets: Sequence[Packet]) -> None:
        self.waiting.extend(packets)
        while self.waiting and self.waiting[0].pts in self.durations:
            packet = self.waiting.popleft()
            assert packet.pts is not None
            packet.duration = self.durations.pop(packet.pts)
            self.container.mux(packet)

    def finish(self) -> None:
        for packet in self.waiting:
            if packet.pts is not None and packet.pts in self.durations:
                packet.duration = self.durations.pop(packet.pts)
            self.container.mux(packet)
        self.waiting.clear()


def encode_jpegs(
    frames: Sequence[Frame], path: Path, options: EncoderOptions, max_frame_ns: int | None = None
) -> Written:
    """Decode each JPEG, convert and encode it into an MP4 at ``path``.

    ``frames`` must be in presentation order (see :func:`frames.order_frames`). Frames that
    fail to decode are skipped and counted. The output size is the first decodable frame's
    (rounded down to even); other sizes are scaled to it. If nothing decodes no file is
    created.
    """
    result = Written(source_codec="jpeg")
    decoder = JpegDecoder()
    fps = fr.fps_estimate([f.capture_ns for f in frames])
    clock = fr.PtsClock()
    container: OutputContainer | None = None
    stream: VideoStream | None = None
    muxer: _Muxer | None = None
    last_pts: int | None = None
    try:
        for frame in frames:
            picture = decoder.decode(frame.payload)
            if picture is None:
                result.decode_errors += 1
                continue
            if container is None:
                result.width, result.height = fr.even_size(picture.width, picture.height)
                container = open_mp4(path)
                stream = add_x264_stream(container, result.width, result.height, fps, options)
                muxer = _Muxer(container)
            assert stream is not None and muxer is not None
            image = decoder.convert(picture, result.width, result.height)
            pts = clock.next(frame.capture_ns)
            if last_pts is not None:
                muxer.durations[last_pts] = pts - last_pts
            image.pts = pts
            image.time_base = TIME_BASE
            # A decoded JPEG is flagged as an I picture, which libx264 obeys: every frame would
            # be a keyframe (about 1.9x the bytes). Let the encoder choose its GOP.
            image.pict_type = PictureType.NONE
            muxer.push(stream.encode(image))
            result.capture_ns.append(frame.capture_ns)
            last_pts = pts
        if container is not None:
            assert stream is not None and muxer is not None and last_pts is not None
            frame_ns = fr.frame_duration_ns(result.capture_ns, max_frame_ns)
            muxer.durations[last_pts] = max(1, fr.ns_to_ticks(frame_ns))
            muxer.push(stream.encode(None))
            muxer.finish()
            container.close()
            container = None
    finally:
        if container is not None:  # an exception escaped: release the file, caller discards it
            _close_quietly(container)
    return result


def remux_h264(frames: Sequence[Frame], path: Path, max_frame_ns: int | None = None, *,
               end_ns: int | None = None) -> Written:
    """Mux H.264 Annex B access units into an MP4 at ``path`` without decoding them.

    The segment starts at the first IDR access unit that carries SPS and PPS in band (the
    muxer builds ``avcC`` from that first packet and converts Annex B to length-prefixed
    NAL units); earlier frames cannot be decoded and are skipped and counted, as are access
    units with no coded slice.

    The last frame lasts up to ``end_ns`` (the next segment's first frame) when that follows
    on. Limits: decode order must equal capture order (no B-frames, as hardware encoders such
    as the Pi's produce), so ``dts = pts``; one size per file (the writer splits a window at a
    resolution change, :mod:`vigil_recorder.segment.runs`); the width and height reported are
    the envelope's. If no frame can start a segment no file is created.
    """
    result = Written(source_codec="h264")
    start = h264.first_start(frames)
    if start is None:
        result.skipped = len(frames)
        return result
    usable = [f for f in frames[start:] if h264.has_slice(f.payload)]
    result.skipped = len(frames) - len(usable)
    capture = [f.capture_ns for f in usable]
    pts = fr.presentation_ts(capture)
    frame_ns = fr.last_frame_ns(capture, fr.frame_duration_ns(capture, max_frame_ns), end_ns)
    durs = fr.durations(pts, fr.ns_to_ticks(frame_ns))
    first = usable[0]
    result.width, result.height = first.width, first.height
    container = open_mp4(path)
    try:
        rate = Fraction(fr.fps_estimate(capture)).limit_denominator(1001)
        stream = container.add_mux_stream("h264", rate=rate, width=first.width, height=first.height)
        stream.time_base = TIME_BASE
        for frame, p, d in zip(usable, pts, durs, strict=True):
            packet = Packet(frame.payload)
            packet.stream = stream
            packet.time_base = TIME_BASE
            packet.pts = p
            packet.dts = p
            packet.duration = d
            packet.is_keyframe = h264.is_idr(frame.payload)
            container.mux(packet)
        container.close()
    except BaseException:
        _close_quietly(container)
        raise
    result.capture_ns = capture
    return result


def _close_quietly(container: OutputContainer) -> None:
    try:
        container.close()
    except Exception as exc:  # noqa: BLE001 - already failing; the file is discarded
        log.debug("closing a failed MP4 output: %s", exc)
