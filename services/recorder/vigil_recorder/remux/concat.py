"""Join segment MP4s into one MP4 on a wall-clock timeline, copying packets (no re-encode).

Used for day videos (:mod:`vigil_recorder.days.build`) and exports (:mod:`vigil_recorder.exports.build`).

- Every input file is an H.264 MP4 written by the recorder; its first presented frame is at
  the :class:`Piece`'s ``start_ns`` (the segment row's ``start``).
- Packets are copied in decode order onto one track on a 10 kHz clock, each placed at its
  wall-clock offset from the origin (see :class:`~vigil_recorder.remux.plan.Timeline`):
  gaps between segments stay gaps in time, during which a player holds the last picture.
- A :class:`Piece` may be cut (exports): it then starts at the last keyframe at or before the
  cut start, and stops after the last frame shown before the cut end (no re-encode, so the
  start is accurate to one GOP; see :func:`~vigil_recorder.remux.plan.cut_indices`).
- Files of another picture size (a camera reconfigured during the day) or codec are decoded
  and re-encoded with libx264 to the size most of the footage has; only those files cost CPU.
- Files whose H.264 parameter sets (``avcC``) differ from the others', and re-encoded files,
  make the output carry each file's SPS/PPS in band at every keyframe, which browsers'
  decoders (FFmpeg, Chrome, Firefox) follow; the ``avcC`` box is the main size's.
- The output is written with ``+faststart`` (``moov`` before ``mdat``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from av.codec.context import CodecContext
from av.container import OutputContainer
from av.packet import Packet
from av.video.codeccontext import VideoCodecContext
from av.video.frame import PictureType, VideoFrame
from av.video.stream import VideoStream

from vigil_recorder.media import frames as fr
from vigil_recorder.media.encode import AVCOL_RANGE_MPEG, AVCOL_SPC_SMPTE170M, PIX_FMT, EncoderOptions, open_mp4
from vigil_recorder.remux.avc import (
    OUT_LENGTH_SIZE,
    AvcConfig,
    AvcError,
    annexb_to_sample,
    parse_avcc,
    relength,
    with_parameter_sets,
)
from vigil_recorder.remux.plan import (
    OUT_TIME_BASE,
    StreamInfo,
    Timeline,
    copyable,
    cut_indices,
    needs_inband_parameter_sets,
    ns_to_out_ticks,
    reference_size,
    ticks_to_ns,
)

log = logging.getLogger(__name__)

Progress = Callable[[float], None]


class RemuxError(Exception):
    """An input cannot be used, or nothing could be written."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One input file, placed at ``start_ns`` (wall clock of its first frame), optionally cut
    to ``[cut_start_ns, cut_end_ns)``."""

    path: Path
    start_ns: int
    cut_start_ns: int | None = None
    cut_end_ns: int | None = None


@dataclass(slots=True)
class Result:
    """What went into the output."""

    frames: int = 0
    pieces: int = 0  # inputs that contributed at least one frame
    reencoded: int = 0
    skipped: list[str] = field(default_factory=list)  # unreadable inputs (missing, corrupt)
    first_ns: int | None = None  # wall clock of the first frame written
    last_ns: int | None = None  # wall clock of the last frame written
    origin_ns: int | None = None  # wall clock of output time 0
    inband: bool = False
    shifted_ns: int = 0
    collapsed_ns: int = 0


def throttled(write: Progress, every_s: float = 1.0, scale: float = 0.95) -> Progress:
    """A progress callback that passes ``fraction * scale`` to ``write`` at most every
    ``every_s`` seconds (the rest of the bar is faststart's rewrite and the commit)."""
    last = [float("-inf")]

    def report(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            write(round(min(1.0, max(0.0, fraction)) * scale, 3))

    return report


def probe(path: Path) -> StreamInfo:
    """Codec, size, ``avcC`` and frame count of a file's video stream (reads the header only)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise RemuxError(f"{path.name}: no video stream")
            stream = container.streams.video[0]
            cc = stream.codec_context
            return StreamInfo(cc.name, cc.width, cc.height, bytes(cc.extradata or b""), int(stream.frames or 0))
    except (av.FFmpegError, OSError) as exc:
        raise RemuxError(f"{path.name}: {exc}") from exc


def concat(
    pieces: Sequence[Piece],
    out: Path,
    options: EncoderOptions,
    *,
    origin_ns: int | None = None,
    hold_first: bool = False,
    progress: Progress | None = None,
) -> Result:
    """Write ``pieces`` (in time order) into one MP4 at ``out``; see the module docstring.

    Unreadable inputs are skipped and listed in the result. Raises :class:`RemuxError` if no
    input is usable; the caller removes ``out`` on any exception or when no frame was written.
    """
    result = Result()
    usable: list[tuple[Piece, StreamInfo]] = []
    for piece in pieces:
        try:
            usable.append((piece, probe(piece.path)))
        except RemuxError as exc:
            log.warning("skipping an unreadable segment: %s", exc)
            result.skipped.append(str(exc))
    size = reference_size([info for _, info in usable])
    if size is None:
        raise RemuxError("no usable H.264 segment")
    result.inband = needs_inband_parameter_sets([info for _, info in usable], size)
    template = next(piece.path for piece, info in usable if copyable(info, size))
    container = open_mp4(out)
    try:
        with av.open(str(template)) as source:
            stream = container.add_stream_from_template(source.streams.video[0])
        stream.time_base = OUT_TIME_BASE
        writer = _Writer(container, stream, Timeline(origin_ns, hold_first), result.inband, options, size)
        for done, (piece, info) in enumerate(usable, start=1):
            if copyable(info, size):
                written = writer.copy(piece, info)
            else:
                written = writer.reencode(piece, info)
                result.reencoded += 1
            if written:
                result.pieces += 1
                result.frames += written
            if progress is not None:
                progress(done / len(usable))
        container.close()
    except BaseException:
        _close_quietly(container)
        raise
    timeline = writer.timeline
    result.first_ns, result.last_ns = writer.first_ns, writer.last_ns
    result.origin_ns = timeline.origin_ns
    result.shifted_ns, result.collapsed_ns = timeline.shifted_ns, timeline.collapsed_ns
    if result.shifted_ns or result.collapsed_ns:
        log.info("remux %s: shifted %.3fs (overlapping segments), shortened gaps by %.0fs",
                 out.name, result.shifted_ns / 1e9, result.collapsed_ns / 1e9)
    return result


class _Writer:
    """Muxes pieces one after another into ``stream``."""

    def __init__(
        self,
        container: OutputContainer,
        stream: VideoStream,
        timeline: Timeline,
        inband: bool,
        options: EncoderOptions,
        size: tuple[int, int],
    ) -> None:
        self.container = container
        self.stream = stream
        self.timeline = timeline
        self.inband = inband
        self.options = options
        self.size = size
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    def _mux(self, packet: Packet, pts: int, dts: int, duration: int, wall_ns: int) -> None:
        packet.stream = self.stream
        packet.time_base = OUT_TIME_BASE
        packet.pts = pts
        packet.dts = dts
        packet.duration = max(1, duration)
        self.container.mux(packet)
        if self.first_ns is None:
            self.first_ns = wall_ns
        self.last_ns = wall_ns if self.last_ns is None else max(self.last_ns, wall_ns)

    def copy(self, piece: Piece, info: StreamInfo) -> int:
        """Copy a piece's packets (cut as asked); returns how many were written."""
        try:
            avc = parse_avcc(info.extradata)
            with av.open(str(piece.path)) as source:
                src = source.streams.video[0]
                time_base = src.time_base or Fraction(1, fr.TIME_BASE_HZ)
                packets = [p for p in source.demux(src) if p.size and p.pts is not None and p.dts is not None]
        except (av.FFmpegError, OSError, AvcError) as exc:
            log.warning("skipping unreadable segment %s: %s", piece.path.name, exc)
            return 0
        if not packets:
            return 0
        base = min(int(p.pts) for p in packets if p.pts is not None)

        def wall(ticks: int) -> int:
            return piece.start_ns + ticks_to_ns(ticks - base, time_base)

        times = [wall(int(p.pts or 0)) for p in packets]
        cut = cut_indices(times, [p.is_keyframe for p in packets], piece.cut_start_ns, piece.cut_end_ns)
        if cut.empty:
            return 0
        shift = self.timeline.file_shift(min(times[cut.first : cut.stop]))
        for packet in packets[cut.first : cut.stop]:
            pts_ns = wall(int(packet.pts or 0)) + shift
            pts, dts = self.timeline.place(pts_ns, wall(int(packet.dts or 0)) + shift)
            duration = ns_to_out_ticks(ticks_to_ns(int(packet.duration or 0), time_base))
            self._mux(self._sample(packet, avc), pts, dts, duration, pts_ns)
        return cut.stop - cut.first

    def _sample(self, packet: Packet, avc: AvcConfig) -> Packet:
        """The packet as it goes into the output: unchanged, or rebuilt with in-band parameter
        sets on keyframes / 4-byte NAL lengths."""
        if not (self.inband and packet.is_keyframe) and avc.length_size == OUT_LENGTH_SIZE:
            return packet
        data = bytes(packet)
        if self.inband and packet.is_keyframe:
            data = with_parameter_sets(data, avc)
        else:
            data = relength(data, avc.length_size)
        out = Packet(data)
        out.is_keyframe = packet.is_keyframe
        return out

    def reencode(self, piece: Piece, info: StreamInfo) -> int:
        """Decode a piece, scale it to the output size and encode it with libx264 (no
        B-frames, parameter sets in band); frame-accurate cut. Returns frames written."""
        encoder: VideoCodecContext | None = None
        written = 0
        held: tuple[VideoFrame, int] | None = None  # the last frame at or before the cut start
        shift: int | None = None
        try:
            with av.open(str(piece.path)) as source:
                src = source.streams.video[0]
                time_base = src.time_base or Fraction(1, fr.TIME_BASE_HZ)
                base: int | None = None
                for frame in source.decode(src):
                    if not isinstance(frame, VideoFrame) or frame.pts is None:
                        continue
                    base = int(frame.pts) if base is None else base
                    t = piece.start_ns + ticks_to_ns(int(frame.pts) - base, time_base)
                    if piece.cut_end_ns is not None and t >= piece.cut_end_ns:
                        break
                    if piece.cut_start_ns is not None and t <= piece.cut_start_ns:
                        held = (frame, t)
                        continue
                    batch = [held, (frame, t)] if held is not None else [(frame, t)]
                    held = None
                    for picture, when in batch:
                        if encoder is None:
                            encoder = self._encoder(info)
                            shift = self.timeline.file_shift(when)
                        written += self._encode(encoder, picture, when + (shift or 0))
            if held is not None:  # the cut start is after the piece's last frame
                picture, when = held
                if encoder is None:
                    encoder = self._encoder(info)
                    shift = self.timeline.file_shift(when)
                written += self._encode(encoder, picture, when + (shift or 0))
        except (av.FFmpegError, OSError) as exc:
            log.warning("segment %s could not be fully decoded: %s", piece.path.name, exc)
        if encoder is not None:
            for packet in encoder.encode(None):
                self._mux_encoded(packet)
        return written

    def _encoder(self, info: StreamInfo) -> VideoCodecContext:
        rate = Fraction(15)
        cc = CodecContext.create("libx264", "w")
        assert isinstance(cc, VideoCodecContext)
        cc.width, cc.height = self.size
        cc.pix_fmt = PIX_FMT
        cc.time_base = OUT_TIME_BASE
        cc.framerate = rate
        cc.gop_size = fr.keyframe_interval(float(rate), self.options.keyint_s)
        cc.max_b_frames = 0  # decode order = presentation order: simple, valid timestamps
        cc.color_range = AVCOL_RANGE_MPEG
        cc.colorspace = AVCOL_SPC_SMPTE170M
        cc.options = self.options.codec_options()
        log.info("re-encoding a %dx%d %s segment to %dx%d", info.width, info.height, info.codec, *self.size)
        return cc

    def _encode(self, encoder: VideoCodecContext, frame: VideoFrame, wall_ns: int) -> int:
        pts, _dts = self.timeline.place(wall_ns, wall_ns)
        width, height = self.size
        image = frame.reformat(width=width, height=height, format=PIX_FMT)
        image.pict_type = PictureType.NONE  # a decoded I picture would force a keyframe
        image.pts = pts
        image.time_base = OUT_TIME_BASE
        for packet in encoder.encode(image):
            self._mux_encoded(packet)
        if self.first_ns is None:
            self.first_ns = wall_ns
        self.last_ns = wall_ns if self.last_ns is None else max(self.last_ns, wall_ns)
        return 1

    def _mux_encoded(self, packet: Packet) -> None:
        if packet.pts is None:
            return
        out = Packet(annexb_to_sample(bytes(packet)))
        out.is_keyframe = packet.is_keyframe
        out.stream = self.stream
        out.time_base = OUT_TIME_BASE
        out.pts = packet.pts
        out.dts = packet.pts  # no B-frames
        out.duration = max(1, int(packet.duration or 1))
        self.container.mux(out)


def _close_quietly(container: OutputContainer) -> None:
    try:
        container.close()
    except Exception as exc:  # noqa: BLE001 - already failing; the caller discards the file
        log.debug("closing a failed MP4 output: %s", exc)
