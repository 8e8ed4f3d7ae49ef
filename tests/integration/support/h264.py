"""Real H.264 for tests: libx264 (PyAV) access units in Annex B, as a camera sends them (codec 2,
SPS/PPS in band on every IDR, no B-frames), plus helpers to XADD them and read fMP4 back."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np
import redis

from vigil_common.contract import h264, keys, streams
from vigil_common.contract.envelope import Codec, Frame


def _picture(i: int, width: int, height: int) -> np.ndarray:
    """A moving gradient with a bar: every frame differs (P frames are not empty)."""
    x = np.arange(width, dtype=np.uint16)[None, :]
    y = np.arange(height, dtype=np.uint16)[:, None]
    img = np.zeros((height, width, 3), np.uint8)
    img[..., 0] = ((x + i * 4) % 256).astype(np.uint8)
    img[..., 1] = ((y * 2 + i * 3) % 256).astype(np.uint8)
    img[..., 2] = 128
    bar = (i * 5) % max(1, width - 8)
    img[:, bar : bar + 8] = 255
    return img


class H264Encoder:
    """libx264 ``ultrafast``/``zerolatency``, a keyframe every ``gop`` frames: one access unit
    per picture, Annex B, SPS/PPS repeated before every IDR."""

    def __init__(self, width: int = 160, height: int = 96, gop: int = 15, fps: int = 30) -> None:
        self.width, self.height, self.gop = width, height, gop
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
        ctx.time_base = Fraction(1, fps)
        ctx.framerate = Fraction(fps, 1)
        ctx.gop_size = gop
        ctx.max_b_frames = 0
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "keyint": str(gop), "min-keyint": str(gop),
                       "scenecut": "0", "bframes": "0"}
        self.ctx = ctx
        self.n = 0

    def encode(self, bgr: np.ndarray | None = None) -> bytes:
        """The next access unit (zerolatency: each picture comes out at once): of ``bgr`` (an
        H x W x 3 picture of the encoder's size), else of the moving test picture."""
        if bgr is not None:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr[..., ::-1]), format="rgb24")
        else:
            frame = av.VideoFrame.from_ndarray(_picture(self.n, self.width, self.height), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = self.n
        self.n += 1
        packets = self.ctx.encode(frame)
        assert len(packets) == 1, "zerolatency gives one packet per picture"
        return bytes(packets[0])


def access_units(n: int, width: int = 160, height: int = 96, gop: int = 15) -> list[bytes]:
    enc = H264Encoder(width, height, gop)
    return [enc.encode() for _ in range(n)]


def frames(n: int, width: int = 160, height: int = 96, gop: int = 15, fps: int = 30,
           start_ns: int | None = None) -> list[Frame]:
    """``n`` codec-2 frames, capture times ``1/fps`` apart."""
    t0 = time.time_ns() if start_ns is None else start_ns
    step = 1_000_000_000 // fps
    return [
        Frame(Codec.H264, h264.can_start_segment(au), i, t0 + i * step, width, height, au)
        for i, au in enumerate(access_units(n, width, height, gop))
    ]


def xadd(rds: redis.Redis, camera_id: str, frame: Frame) -> bytes:
    return rds.xadd(keys.frames_stream(camera_id), streams.to_fields(frame))  # type: ignore[arg-type,return-value]


def boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, whole box) of the complete top-level boxes in ``data``."""
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size < 8 or pos + size > len(data):
            return
        yield data[pos + 4 : pos + 8], data[pos : pos + size]
        pos += size


def decode_mp4(data: bytes) -> list[av.VideoFrame]:
    """Every picture of an (fragmented) MP4, decoded with PyAV (raises on a decode error)."""
    with av.open(io.BytesIO(data), format="mp4") as container:
        return list(container.decode(video=0))


def first_sample_flags(moof: bytes) -> int:
    """The flags of the first sample in a one-sample ``trun`` as written by vigil_api.live_mp4."""
    i = moof.index(b"trun")
    return int.from_bytes(moof[i + 4 + 4 + 4 + 4 + 4 + 4 : i + 4 + 4 + 4 + 4 + 4 + 8], "big")


def decode_time(moof: bytes) -> int:
    i = moof.index(b"tfdt")
    return int.from_bytes(moof[i + 8 : i + 16], "big")
