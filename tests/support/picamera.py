"""``fake_picamera2``: puts tests/support/fake_picamera2 (a ``picamera2`` package that encodes
real H.264 with PyAV) first on ``sys.path`` for one test, and forgets it afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

FAKE_ROOT = Path(__file__).with_name("fake_picamera2")


def _forget() -> None:
    for name in [n for n in sys.modules if n == "picamera2" or n.startswith("picamera2.")]:
        del sys.modules[name]


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    _forget()
    monkeypatch.syspath_prepend(str(FAKE_ROOT))
    import picamera2
    from picamera2.encoders import H264Encoder

    assert Path(picamera2.__file__).is_relative_to(FAKE_ROOT)
    picamera2.Picamera2.instances = []
    picamera2.Picamera2.fail_start = False
    H264Encoder.instances = []
    H264Encoder.stall_s = 0.0
    yield picamera2
    for camera in picamera2.Picamera2.instances:
        if camera.encoder is not None and camera.encoder.running:
            camera.encoder.stop()
    _forget()
