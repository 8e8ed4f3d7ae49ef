"""Decoding stills with PyAV (the recorder's codec library; OpenCV is not one of its
dependencies): small luma images for motion detection, JPEGs for snapshots and thumbnails.

- JPEG frames are decoded with libavcodec's ``lowres`` option (the IDCT scales down by 2, 4
  or 8), so a 720p frame costs about as much as OpenCV's ``IMREAD_REDUCED_GRAYSCALE_4``
  (≈ 2 ms). Only the Y plane is used for motion.
- H.264 frames can be decoded alone only if they are IDR pictures with their SPS and PPS in
  band (:func:`vigil_common.contract.h264.can_start_segment`); other access units depend on earlier
  ones and are never decoded here.

The decoding itself is :mod:`vigil_common.media.stills` (the detector decodes the same frames).
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from av.codec.context import CodecContext
from av.video.frame import VideoFrame
from av.video.reformatter import ColorRange

from vigil_common.contract.envelope import Codec, Frame
from vigil_common.media.stills import ImageError, decode_h264_keyframe, decode_jpeg
from vigil_common.motion.detect import shrink

MAX_LOWRES = 3  # libavcodec's mjpeg decoder scales by 1/2, 1/4 or 1/8
THUMBNAIL_WIDTH = 320
# mjpeg quantiser bounds (2 = best, 31 = worst): the encoder's default rate control would
# otherwise aim at 200 kbit/s and produce smudges.
JPEG_QMIN = 2
JPEG_QMAX = 5

__all__ = ["ImageError", "decode_h264_keyframe", "decode_jpeg", "encode_jpeg", "lowres_for", "luma", "small_luma",
           "still_jpeg", "thumbnail_jpeg"]


def lowres_for(width: int, target_width: int) -> int:
    """The largest ``lowres`` (0..3) whose scaled width still reaches ``target_width``."""
    level = 0
    while level < MAX_LOWRES and (width >> (level + 1)) >= target_width:
        level += 1
    return level


def luma(frame: VideoFrame) -> np.ndarray:
    """The Y plane as a ``(height, width)`` uint8 array (a copy, without line padding)."""
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    return np.array(rows[:, : plane.width], dtype=np.uint8)


def small_luma(frame: Frame, target_width: int) -> np.ndarray:
    """A frame's brightness at roughly ``target_width`` pixels wide (between it and twice it).

    JPEG: decoded at reduced size. H.264: only a lone IDR access unit (see module doc).
    Raises :class:`ImageError`.
    """
    if frame.codec == Codec.JPEG:
        decoded = decode_jpeg(frame.payload, lowres_for(frame.width, target_width))
    else:
        decoded = decode_h264_keyframe(frame.payload)
    return shrink(luma(decoded), target_width)


def encode_jpeg(frame: VideoFrame, max_width: int | None = None) -> tuple[bytes, int, int]:
    """Encode a frame as a JPEG (full range), scaled to at most ``max_width`` wide.

    Returns ``(jpeg, width, height)``; dimensions are kept even (4:2:0 chroma).
    """
    width = frame.width
    height = frame.height
    if max_width is not None and width > max_width:
        height = round(height * max_width / width)
        width = max_width
    width, height = max(2, width - width % 2), max(2, height - height % 2)
    src_range = ColorRange.JPEG if frame.format.name.startswith("yuvj") else ColorRange.MPEG
    try:
        converted = frame.reformat(
            width=width,
            height=height,
            format="yuvj420p",
            src_color_range=src_range,
            dst_color_range=ColorRange.JPEG,
        )
        ctx = CodecContext.create("mjpeg", "w")
        ctx.width = width
        ctx.height = height
        ctx.pix_fmt = "yuvj420p"
        ctx.time_base = Fraction(1, 25)
        ctx.options = {"qmin": str(JPEG_QMIN), "qmax": str(JPEG_QMAX)}
        packets = list(ctx.encode(converted)) + list(ctx.encode(None))
    except (av.FFmpegError, ValueError) as exc:
        raise ImageError(f"JPEG encode failed: {exc}") from None
    data = b"".join(bytes(p) for p in packets)
    if not data.startswith(b"\xff\xd8"):
        raise ImageError("JPEG encoder produced no image")
    return data, width, height


def still_jpeg(frame: Frame) -> tuple[bytes, int, int]:
    """The frame as a full-size JPEG: JPEG payloads as they are, H.264 IDR pictures decoded
    and encoded. Returns ``(jpeg, width, height)``; raises :class:`ImageError`."""
    if frame.codec == Codec.JPEG:
        return frame.payload, frame.width, frame.height
    return encode_jpeg(decode_h264_keyframe(frame.payload))


def thumbnail_jpeg(frame: Frame, max_width: int = THUMBNAIL_WIDTH) -> bytes:
    """A small JPEG of the frame (at most ``max_width`` wide); raises :class:`ImageError`."""
    if frame.codec == Codec.JPEG:
        decoded = decode_jpeg(frame.payload, lowres_for(frame.width, max_width))
        if decoded.width <= max_width and frame.width <= max_width:
            return frame.payload  # already small: keep the camera's own bytes
    else:
        decoded = decode_h264_keyframe(frame.payload)
    return encode_jpeg(decoded, max_width)[0]
