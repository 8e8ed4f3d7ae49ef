"""Pure validation of incoming MQTT messages (no I/O). Each rejection carries a metric reason."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from vigil_common.contract import envelope, h264
from vigil_common.contract.envelope import Codec, EnvelopeError, Header
from vigil_common.contract.errors import ReasonedError
from vigil_common.contract.jpeg import JpegError, jpeg_dimensions, looks_like_jpeg
from vigil_common.contract.messages import Heartbeat, MotionScore, parse_status

M = TypeVar("M", bound=BaseModel)

H264_START_CODES = (b"\x00\x00\x00\x01", b"\x00\x00\x01")


class Rejected(ReasonedError):
    """A message that is dropped."""


@dataclass(frozen=True, slots=True)
class FrameLimits:
    max_bytes: int = 8 * 1024 * 1024
    max_width: int = 7680
    max_height: int = 4320
    clock_skew_ns: int = 300 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class AcceptedFrame(Header):
    """A valid frame, still inside the MQTT message it came in: ``data[offset:]`` is the image.

    Ingest never copies a payload (a 100 KB copy is a measurable share of its CPU per frame);
    the Redis writer sends ``payload``, a view, straight to the socket. ``capture_ns`` is the
    arrival time when ``retimed``.
    """

    data: bytes
    offset: int
    # True when the capture time was replaced by the arrival time (bare JPEG or a bad clock).
    retimed: bool
    bare: bool

    @property
    def payload(self) -> memoryview:
        return memoryview(self.data)[self.offset:]


def check_h264(payload: bytes, offset: int, keyframe: bool) -> None:
    """The VGF1 codec-2 rules a frame can be checked against on its own (docs/protocol.md): Annex
    B, a coded picture, and a keyframe that is an IDR carrying its SPS and PPS (a reader must be
    able to start there). Only the NAL headers before the first slice are read."""
    if not payload.startswith(H264_START_CODES, offset):
        raise Rejected("bad_h264", "H.264 payload is not Annex B (no start code)")
    types = h264.nal_types(payload, start=offset)
    if not any(t in h264.VCL_TYPES for t in types):
        raise Rejected("h264_no_picture", f"H.264 access unit holds no coded slice (NAL types {types[:8]})")
    if keyframe and h264.NAL_IDR not in types:
        raise Rejected("h264_keyframe_not_idr", "frame flagged as keyframe but its access unit holds no IDR slice")
    if keyframe and not (h264.NAL_SPS in types and h264.NAL_PPS in types):
        raise Rejected("h264_keyframe_without_parameter_sets",
                       "keyframe without SPS and PPS in band (repeat them on every keyframe)")


def validate_frame(payload: bytes, arrival_ns: int, limits: FrameLimits) -> AcceptedFrame:
    """Validate a frame payload: a VGF1 envelope, or a bare JPEG from a third-party camera."""
    if not payload:
        raise Rejected("empty", "empty frame payload")
    if len(payload) > limits.max_bytes:
        raise Rejected("too_large", f"frame of {len(payload)} bytes exceeds {limits.max_bytes}")
    bare = False
    if envelope.is_envelope(payload):
        try:
            h = envelope.parse_header(payload)
        except EnvelopeError as exc:
            raise Rejected(exc.reason, str(exc)) from exc
        codec, keyframe, seq, capture_ns, width, height = (h.codec, h.keyframe, h.seq, h.capture_ns, h.width,
                                                           h.height)
        offset = envelope.HEADER_SIZE
    elif looks_like_jpeg(payload):
        codec, keyframe, seq, capture_ns, width, height = Codec.JPEG, True, 0, arrival_ns, 0, 0
        offset, bare = 0, True
    else:
        raise Rejected("not_a_frame", "payload is neither a VGF1 envelope nor a JPEG")

    if len(payload) <= offset:
        raise Rejected("empty", "envelope without payload")
    if codec is Codec.JPEG:
        try:
            jpeg_w, jpeg_h = jpeg_dimensions(payload, offset)
        except JpegError as exc:
            raise Rejected(exc.reason, str(exc)) from exc
        if bare:
            width, height = jpeg_w, jpeg_h
        elif (jpeg_w, jpeg_h) != (width, height):
            raise Rejected(
                "dimension_mismatch",
                f"envelope says {width}x{height}, JPEG is {jpeg_w}x{jpeg_h}",
            )

    if not (0 < width <= limits.max_width and 0 < height <= limits.max_height):
        raise Rejected("bad_dimensions", f"implausible dimensions {width}x{height}")
    if codec is Codec.H264:
        check_h264(payload, offset, keyframe)

    retimed = bare
    if not bare and abs(capture_ns - arrival_ns) > limits.clock_skew_ns:
        # The camera's clock is far off (a Pi without RTC or NTP): keep the frame, use arrival time.
        capture_ns, retimed = arrival_ns, True
    return AcceptedFrame(codec, keyframe, seq, capture_ns, width, height, payload, offset, retimed, bare)


def _json_message(payload: bytes, model: type[M], kind: str, max_bytes: int, size_text: str) -> M:
    """A JSON object validated by ``model``; rejections are ``{kind}_too_large``, ``_not_json``,
    ``_not_object`` and ``_schema`` (the first failing field)."""
    label = kind.replace("_", " ")
    if len(payload) > max_bytes:
        raise Rejected(f"{kind}_too_large", f"{label} larger than {size_text}")
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejected(f"{kind}_not_json", f"{label} is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise Rejected(f"{kind}_not_object", f"{label} is not a JSON object")
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Rejected(f"{kind}_schema", f"{label} field {where}: {first['msg']}") from exc


def validate_heartbeat(topic_camera_id: str, payload: bytes) -> Heartbeat:
    hb = _json_message(payload, Heartbeat, "heartbeat", 64 * 1024, "64 KiB")
    if hb.camera_id != topic_camera_id:
        raise Rejected("id_mismatch", f"heartbeat camera_id {hb.camera_id!r} != topic id {topic_camera_id!r}")
    return hb


def validate_status(payload: bytes) -> str:
    try:
        return parse_status(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected("bad_status", "status must be 'online' or 'offline'") from exc


MAX_MOTION_SCORE_BYTES = 1024


def validate_motion_score(payload: bytes, arrival_ns: int, limits: FrameLimits) -> MotionScore:
    """A camera's motion sample (docs/protocol.md#motion-at-the-edge). A capture time far from the
    arrival time (a camera clock that is off) is replaced by the arrival time, as for frames."""
    score = _json_message(payload, MotionScore, "motion_score", MAX_MOTION_SCORE_BYTES,
                          f"{MAX_MOTION_SCORE_BYTES} bytes")
    if abs(score.capture_ns - arrival_ns) > limits.clock_skew_ns:
        score = score.model_copy(update={"capture_ns": arrival_ns})
    return score
