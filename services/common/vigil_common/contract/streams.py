"""The Redis stream entry format for frames (ingest writes it; recorder and api read it).

One stream per camera, ``keys.frames_stream(camera_id)``. Entry ids are assigned by Redis
(``*``), so the id's millisecond part is the arrival time on the Redis server's clock: the
segment windows are cut on it, which puts every frame in exactly one window. Fields::

    t      capture time, ns since the epoch (ascii int); arrival time if the camera's clock
           was implausible or the frame was a bare JPEG
    seq    camera's frame number (ascii int)
    codec  1 = JPEG, 2 = H.264 access unit (ascii int)
    kf     1 if keyframe else 0
    w, h   dimensions (ascii int)
    data   the payload bytes (JPEG, or H.264 Annex B)

Motion scores measured by a camera go to their own short stream, ``keys.motion_stream(id)``
(entry id = arrival time; fields ``seq``, ``t`` capture ns, ``score`` 0..1, ``hot`` 1/0):
:func:`motion_fields` / :func:`motion_from_fields`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vigil_common.contract import keys
from vigil_common.contract.envelope import Codec, Frame, Header
from vigil_common.contract.windows import stream_id_ms

if TYPE_CHECKING:
    import redis


def entry_fields(header: Header, payload: bytes | memoryview) -> list[bytes | memoryview]:
    """The entry as the flat field/value list XADD takes (values as ASCII, ``data`` last).
    ``payload`` may be a view (ingest sends the image inside the MQTT message uncopied)."""
    return [
        keys.F_CAPTURE_NS, b"%d" % header.capture_ns,
        keys.F_SEQ, b"%d" % header.seq,
        keys.F_CODEC, b"%d" % int(header.codec),
        keys.F_KEYFRAME, b"1" if header.keyframe else b"0",
        keys.F_WIDTH, b"%d" % header.width,
        keys.F_HEIGHT, b"%d" % header.height,
        keys.F_DATA, payload,
    ]


def to_fields(frame: Frame) -> dict[bytes, bytes | memoryview]:
    flat = entry_fields(frame, frame.payload)
    return {bytes(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}


def from_fields(fields: Mapping[bytes, bytes]) -> Frame:
    """Rebuild a :class:`Frame` from a stream entry read with ``decode_responses=False``."""
    return Frame(
        codec=Codec(int(fields[keys.F_CODEC])),
        keyframe=fields.get(keys.F_KEYFRAME, b"0") == b"1",
        seq=int(fields[keys.F_SEQ]),
        capture_ns=int(fields[keys.F_CAPTURE_NS]),
        width=int(fields[keys.F_WIDTH]),
        height=int(fields[keys.F_HEIGHT]),
        payload=bytes(fields[keys.F_DATA]),
    )


F_MOTION_SCORE = b"score"
F_MOTION_HOT = b"hot"


@dataclass(frozen=True, slots=True)
class MotionEntry:
    """A motion score as stored: ``arrival_ms`` from the entry id."""

    entry_id: str
    arrival_ms: int
    seq: int
    capture_ns: int
    score: float
    hot: bool


def motion_fields(seq: int, capture_ns: int, score: float, hot: bool) -> dict[bytes, bytes]:
    return {keys.F_SEQ: b"%d" % seq, keys.F_CAPTURE_NS: b"%d" % capture_ns,
            F_MOTION_SCORE: repr(float(score)).encode(), F_MOTION_HOT: b"1" if hot else b"0"}


def motion_from_fields(entry_id: bytes | str, fields: Mapping[bytes, bytes]) -> MotionEntry:
    """Raises ``KeyError``/``ValueError`` on an entry that is not a motion score."""
    eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    score = float(fields[F_MOTION_SCORE])
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"motion score {score} outside 0..1")
    return MotionEntry(eid, stream_id_ms(eid), int(fields[keys.F_SEQ]), int(fields[keys.F_CAPTURE_NS]), score,
                       fields.get(F_MOTION_HOT, b"0") == b"1")


def arrival_ms(entry_id: bytes | str) -> int:
    return stream_id_ms(entry_id)


def redis_now_ms(client: redis.Redis) -> int:
    """The Redis server's clock, the clock stream entry ids (arrival times) are on."""
    sec, usec = client.time()
    return int(sec) * 1000 + int(usec) // 1000
