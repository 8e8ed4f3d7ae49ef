"""Single frames of a camera's stream, decoded with PyAV.

- JPEG frames decode alone; libavcodec's ``lowres`` option scales them down by 2, 4 or 8 while
  decoding (the IDCT does it), for the small pictures motion detection and thumbnails need.
- H.264 frames decode alone only if they are IDR pictures with their SPS and PPS in band
  (:func:`vigil_common.contract.h264.can_start_segment`); other access units depend on earlier
  ones and are refused here.
"""

from __future__ import annotations

import av
import numpy as np
from av.codec.context import CodecContext
from av.packet import Packet
from av.video.frame import VideoFrame

from vigil_common.contract import h264
from vigil_common.contract.envelope import Codec, Frame


class ImageError(ValueError):
    """A frame that cannot be decoded (corrupt JPEG, H.264 that is not a lone IDR picture)."""


def decode(codec_name: str, data: bytes, options: dict[str, str] | None = None) -> VideoFrame:
    """One picture from one packet of ``codec_name``; raises :class:`ImageError`."""
    ctx = CodecContext.create(codec_name, "r")
    if options:
        ctx.options = options
    try:
        frames = list(ctx.decode(Packet(data)))  # type: ignore[attr-defined]
        if not frames:
            frames = list(ctx.decode(None))  # type: ignore[attr-defined]
    except (av.FFmpegError, ValueError) as exc:
        raise ImageError(f"{codec_name} decode failed: {exc}") from None
    if not frames or not isinstance(frames[0], VideoFrame):
        raise ImageError(f"{codec_name} decoder returned no picture")
    return frames[0]


def decode_jpeg(data: bytes, lowres: int = 0) -> VideoFrame:
    """A JPEG as a PyAV frame (``yuvj4xxp``), scaled down by ``2**lowres`` while decoding."""
    return decode("mjpeg", data, {"lowres": str(lowres)} if lowres else None)


def decode_h264_keyframe(access_unit: bytes) -> VideoFrame:
    """A lone IDR access unit (with SPS and PPS in band) as a PyAV frame."""
    if not h264.can_start_segment(access_unit):
        raise ImageError("not an IDR picture with in-band SPS/PPS")
    return decode("h264", access_unit)


def decodable_alone(frame: Frame) -> bool:
    """A JPEG, or an H.264 IDR picture with its SPS and PPS."""
    return frame.codec == Codec.JPEG or (frame.codec == Codec.H264 and h264.can_start_segment(frame.payload))


def to_bgr(frame: Frame) -> np.ndarray:
    """The frame at full resolution as an H x W x 3 BGR uint8 array; raises :class:`ImageError`."""
    if frame.codec == Codec.JPEG:
        decoded = decode_jpeg(frame.payload)
    elif frame.codec == Codec.H264:
        decoded = decode_h264_keyframe(frame.payload)
    else:
        raise ImageError(f"codec {frame.codec!r} cannot be decoded")
    try:
        return decoded.to_ndarray(format="bgr24")
    except (av.FFmpegError, ValueError) as exc:
        raise ImageError(f"conversion to BGR failed: {exc}") from None
