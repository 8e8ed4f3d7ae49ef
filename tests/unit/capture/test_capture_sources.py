"""Capture sources through the one ``Source`` interface: synthetic, file, device/URL, picamera."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vigil_capture.sources import (
    FileSource,
    PicameraSource,
    Source,
    SourceError,
    SourceKind,
    SourceSpec,
    StreamSource,
    SyntheticSource,
    make_source,
    parse_source,
    redact_url,
)

# --- the interface -------------------------------------------------------------------------


def _check_frames(source: Source, count: int, shape: tuple[int, int, int]) -> list[np.ndarray]:
    frames = []
    for _ in range(count):
        frame = source.read()
        assert frame is not None
        assert frame.dtype == np.uint8 and frame.shape == shape
        frames.append(frame)
    return frames


# --- synthetic -----------------------------------------------------------------------------


def test_synthetic_is_deterministic_per_frame_index() -> None:
    a, b = SyntheticSource(320, 240), SyntheticSource(320, 240)
    a.open()
    b.open()
    frames_a = _check_frames(a, 5, (240, 320, 3))
    for i, frame in enumerate(frames_a):
        assert np.array_equal(frame, b.render(i))
    assert np.array_equal(a.render(3), frames_a[3])  # rendering again gives the same image


def test_synthetic_frames_move() -> None:
    source = SyntheticSource(320, 240)
    source.open()
    first, second = source.render(0), source.render(10)
    assert not np.array_equal(first, second)
    assert source.kind == "synthetic"


def test_synthetic_frames_are_independent_copies() -> None:
    source = SyntheticSource(64, 48)
    source.open()
    frame = source.read()
    assert frame is not None
    frame[:] = 0  # the overlay draws in place: that must not leak into later frames
    assert source.render(0).any()


def test_synthetic_rejects_tiny_sizes() -> None:
    with pytest.raises(ValueError):
        SyntheticSource(8, 8)


# --- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "target"),
    [
        ("synthetic", SourceKind.SYNTHETIC, ""),
        ("SYNTHETIC", SourceKind.SYNTHETIC, ""),
        ("picamera", SourceKind.PICAMERA, ""),
        ("0", SourceKind.DEVICE, 0),
        ("12", SourceKind.DEVICE, 12),
        ("/dev/video2", SourceKind.DEVICE, 2),
        ("rtsp://cam.local:554/stream", SourceKind.URL, "rtsp://cam.local:554/stream"),
        ("http://10.0.0.5/video.mjpg", SourceKind.URL, "http://10.0.0.5/video.mjpg"),
        ("https://cam.example/live", SourceKind.URL, "https://cam.example/live"),
        ("clips/front door.mp4", SourceKind.FILE, "clips/front door.mp4"),
        ("/var/video/x.avi", SourceKind.FILE, "/var/video/x.avi"),
    ],
)
def test_parse_source(text: str, kind: SourceKind, target: str | int) -> None:
    assert parse_source(text) == SourceSpec(kind, target)


@pytest.mark.parametrize("text", ["", "   ", "ftp://host/x", "rtsp://", "gopher://x"])
def test_parse_source_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_source(text)


def test_url_credentials_never_leak() -> None:
    url = "rtsp://admin:s3cret@192.168.1.9:554/h264?token=abc"
    spec = parse_source(url)
    assert spec.kind is SourceKind.URL
    assert "s3cret" not in spec.describe() and "abc" not in spec.describe()
    assert redact_url(url) == "rtsp://admin:***@192.168.1.9:554/h264?***"
    assert redact_url("http://cam/x") == "http://cam/x"
    source = make_source(spec, 320, 240)
    assert source.kind == "url"
    assert isinstance(source, StreamSource) and "s3cret" not in source.label


def test_make_source_kinds(tmp_path: Path) -> None:
    assert make_source(parse_source("synthetic"), 64, 48).kind == "synthetic"
    assert make_source(parse_source("picamera"), 64, 48).kind == "picamera"
    assert make_source(parse_source("3"), 64, 48).kind == "device"
    assert make_source(parse_source(str(tmp_path / "a.avi")), 64, 48).kind == "file"


# --- file ----------------------------------------------------------------------------------


def _write_video(path: Path, frames: int, size: tuple[int, int] = (64, 48)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened()
    for i in range(frames):
        image = np.full((size[1], size[0], 3), (i * 40) % 256, dtype=np.uint8)
        writer.write(image)
    writer.release()


def test_file_source_loops_at_end(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    _write_video(path, 4)
    source = FileSource(path)
    source.open()
    try:
        frames = _check_frames(source, 13, (48, 64, 3))
    finally:
        source.close()
    assert source.loops >= 3
    # the loop starts again at the first frame
    assert abs(int(frames[4].mean()) - int(frames[0].mean())) <= 3
    assert source.kind == "file"


def test_file_source_missing_or_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        FileSource(tmp_path / "nope.mp4").open()
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video")
    with pytest.raises(SourceError):
        FileSource(junk).open()


# --- device / URL (reconnect logic, with a stand-in for cv2.VideoCapture) ------------------


class FakeCapture:
    """Plays ``frames`` then fails reads (a dropped stream); ``opened=False`` fails to open."""

    def __init__(self, frames: int, opened: bool = True) -> None:
        self.frames = frames
        self.opened = opened
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, Any]:
        if self.frames <= 0:
            return False, None
        self.frames -= 1
        return True, np.zeros((4, 4, 3), dtype=np.uint8)

    def set(self, prop_id: int, value: float) -> bool:
        return True

    def release(self) -> None:
        self.released = True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stream_source_reconnects_with_backoff() -> None:
    clock = Clock()
    plan = [FakeCapture(2), FakeCapture(0, opened=False), FakeCapture(0, opened=False), FakeCapture(1)]
    opened: list[FakeCapture] = []

    def open_capture() -> FakeCapture:
        capture = plan.pop(0)
        opened.append(capture)
        return capture

    source = StreamSource(SourceKind.URL, "url rtsp://cam/x", open_capture, clock=clock, initial_backoff_s=1.0)
    source.open()
    assert source.read() is not None and source.read() is not None
    assert source.read() is None  # the stream drops: closed, retry in 1 s
    assert opened[0].released and not source.connected
    assert source.read() is None and len(opened) == 1  # too early to retry
    clock.now += 1.0
    assert source.read() is None and len(opened) == 2  # retry fails: next delay 2 s
    clock.now += 1.5
    assert source.read() is None and len(opened) == 2
    clock.now += 0.5
    assert source.read() is None and len(opened) == 3  # fails again: next delay 4 s
    clock.now += 4.0
    frame = source.read()
    assert frame is not None and frame.shape == (4, 4, 3)
    assert source.reconnects == 1 and source.kind == "url"


def test_stream_source_first_open_must_succeed() -> None:
    source = StreamSource(SourceKind.DEVICE, "device 7", lambda: FakeCapture(0, opened=False))
    with pytest.raises(SourceError, match="device 7"):
        source.open()


def test_stream_source_converts_grey_frames() -> None:
    class Grey(FakeCapture):
        def read(self) -> tuple[bool, Any]:
            return True, np.zeros((4, 6), dtype=np.uint8)

    source = StreamSource(SourceKind.DEVICE, "device 0", lambda: Grey(1))
    source.open()
    frame = source.read()
    assert frame is not None and frame.shape == (4, 6, 3)


# --- picamera (a stand-in picamera2 module) ------------------------------------------------


class FakePicamera2:
    instances: list[FakePicamera2] = []

    def __init__(self, channels: int = 3, fail_start: bool = False) -> None:
        self.calls: list[str] = []
        self.config: dict[str, Any] | None = None
        self.channels = channels
        self.fail_start = fail_start
        self.captured = 0
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("create_video_configuration")
        return {"main": main, "kind": "video"}

    def configure(self, config: dict[str, Any]) -> None:
        self.calls.append("configure")
        self.config = config

    def start(self) -> None:
        self.calls.append("start")
        if self.fail_start:
            raise RuntimeError("Camera __init__ sequence did not complete.")

    def capture_array(self) -> np.ndarray:
        assert self.config is not None
        width, height = self.config["main"]["size"]
        self.captured += 1
        frame = np.zeros((height, width, self.channels), dtype=np.uint8)
        frame[:, :, 0] = 200  # blue: RGB888 is B, G, R in memory
        return frame

    def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    FakePicamera2.instances = []
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return module


def test_picamera_source_through_the_interface(fake_picamera2: types.ModuleType) -> None:
    source: Source = PicameraSource(320, 240)
    assert "picamera2" in sys.modules and source.kind == "picamera"
    source.open()
    camera = FakePicamera2.instances[-1]
    assert camera.config == {"main": {"size": (320, 240), "format": "RGB888"}, "kind": "video"}
    assert camera.calls == ["create_video_configuration", "configure", "start"]
    frames = _check_frames(source, 3, (240, 320, 3))
    assert int(frames[0][0, 0, 0]) == 200  # passed through as BGR, no conversion
    source.close()
    assert camera.calls[-2:] == ["stop", "close"]
    assert source.read() is None  # closed


def test_picamera_drops_padding_channel(fake_picamera2: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fake_picamera2, "Picamera2", lambda: FakePicamera2(channels=4))
    source = PicameraSource(64, 48)
    source.open()
    frame = source.read()
    assert frame is not None and frame.shape == (48, 64, 3) and frame.flags["C_CONTIGUOUS"]


def test_picamera_start_failure_is_a_source_error(
    fake_picamera2: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_picamera2, "Picamera2", lambda: FakePicamera2(fail_start=True))
    with pytest.raises(SourceError, match="Pi camera"):
        PicameraSource(64, 48).open()


def test_picamera_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # makes the import fail
    with pytest.raises(SourceError, match="picamera2 is not installed"):
        PicameraSource(64, 48).open()


def test_capture_never_imports_server_dependencies() -> None:
    import subprocess

    code = (
        "import sys, vigil_capture.main, vigil_bench.capture;"
        "bad = [m for m in ('fastapi', 'sqlalchemy', 'psycopg', 'rq', 'redis', 'picamera2') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
