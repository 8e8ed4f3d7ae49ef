"""The VGF1 frame envelope (docs/protocol.md#vgf1-envelope, contract).

28-byte big-endian header, then the payload::

    0  4  magic b"VGF1"
    4  1  version (1)
    5  1  codec: 1 = JPEG, 2 = H.264 access unit (Annex B)
    6  1  flags: bit 0 = keyframe
    7  1  reserved (0)
    8  8  seq
    16 8  capture time, ns since the Unix epoch (UTC)
    24 2  width
    26 2  height
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from vigil_common.contract.errors import ReasonedError

MAGIC = b"VGF1"
VERSION = 1
HEADER = struct.Struct(">4sBBBBQQHH")
HEADER_SIZE = HEADER.size  # 28
FLAG_KEYFRAME = 0x01

JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"


class Codec(IntEnum):
    JPEG = 1
    H264 = 2


class EnvelopeError(ReasonedError):
    """A payload that is not a valid VGF1 envelope."""


@dataclass(frozen=True, slots=True)
class Header:
    """An envelope's header fields; the payload starts at ``HEADER_SIZE``."""

    codec: Codec
    keyframe: bool
    seq: int
    capture_ns: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Frame(Header):
    """One frame, as carried by the envelope: the header's fields and the payload."""

    payload: bytes


def pack(frame: Frame) -> bytes:
    flags = FLAG_KEYFRAME if frame.keyframe else 0
    header = HEADER.pack(
        MAGIC, VERSION, int(frame.codec), flags, 0, frame.seq, frame.capture_ns, frame.width, frame.height
    )
    return header + frame.payload


def is_envelope(data: bytes) -> bool:
    return data[:4] == MAGIC


def parse_header(data: bytes) -> Header:
    """Check and unpack a VGF1 header without touching (or copying) the payload."""
    if len(data) < HEADER_SIZE:
        raise EnvelopeError("truncated_header", f"envelope shorter than {HEADER_SIZE} bytes")
    magic, version, codec, flags, _reserved, seq, capture_ns, width, height = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise EnvelopeError("bad_magic", "not a VGF1 envelope")
    if version != VERSION:
        raise EnvelopeError("bad_version", f"unsupported envelope version {version}")
    try:
        codec_enum = Codec(codec)
    except ValueError as exc:
        raise EnvelopeError("bad_codec", f"unknown codec {codec}") from exc
    return Header(codec_enum, bool(flags & FLAG_KEYFRAME), seq, capture_ns, width, height)


def parse(data: bytes) -> Frame:
    """Parse a VGF1 envelope; checks the header only (payload checks live in the validators)."""
    h = parse_header(data)
    return Frame(h.codec, h.keyframe, h.seq, h.capture_ns, h.width, h.height, bytes(data[HEADER_SIZE:]))
