"""Pure command handling: configure validation, command parsing/effects, heartbeat and state."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from vigil_capture.commands import CommandRejected, decide, parse_command
from vigil_capture.config import CaptureConfig, ConfigureError, apply_configure
from vigil_capture.reports import build_heartbeat, build_state
from vigil_capture.stats import RateMeter, StatsSnapshot
from vigil_common.contract.messages import CameraState, CommandAction, Heartbeat

CONFIG = CaptureConfig(fps=10.0, width=640, height=480, quality=80, overlay=True, name="cam", location="hall")


def test_configure_applies_only_given_fields() -> None:
    new = apply_configure(CONFIG, {"fps": 5, "width": 320, "height": 240, "overlay": False})
    assert new == CaptureConfig(fps=5.0, width=320, height=240, quality=80, overlay=False, name="cam", location="hall")
    assert isinstance(new.fps, float)
    assert apply_configure(CONFIG, {}) == CONFIG
    assert apply_configure(CONFIG, {"name": None}) == CONFIG  # null keeps the value
    assert apply_configure(CONFIG, {"name": "Garage", "location": "", "quality": 55}).location == ""


@pytest.mark.parametrize(
    "params",
    [
        {"fps": 0},
        {"fps": -1},
        {"fps": 500},
        {"width": 8},
        {"height": 100_000},
        {"quality": 0},
        {"quality": 101},
        {"fps": "fast"},
        {"overlay": "maybe"},
        {"name": "x" * 200},
        {"brightness": 3},  # unknown keys are refused, not ignored
    ],
)
def test_configure_rejects_invalid_params(params: dict[str, object]) -> None:
    with pytest.raises(ConfigureError):
        apply_configure(CONFIG, params)


def test_capture_config_checks_its_own_ranges() -> None:
    with pytest.raises(ValueError):
        CaptureConfig(fps=10, width=10, height=10, quality=80, overlay=True, name="", location="")


def test_parse_command() -> None:
    command = parse_command(b'{"action": "configure", "params": {"fps": 2}, "request_id": "r-1", "x": 1}')
    assert command.action is CommandAction.CONFIGURE and command.request_id == "r-1"
    assert parse_command(b'{"action": "start"}').params == {}


@pytest.mark.parametrize(
    "payload",
    [b"", b"not json", b"\xff\xfe", b"[]", b'{"action": "explode"}', b'{"params": {}}', b'{"action": 1}'],
)
def test_parse_command_rejects_malformed(payload: bytes) -> None:
    with pytest.raises(CommandRejected) as info:
        parse_command(payload)
    assert info.value.reason == "malformed_command"


def test_parse_command_rejects_huge_payloads() -> None:
    payload = json.dumps({"action": "start", "request_id": "a", "params": {"pad": "x" * 70_000}}).encode()
    with pytest.raises(CommandRejected) as info:
        parse_command(payload)
    assert info.value.reason == "command_too_large"


def test_command_effects() -> None:
    start = decide(parse_command(b'{"action": "start", "request_id": "a"}'), CONFIG)
    assert (start.streaming, start.config, start.snapshot, start.request_id) == (True, None, False, "a")
    assert decide(parse_command(b'{"action": "stop"}'), CONFIG).streaming is False
    snap = decide(parse_command(b'{"action": "snapshot"}'), CONFIG)
    assert snap.snapshot and snap.streaming is None
    conf = decide(parse_command(b'{"action": "configure", "params": {"quality": 30}}'), CONFIG)
    assert conf.config is not None and conf.config.quality == 30
    with pytest.raises(ConfigureError):
        decide(parse_command(b'{"action": "configure", "params": {"quality": 300}}'), CONFIG)


def test_heartbeat_has_exactly_the_contract_fields() -> None:
    stats = StatsSnapshot(
        frames_grabbed=12,
        frames_sent=10,
        frames_dropped=2,
        bytes_sent=1000,
        source_misses=0,
        last_frame_ns=1_700_000_000_000_000_000,
    )
    heartbeat = build_heartbeat(
        camera_id="cam-1",
        seq=3,
        now=datetime.now(UTC),
        streaming=True,
        measured_fps=9.87654,
        config=CONFIG,
        stats=stats,
        source_kind="url",
        uptime_s=12.5,
    )
    doc = json.loads(heartbeat.model_dump_json())
    assert set(doc) == set(Heartbeat.model_fields)
    parsed = Heartbeat.model_validate_json(heartbeat.model_dump_json())
    assert parsed.source == "url" and parsed.codec == "jpeg" and parsed.fps == pytest.approx(9.88)
    assert parsed.last_frame_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert (parsed.width, parsed.height, parsed.frames_sent, parsed.frames_dropped) == (640, 480, 10, 2)

    no_frames = build_heartbeat(
        camera_id="cam-1",
        seq=0,
        now=datetime.now(UTC),
        streaming=False,
        measured_fps=0.0,
        config=CONFIG,
        stats=StatsSnapshot(0, 0, 0, 0, 0, None),
        source_kind="synthetic",
        uptime_s=0.0,
    )
    assert Heartbeat.model_validate_json(no_frames.model_dump_json()).last_frame_at is None


def test_state_message() -> None:
    state = build_state(
        camera_id="cam-1",
        streaming=False,
        config=CONFIG,
        source_kind="picamera",
        now=datetime.now(UTC),
        last_request_id="req-9",
    )
    parsed = CameraState.model_validate_json(state.model_dump_json())
    assert parsed.last_request_id == "req-9" and not parsed.streaming and parsed.quality == 80


def test_rate_meter() -> None:
    meter = RateMeter(0, now=0.0)
    assert meter.update(50, now=5.0) == pytest.approx(10.0)
    assert meter.update(50, now=10.0) == 0.0
    assert meter.update(60, now=10.0) == 0.0  # no time elapsed: no rate
