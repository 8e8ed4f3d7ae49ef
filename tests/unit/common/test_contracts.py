"""Unit tests for the shared contracts: ids, topics, VGF1 envelope, JPEG checks, messages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.helpers import heartbeat_doc, make_jpeg
from vigil_common.contract import envelope
from vigil_common.contract.envelope import Codec, EnvelopeError, Frame
from vigil_common.contract.ids import InvalidIdError, is_valid_camera_id, require_camera_id
from vigil_common.contract.jpeg import JpegError, jpeg_dimensions
from vigil_common.contract.messages import Command, ConfigureParams, Heartbeat, parse_status
from vigil_common.contract.topics import CameraTopic, TopicError, Topics


@pytest.mark.parametrize("good", ["a", "front-door", "cam_01", "0", "a" * 32])
def test_valid_camera_ids(good: str) -> None:
    assert is_valid_camera_id(good)
    assert require_camera_id(good) == good


@pytest.mark.parametrize(
    "bad", ["", "A", "-a", "_a", "a" * 33, "a/b", "a+", "#", "..", "a\n", "cam era", "é", "a.b", None, 5]
)
def test_invalid_camera_ids(bad: object) -> None:
    assert not is_valid_camera_id(bad)
    with pytest.raises(InvalidIdError):
        require_camera_id(bad)


def test_topics_build_and_parse() -> None:
    t = Topics("vigil")
    assert t.frame("a") == "vigil/cameras/a/frame"
    assert t.service_status("ingest") == "vigil/services/ingest/status"
    assert t.all_cameras(CameraTopic.HEARTBEAT) == "vigil/cameras/+/heartbeat"
    parsed = t.parse("vigil/cameras/front-door/heartbeat")
    assert parsed.camera_id == "front-door" and parsed.kind is CameraTopic.HEARTBEAT


@pytest.mark.parametrize("topic", [
    "vigil/cameras/A/frame", "vigil/cameras/a/b/frame", "vigil/cameras/a/unknown", "other/cameras/a/frame",
    "vigil/cameras//frame", "vigil/cameras/../frame",
])
def test_topics_reject(topic: str) -> None:
    with pytest.raises(TopicError):
        Topics("vigil").parse(topic)


def test_topic_builder_refuses_invalid_id() -> None:
    with pytest.raises(InvalidIdError):
        Topics().frame("a/#")


def test_envelope_roundtrip_and_layout() -> None:
    f = Frame(Codec.H264, True, 2**40, 1_700_000_000_123_456_789, 1920, 1080, b"\x00\x00\x00\x01abc")
    data = envelope.pack(f)
    assert len(data) == 28 + 7
    assert data[:4] == b"VGF1" and data[4] == 1 and data[5] == 2 and data[6] == 1 and data[7] == 0
    assert int.from_bytes(data[8:16], "big") == 2**40
    assert int.from_bytes(data[16:24], "big") == 1_700_000_000_123_456_789
    assert int.from_bytes(data[24:26], "big") == 1920 and int.from_bytes(data[26:28], "big") == 1080
    assert envelope.parse(data) == f


@pytest.mark.parametrize(("data", "reason"), [
    (b"VGF1", "truncated_header"),
    (b"XXXX" + bytes(24), "bad_magic"),
    (b"VGF1" + bytes([2, 1, 0, 0]) + bytes(20), "bad_version"),
    (b"VGF1" + bytes([1, 9, 0, 0]) + bytes(20), "bad_codec"),
])
def test_envelope_errors(data: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError) as err:
        envelope.parse(data)
    assert err.value.reason == reason


def test_jpeg_dimensions() -> None:
    assert jpeg_dimensions(make_jpeg(320, 240)) == (320, 240)


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda j: j[: len(j) // 2], "truncated_jpeg"),
    (lambda j: b"\x00" + j, "not_jpeg"),
    (lambda j: b"\xff\xd8" + b"\x00" * 100 + b"\xff\xd9", "corrupt_jpeg"),
])
def test_jpeg_errors(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(JpegError) as err:
        jpeg_dimensions(mutate(make_jpeg()))
    assert err.value.reason == reason


def test_heartbeat_model() -> None:
    hb = Heartbeat.model_validate({**heartbeat_doc("a"), "extra_field": 1})
    assert hb.camera_id == "a" and hb.fps == 10.0


@pytest.mark.parametrize("over", [
    {"fps": "10"}, {"streaming": "yes"}, {"camera_id": "A"}, {"seq": -1}, {"sent_at": "2024-01-01T00:00:00"},
    {"codec": "vp9"}, {"width": 10**6}, {"frames_sent": 1.5},
])
def test_heartbeat_rejects_wrong_types(over: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Heartbeat.model_validate(heartbeat_doc("a", **over))


def test_heartbeat_missing_field() -> None:
    doc = heartbeat_doc("a")
    del doc["uptime_s"]
    with pytest.raises(ValidationError):
        Heartbeat.model_validate(doc)


def test_command_and_params() -> None:
    cmd = Command.model_validate({"action": "configure", "params": {"fps": 5, "quality": 70}, "request_id": "r1"})
    assert cmd.configure_params() == ConfigureParams(fps=5, quality=70)
    with pytest.raises(ValidationError):
        Command.model_validate({"action": "explode"})
    with pytest.raises(ValidationError):
        Command.model_validate({"action": "configure", "params": {"fps": -1}}).configure_params()


def test_status_payloads() -> None:
    assert parse_status(b"online") == "online"
    assert parse_status(b"offline\n") == "offline"
    with pytest.raises(ValueError):
        parse_status(b"maybe")


@pytest.mark.parametrize("over", [
    {"frames_sent": 10**30}, {"seq": 2**64}, {"name": "a\x00b"}, {"location": "line\nbreak"},
    {"version": "\x1b[31m"}, {"fps": 1e9},
])
def test_heartbeat_rejects_values_the_registry_could_not_store(over: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Heartbeat.model_validate(heartbeat_doc("a", **over))
