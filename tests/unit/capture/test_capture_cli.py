"""``vigil capture`` settings: environment defaults, flags on top, clear errors; the benchmark's shape."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil_bench import capture as bench
from vigil_capture.main import UsageError, build_parser, load_settings, main
from vigil_capture.sources import SourceKind


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the working directory
    for key in (
        "CAMERA_ID",
        "SOURCE",
        "FPS",
        "WIDTH",
        "HEIGHT",
        "NAME",
        "LOCATION",
        "QUALITY",
        "OVERLAY",
        "AUTOSTART",
        "HEARTBEAT_S",
        "MQTT_URL",
        "TOPIC_PREFIX",
    ):
        monkeypatch.delenv(f"VIGIL_{key}", raising=False)


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """``main`` installs the service's log handler on the root logger: put pytest's back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _load(argv: list[str]):  # type: ignore[no-untyped-def]
    return load_settings(build_parser().parse_args(argv))


def test_defaults_and_flags() -> None:
    common, capture, spec = _load(["--camera-id", "cam1"])
    assert (capture.fps, capture.width, capture.height, capture.quality) == (10.0, 1280, 720, 80)
    assert capture.overlay and capture.autostart and capture.heartbeat_s == 5.0
    assert spec.kind is SourceKind.SYNTHETIC
    assert capture.capture_config().name == "cam1"  # the name defaults to the id
    assert common.topic_prefix == "vigil"

    _, capture, spec = _load(
        [
            "--camera-id",
            "cam1",
            "--source",
            "rtsp://u:p@cam/x",
            "--fps",
            "2.5",
            "--width",
            "320",
            "--height",
            "240",
            "--quality",
            "50",
            "--name",
            "Door",
            "--location",
            "Hall",
            "--no-overlay",
            "--no-autostart",
            "--heartbeat-s",
            "1",
        ]
    )
    config = capture.capture_config()
    assert (config.fps, config.width, config.height, config.quality) == (2.5, 320, 240, 50)
    assert (config.name, config.location, config.overlay) == ("Door", "Hall", False)
    assert not capture.autostart and capture.heartbeat_s == 1.0
    assert spec.kind is SourceKind.URL


def test_environment_gives_defaults_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_CAMERA_ID", "envcam")
    monkeypatch.setenv("VIGIL_FPS", "7")
    monkeypatch.setenv("VIGIL_OVERLAY", "false")
    monkeypatch.setenv("VIGIL_TOPIC_PREFIX", "site2")
    monkeypatch.setenv("VIGIL_MQTT_URL", "mqtt://broker.lan:1884")
    common, capture, _ = _load(["--fps", "3"])
    assert capture.camera_id == "envcam" and capture.fps == 3.0 and not capture.overlay
    assert common.topic_prefix == "site2" and common.mqtt_url == "mqtt://broker.lan:1884"
    common, _, _ = _load(["--topic-prefix", "other"])
    assert common.topic_prefix == "other"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--camera-id is required"),
        (["--camera-id", "Bad/Id"], "invalid camera id"),
        (["--camera-id", "c", "--fps", "500"], "fps"),
        (["--camera-id", "c", "--quality", "0"], "quality"),
        (["--camera-id", "c", "--mqtt-url", "http://x"], "scheme"),
        (["--camera-id", "c", "--topic-prefix", "A B"], "topic_prefix"),
        (["--camera-id", "c", "--source", "ftp://x/y"], "scheme"),
    ],
)
def test_invalid_settings(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _load(argv)


def test_main_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path, keep_logging: None) -> None:
    assert main(["--camera-id", "NOT VALID"]) == 2
    assert "invalid camera id" in capsys.readouterr().err
    assert main(["--camera-id", "cam1", "--source", str(tmp_path / "missing.mp4")]) == 1
    assert "cannot open source" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--fps", "fast"])
    assert info.value.code == 2


def test_bench_run_returns_figures() -> None:
    result = bench.run(width=160, height=120, seconds=0.15, rounds=1)
    for key in ("bare_imencode_fps", "pipeline_fps", "ratio", "frames_grabbed", "sink"):
        assert key in result
    assert result["pipeline_fps"] > 0 and result["bare_imencode_fps"] > 0
    assert "capture pipeline" in bench.format_table(result)
