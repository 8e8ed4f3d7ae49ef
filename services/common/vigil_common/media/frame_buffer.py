"""The newest usable frame of each camera, read from its Redis stream (no decoding here).

One pipelined ``XREVRANGE … COUNT 1`` per call covers every camera. An H.264 camera's newest
entry is usually a P-frame, which cannot be decoded alone: :func:`newest_keyframe` walks back
(newest first, in pages, bounded) to the newest IDR access unit carrying its SPS/PPS.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis

from vigil_common.contract import h264, keys, streams
from vigil_common.contract.envelope import Frame
from vigil_common.contract.windows import stream_id_ms

log = logging.getLogger(__name__)

KEYFRAME_PAGE = 32
# At most this many entries are examined looking for a keyframe (a 10 s GOP at 30 fps).
KEYFRAME_SCAN_MAX = 300


@dataclass(frozen=True, slots=True)
class Latest:
    """One stream entry: its id, arrival time (the id's milliseconds) and the frame."""

    entry_id: str
    arrival_ms: int
    frame: Frame


def _entry(entry_id: object, fields: object) -> Latest | None:
    if entry_id is None or not isinstance(fields, Mapping):
        return None
    text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    try:
        frame = streams.from_fields(cast(Mapping[bytes, bytes], fields))
        return Latest(text, stream_id_ms(text), frame)
    except (KeyError, ValueError, TypeError) as exc:
        log.debug("unreadable stream entry %s: %s", text, exc)
        return None


def newest_entries(client: redis.Redis, camera_ids: Sequence[str]) -> dict[str, Latest | None]:
    """Each camera's newest stream entry (None: empty stream or unreadable entry)."""
    if not camera_ids:
        return {}
    pipe = client.pipeline(transaction=False)
    for cam in camera_ids:
        pipe.xrevrange(keys.frames_stream(cam), count=1)
    replies: list[Any] = pipe.execute()
    out: dict[str, Latest | None] = {}
    for cam, reply in zip(camera_ids, replies, strict=True):
        out[cam] = _entry(*reply[0]) if reply else None
    return out


def decodable_keyframe(frame: Frame) -> bool:
    """An H.264 access unit a decoder can start at (flagged keyframe, IDR with SPS/PPS)."""
    return frame.keyframe and h264.can_start_segment(frame.payload)


def newest_keyframe(
    client: redis.Redis,
    camera_id: str,
    *,
    newest_id: str = "+",
    after_id: str | None = None,
    max_entries: int = KEYFRAME_SCAN_MAX,
) -> Latest | None:
    """The newest decodable H.264 keyframe at or before ``newest_id``.

    ``after_id`` (exclusive) stops the walk at an entry already examined, so a caller that
    remembers where it stopped reads each entry once. Returns None if none is found within
    ``max_entries`` entries.
    """
    key = keys.frames_stream(camera_id)
    high = newest_id
    low = f"({after_id}" if after_id else "-"
    seen = 0
    while seen < max_entries:
        batch = cast("list[tuple[object, object]]", client.xrevrange(key, max=high, min=low, count=KEYFRAME_PAGE))
        if not batch:
            return None
        for entry_id, fields in batch:
            seen += 1
            entry = _entry(entry_id, fields)
            if entry is not None and decodable_keyframe(entry.frame):
                return entry
        if len(batch) < KEYFRAME_PAGE:
            return None
        last = batch[-1][0]
        high = f"({last.decode() if isinstance(last, bytes) else last}"
    return None

