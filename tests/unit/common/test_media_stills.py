"""Single frames decoded (vigil_common.media.stills): JPEG, a lone H.264 IDR, and the refusals."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.integration.support.h264 import H264Encoder
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.media.stills import ImageError, decodable_alone, to_bgr


def picture() -> np.ndarray:
    img = np.zeros((240, 320, 3), np.uint8)
    img[:, :160] = (40, 80, 200)  # a red-ish left half (BGR)
    img[:, 160:] = (200, 200, 200)
    return img


def h264_units(img: np.ndarray, count: int = 3) -> list[bytes]:
    enc = H264Encoder(img.shape[1], img.shape[0], gop=30)
    return [enc.encode(img) for _ in range(count)]


def frame(codec: Codec, payload: bytes, keyframe: bool = True) -> Frame:
    return Frame(codec, keyframe, 0, 0, 320, 240, payload)


def test_a_jpeg_decodes_to_bgr_at_full_size() -> None:
    data = cv2.imencode(".jpg", picture())[1].tobytes()
    img = to_bgr(frame(Codec.JPEG, data))
    assert img.shape == (240, 320, 3) and img.dtype == np.uint8
    assert np.abs(img[120, 80].astype(int) - (40, 80, 200)).max() < 20


def test_an_h264_idr_with_its_headers_decodes_and_a_p_frame_is_refused() -> None:
    idr, p_frame = h264_units(picture())[:2]
    f = frame(Codec.H264, idr)
    assert decodable_alone(f)
    img = to_bgr(f)
    assert img.shape == (240, 320, 3)
    assert np.abs(img[120, 240].astype(int) - (200, 200, 200)).max() < 20
    assert not decodable_alone(frame(Codec.H264, p_frame, keyframe=False))
    with pytest.raises(ImageError, match="IDR"):
        to_bgr(frame(Codec.H264, p_frame))


def test_a_corrupt_jpeg_is_an_image_error() -> None:
    with pytest.raises(ImageError):
        to_bgr(frame(Codec.JPEG, b"\xff\xd8\xff\xe0 not really a jpeg"))
