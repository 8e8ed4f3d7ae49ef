"""PicameraH264Source with the stand-in picamera2 (tests/support/fake_picamera2), whose
H264Encoder encodes real H.264 with libx264 and calls ``Output.outputframe`` from its thread."""

from __future__ import annotations

import itertools
import sys
import time
from types import ModuleType

import av
import pytest

from tests.support.picamera import fake_picamera2  # noqa: F401 - the fixture
from vigil_capture.access_units import AccessUnit, EncodedSource
from vigil_capture.picamera_h264 import PicameraH264Source
from vigil_capture.sources import PicameraSource, SourceError
from vigil_common.contract import h264

pytestmark = pytest.mark.timeout(60)


def collect(source: PicameraH264Source, count: int, timeout: float = 20.0) -> list[AccessUnit]:
    units: list[AccessUnit] = []
    deadline = time.monotonic() + timeout
    while len(units) < count and time.monotonic() < deadline:
        unit = source.read()
        if unit is not None:
            units.append(unit)
    assert len(units) == count
    return units


def decode(units: list[AccessUnit]) -> list[tuple[int, int]]:
    codec = av.CodecContext.create("h264", "r")
    sizes = []
    for unit in units:
        sizes += [(f.width, f.height) for f in codec.decode(av.Packet(unit.data))]
    sizes += [(f.width, f.height) for f in codec.decode(None)]
    return sizes


def test_hardware_encoder_units_arrive_with_a_keyframe_every_gop(fake_picamera2: ModuleType) -> None:  # noqa: F811
    source = PicameraH264Source(320, 240, fps=30, gop_s=0.5)
    assert isinstance(source, EncodedSource) and source.kind == "picamera" and source.codec == "h264"
    source.open()
    camera = fake_picamera2.Picamera2.instances[-1]
    encoder = sys.modules["picamera2.encoders"].H264Encoder.instances[-1]
    assert camera.config["main"]["size"] == (320, 240) and camera.config["controls"] == {"FrameRate": 30.0}
    assert (encoder.iperiod, encoder.repeat, encoder.bitrate) == (15, True, None)
    try:
        units = collect(source, 46)
    finally:
        source.close()
    assert camera.calls[-3:] == ["stop_recording", "stop", "close"] and not encoder.running

    keyframes = [i for i, u in enumerate(units) if u.keyframe]
    assert keyframes == [0, 15, 30, 45]  # the first unit, then every iperiod frames
    for unit in units:
        assert unit.keyframe == h264.is_idr(unit.data)
        assert (unit.width, unit.height) == (320, 240)
        if unit.keyframe:
            assert h264.can_start_segment(unit.data)  # SPS and PPS on every keyframe
    assert decode(units) == [(320, 240)] * len(units)

    times = [u.capture_ns for u in units]
    assert all(b > a for a, b in itertools.pairwise(times))
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    assert abs(gaps[len(gaps) // 2] - 1e9 / 30) < 1e6  # the encoder's (sensor) timestamps
    assert 0 <= time.time_ns() - times[-1] < 1_000_000_000
    assert source.read() is None  # closed


def test_keyframes_without_repeated_headers_get_them_back(fake_picamera2: ModuleType) -> None:  # noqa: F811
    encoders = sys.modules["picamera2.encoders"]
    real = encoders.H264Encoder

    class NoRepeat(real):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**{**kwargs, "repeat": False})

    encoders.H264Encoder = NoRepeat
    try:
        source = PicameraH264Source(160, 96, fps=30, gop_s=0.2)
        source.open()
        try:
            units = collect(source, 13)
        finally:
            source.close()
    finally:
        encoders.H264Encoder = real
    keyframes = [u for u in units if u.keyframe]
    assert len(keyframes) == 3 and all(h264.can_start_segment(u.data) for u in keyframes)
    assert decode(units) == [(160, 96)] * len(units)


def test_a_slow_reader_drops_up_to_the_next_keyframe(fake_picamera2: ModuleType) -> None:  # noqa: F811
    source = PicameraH264Source(160, 96, fps=60, gop_s=0.25, queue_size=4)
    source.open()
    try:
        time.sleep(1.0)  # nobody reads: the queue fills, frames are dropped
        units = collect(source, 40)
    finally:
        source.close()
    assert source.dropped > 0
    # After the queued frames, the stream resumes at a keyframe: every unit decodes.
    assert decode(units) == [(160, 96)] * len(units)
    resumed = next(i for i, u in enumerate(units) if i >= 4 and u.keyframe)
    times = [u.capture_ns for u in units]
    assert all(b > a for a, b in itertools.pairwise(times)) and resumed <= 4 + 15


def test_the_image_path_still_works_with_the_same_fake(fake_picamera2: ModuleType) -> None:  # noqa: F811
    source = PicameraSource(64, 48)
    source.open()
    frame = source.read()
    source.close()
    assert frame is not None and frame.shape == (48, 64, 3) and int(frame[0, 0, 0]) == 200


def test_camera_that_does_not_start_is_a_source_error(fake_picamera2: ModuleType) -> None:  # noqa: F811
    fake_picamera2.Picamera2.fail_start = True
    with pytest.raises(SourceError, match=r"cannot start the Pi camera's H\.264 encoder"):
        PicameraH264Source(64, 48).open()
    assert fake_picamera2.Picamera2.instances[-1].calls[-1] == "close"


def test_missing_picamera2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(SourceError, match="picamera2 is not installed"):
        PicameraH264Source(64, 48).open()
