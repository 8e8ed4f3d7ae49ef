"""Index metadata carried inside each segment file, so a file can be re-indexed from itself.

After the MP4 is complete, a top-level ISO BMFF ``uuid`` box holding a small JSON document
is appended (players skip unknown top-level boxes; ``moov`` stays in front for faststart).
If the job is killed or the database is down after the file is in place, a retry indexes
the file from this box instead of re-reading a Redis window that may have been trimmed.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

# Vigil's own extended type for the box (a fixed random UUID).
VIGIL_UUID = bytes.fromhex("5f0c3b7e9d2a4c61a8e4176b2f30d9c5")
FORMAT_VERSION = 1
_MAX_BOXES = 64
_MAX_META_BYTES = 64 * 1024


def encode_box(meta: dict[str, Any]) -> bytes:
    """The ``uuid`` box bytes for ``meta`` (a JSON-serialisable dict)."""
    payload = json.dumps({"v": FORMAT_VERSION, **meta}, separators=(",", ":"), sort_keys=True).encode()
    return struct.pack(">I4s", 8 + 16 + len(payload), b"uuid") + VIGIL_UUID + payload


def append_box(path: Path, meta: dict[str, Any]) -> None:
    """Append the metadata box to the file at ``path`` (not synced; the caller fsyncs)."""
    with open(path, "ab") as fh:
        fh.write(encode_box(meta))


def top_level_boxes(fh: BinaryIO, size: int) -> list[tuple[bytes, int, int]]:
    """``(type, offset, length)`` of each top-level box, walking headers only."""
    boxes: list[tuple[bytes, int, int]] = []
    offset = 0
    while offset + 8 <= size and len(boxes) < _MAX_BOXES:
        fh.seek(offset)
        header = fh.read(8)
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I4s", header)
        if length == 1:
            large = fh.read(8)
            if len(large) < 8:
                break
            (length,) = struct.unpack(">Q", large)
        elif length == 0:
            length = size - offset
        if length < 8 or offset + length > size:
            break  # truncated or not an MP4: stop, never read past the end
        boxes.append((kind, offset, length))
        offset += length
    return boxes


def read_meta(path: Path) -> dict[str, Any] | None:
    """The metadata box's JSON, or None if the file has none (or is not a complete MP4)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            for kind, offset, length in top_level_boxes(fh, size):
                if kind != b"uuid" or length > _MAX_META_BYTES:
                    continue
                fh.seek(offset + 8)
                body = fh.read(length - 8)
                if body[:16] != VIGIL_UUID:
                    continue
                doc = json.loads(body[16:])
                if isinstance(doc, dict) and doc.get("v") == FORMAT_VERSION:
                    return doc
    except (OSError, ValueError):
        return None
    return None
