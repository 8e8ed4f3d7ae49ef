"""Minimal JPEG structure checks without decoding: SOI/EOI and the SOFn dimensions."""

from __future__ import annotations

from vigil_common.contract.envelope import JPEG_EOI, JPEG_SOI
from vigil_common.contract.errors import ReasonedError

# Start-of-frame markers that carry dimensions (baseline, progressive, lossless, ...).
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


class JpegError(ReasonedError):
    """Not a complete JPEG."""


def looks_like_jpeg(data: bytes, start: int = 0) -> bool:
    return data.startswith(JPEG_SOI, start)


def jpeg_dimensions(data: bytes, start: int = 0) -> tuple[int, int]:
    """Return ``(width, height)`` of the complete JPEG ``data[start:]``; raise :class:`JpegError`
    if it is not one. (``start`` spares a copy of a frame inside a larger message.)

    Checks the SOI marker, walks the marker segments up to the first SOFn header, and
    requires an EOI marker at the end (trailing padding bytes are tolerated).
    """
    if not data.startswith(JPEG_SOI, start):
        raise JpegError("not_jpeg", "payload does not start with a JPEG SOI marker")
    if data.find(JPEG_EOI, max(start, len(data) - 16)) < 0:
        raise JpegError("truncated_jpeg", "JPEG has no EOI marker (truncated?)")
    i = start + 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise JpegError("corrupt_jpeg", "JPEG marker expected")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        seg_len = (data[i + 2] << 8) | data[i + 3]
        if seg_len < 2:
            raise JpegError("corrupt_jpeg", "JPEG segment length invalid")
        if marker in _SOF_MARKERS:
            if i + 9 > n:
                break
            height = (data[i + 5] << 8) | data[i + 6]
            width = (data[i + 7] << 8) | data[i + 8]
            if width == 0 or height == 0:
                raise JpegError("corrupt_jpeg", "JPEG has zero dimensions")
            return width, height
        if marker == 0xDA:  # start of scan before any SOF
            break
        i += 2 + seg_len
    raise JpegError("corrupt_jpeg", "JPEG has no frame header")
