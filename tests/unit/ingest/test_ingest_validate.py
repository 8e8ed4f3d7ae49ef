"""Ingest's validation of bad input: every case yields a reason, none raises anything else."""

from __future__ import annotations

import os
import time

import pytest

from tests.helpers import heartbeat_bytes, make_envelope, make_jpeg
from vigil_common.contract import envelope
from vigil_common.contract.envelope import Codec, Frame
from vigil_ingest.validate import FrameLimits, Rejected, validate_frame, validate_heartbeat, validate_status

LIMITS = FrameLimits(max_bytes=8 * 1024 * 1024)


def test_good_envelope() -> None:
    now = time.time_ns()
    accepted = validate_frame(make_envelope(seq=5, capture_ns=now - 1000), now, LIMITS)
    assert accepted.seq == 5 and not accepted.retimed and not accepted.bare
    assert accepted.capture_ns == now - 1000


def test_bare_jpeg_gets_arrival_time_and_real_size() -> None:
    now = time.time_ns()
    accepted = validate_frame(make_jpeg(320, 240), now, LIMITS)
    assert accepted.bare and accepted.capture_ns == now
    assert (accepted.width, accepted.height) == (320, 240)


def test_far_clock_is_retimed_not_rejected() -> None:
    now = time.time_ns()
    accepted = validate_frame(make_envelope(capture_ns=1), now, LIMITS)
    assert accepted.retimed and accepted.capture_ns == now


def _env(codec: int = 1, version: int = 1, width: int = 64, height: int = 48, payload: bytes | None = None) -> bytes:
    payload = make_jpeg(64, 48) if payload is None else payload
    raw = envelope.pack(Frame(Codec.JPEG, True, 1, time.time_ns(), width, height, payload))
    return raw[:4] + bytes([version, codec]) + raw[6:]


SPS, PPS = b"\x00\x00\x00\x01\x67\x42\x00\x1e", b"\x00\x00\x00\x01\x68\xce"
IDR_SLICE, P_SLICE = b"\x00\x00\x01\x65\x88\x84", b"\x00\x00\x01\x41\x9a"
NINE_MB = b"\xff\xd8" + os.urandom(9 * 1024 * 1024) + b"\xff\xd9"


@pytest.mark.parametrize(("payload", "reason"), [
    (b"", "empty"),
    (os.urandom(5000), "not_a_frame"),
    (make_jpeg()[:300], "truncated_jpeg"),
    (NINE_MB, "too_large"),
    (_env(version=7), "bad_version"),
    (_env(codec=9), "bad_codec"),
    (_env(width=640, height=480), "dimension_mismatch"),
    (_env(payload=b""), "empty"),
    (_env(payload=make_jpeg()[:200]), "truncated_jpeg"),
    (_env(payload=os.urandom(100)), "not_jpeg"),
    (b"VGF1\x01", "truncated_header"),
    (envelope.pack(Frame(Codec.H264, True, 1, time.time_ns(), 64, 48, b"garbage")), "bad_h264"),
    (envelope.pack(Frame(Codec.H264, False, 1, time.time_ns(), 64, 48, SPS + PPS)), "h264_no_picture"),
    (envelope.pack(Frame(Codec.H264, True, 1, time.time_ns(), 64, 48, SPS + PPS + P_SLICE)), "h264_keyframe_not_idr"),
    (envelope.pack(Frame(Codec.H264, True, 1, time.time_ns(), 64, 48, IDR_SLICE)),
     "h264_keyframe_without_parameter_sets"),
    (envelope.pack(Frame(Codec.H264, True, 1, time.time_ns(), 0, 48, b"\x00\x00\x00\x01\x67")), "bad_dimensions"),
    (envelope.pack(Frame(Codec.H264, True, 1, time.time_ns(), 60000, 48, b"\x00\x00\x01\x67")), "bad_dimensions"),
])
def test_bad_frames(payload: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as err:
        validate_frame(payload, time.time_ns(), LIMITS)
    assert err.value.reason == reason


def test_h264_frames_that_follow_the_rules() -> None:
    now = time.time_ns()
    key = validate_frame(envelope.pack(Frame(Codec.H264, True, 1, now, 64, 48, SPS + PPS + IDR_SLICE)), now, LIMITS)
    assert key.codec == Codec.H264 and key.keyframe
    delta = validate_frame(envelope.pack(Frame(Codec.H264, False, 2, now, 64, 48, P_SLICE)), now, LIMITS)
    assert not delta.keyframe


def test_heartbeat_ok() -> None:
    assert validate_heartbeat("a", heartbeat_bytes("a")).name == "Front door"


@pytest.mark.parametrize(("payload", "reason"), [
    (b"{not json", "heartbeat_not_json"),
    (b"\xff\xfe", "heartbeat_not_json"),
    (b"[1,2]", "heartbeat_not_object"),
    (heartbeat_bytes("b"), "id_mismatch"),
    (heartbeat_bytes("a", fps="fast"), "heartbeat_schema"),
    (b"{}", "heartbeat_schema"),
    (b"{" + b" " * 70000 + b"}", "heartbeat_too_large"),
])
def test_bad_heartbeats(payload: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as err:
        validate_heartbeat("a", payload)
    assert err.value.reason == reason


def test_status() -> None:
    assert validate_status(b"online") == "online"
    for bad in (b"", b"ONLINE", b"\xff", b"offline; drop table"):
        with pytest.raises(Rejected):
            validate_status(bad)


def test_an_accepted_frame_is_a_view_into_the_message_not_a_copy() -> None:
    now = time.time_ns()
    message = make_envelope(seq=7, capture_ns=now)
    accepted = validate_frame(message, now, LIMITS)
    assert accepted.payload.obj is message  # the writer sends this view: no 100 KB copy per frame
    assert bytes(accepted.payload) == message[envelope.HEADER_SIZE:]
    bare = make_jpeg(64, 48)
    accepted = validate_frame(bare, now, LIMITS)
    assert accepted.payload.obj is bare and bytes(accepted.payload) == bare


def test_jpeg_checks_inside_a_larger_message_look_only_at_the_jpeg() -> None:
    from vigil_common.contract.jpeg import JpegError, jpeg_dimensions

    jpeg = make_jpeg(64, 48)
    assert jpeg_dimensions(b"x" * 28 + jpeg, 28) == (64, 48)
    with pytest.raises(JpegError):  # the EOI must be the JPEG's own, at its end
        jpeg_dimensions(b"\xff\xd9" + b"x" * 26 + jpeg[:-2] + b"\x00\x00", 28)
