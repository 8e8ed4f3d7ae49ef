"""Per-frame work, as plain functions: fit to size, overlay, JPEG-encode, wrap in a VGF1 envelope
(JPEG, or an H.264 access unit)."""

from __future__ import annotations

from datetime import datetime

import cv2

from vigil_capture.access_units import AccessUnit
from vigil_capture.config import CaptureConfig
from vigil_capture.images import Image, as_image
from vigil_capture.overlay import draw_overlay, overlay_lines
from vigil_common.contract.envelope import Codec, Frame, pack


class EncodeError(RuntimeError):
    """OpenCV refused to encode a frame."""


def fit_to_size(image: Image, width: int, height: int) -> Image:
    """``image`` scaled to exactly ``width`` x ``height`` (returned as is when it already fits)."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    shrinking = width * height < w * h
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return as_image(cv2.resize(image, (width, height), interpolation=interpolation))


def prepare_frame(image: Image, config: CaptureConfig, now: datetime) -> Image:
    """Resize to the configured size, then draw the overlay if enabled (may modify ``image``)."""
    frame = fit_to_size(image, config.width, config.height)
    if config.overlay:
        draw_overlay(frame, overlay_lines(now, config.name, config.location))
    return frame


def encode_jpeg(image: Image, quality: int) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise EncodeError("cv2.imencode failed")
    return encoded.tobytes()


def envelope(jpeg: bytes, *, seq: int, capture_ns: int, width: int, height: int) -> bytes:
    """A VGF1 envelope around one JPEG (every JPEG is a keyframe)."""
    return pack(
        Frame(
            codec=Codec.JPEG,
            keyframe=True,
            seq=seq,
            capture_ns=capture_ns,
            width=width,
            height=height,
            payload=jpeg,
        )
    )


def h264_envelope(unit: AccessUnit, *, seq: int) -> bytes:
    """A VGF1 codec-2 envelope around one H.264 access unit."""
    return pack(
        Frame(
            codec=Codec.H264,
            keyframe=unit.keyframe,
            seq=seq,
            capture_ns=unit.capture_ns,
            width=unit.width,
            height=unit.height,
            payload=unit.data,
        )
    )
