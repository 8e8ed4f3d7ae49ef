"""The passthrough pipeline (cameras that encode themselves): units forwarded untouched, and
every drop runs up to the next keyframe. A scripted EncodedSource replays real H.264."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from tests.unit.capture.test_capture_h264 import decoded_count
from tests.unit.capture.test_capture_pipeline import RecordingSink, wait_until
from vigil_capture.access_units import AccessUnit, EncodedSource
from vigil_capture.config import CaptureConfig
from vigil_capture.edge_encoder import EdgeEncoder
from vigil_capture.passthrough import PassthroughPipeline
from vigil_common.contract.envelope import Codec

CONFIG = CaptureConfig(fps=30.0, width=1280, height=720, quality=70, overlay=True, name="t", location="")
GOP = 10


def camera_units(count: int) -> list[AccessUnit]:
    encoder = EdgeEncoder(30.0, GOP / 30.0)
    units: list[AccessUnit] = []
    for i in range(count):
        img = np.zeros((64, 96, 3), np.uint8)
        img[:, : (i * 3) % 96] = 200
        units += encoder.encode(img, 1_700_000_000_000_000_000 + i * 33_333_333)
    return units


class ScriptedCamera:
    """Hands out the units one by one while ``flowing`` is set."""

    kind = "url"
    codec = "h264"

    def __init__(self, units: list[AccessUnit]) -> None:
        self.units = list(units)
        self.flowing = threading.Event()
        self.flowing.set()
        self.handed = 0

    def open(self) -> None: ...

    def read(self) -> AccessUnit | None:
        if not self.flowing.wait(0.05) or self.handed >= len(self.units):
            return None
        time.sleep(0.002)  # a camera paces itself
        unit = self.units[self.handed]
        self.handed += 1
        return unit

    def close(self) -> None: ...


@pytest.fixture
def units() -> list[AccessUnit]:
    return camera_units(120)


@pytest.fixture
def pipelines() -> Iterator[list[PassthroughPipeline]]:
    made: list[PassthroughPipeline] = []
    yield made
    for p in made:
        p.stop()
        assert p.failure is None


def start(made: list[PassthroughPipeline], camera: ScriptedCamera, sink: RecordingSink, **kw: object
          ) -> PassthroughPipeline:
    assert isinstance(camera, EncodedSource)
    p = PassthroughPipeline(camera, sink, CONFIG, **kw)  # type: ignore[arg-type]
    p.start()
    made.append(p)
    return p


def test_units_go_out_untouched_with_the_stream_size(units: list[AccessUnit],
                                                     pipelines: list[PassthroughPipeline]) -> None:
    sink, camera = RecordingSink(), ScriptedCamera(units)
    p = start(pipelines, camera, sink)
    wait_until(lambda: sink.count() == len(units))
    assert [f.payload for f in sink.frames] == [u.data for u in units]
    assert all(f.codec == Codec.H264 for f in sink.frames)
    assert [f.keyframe for f in sink.frames] == [u.keyframe for u in units]
    assert (p.config.width, p.config.height) == (96, 64) and p.codec == "h264"


def test_a_blocked_sink_drops_from_the_overflow_to_the_next_keyframe(units: list[AccessUnit],
                                                                    pipelines: list[PassthroughPipeline]) -> None:
    sink, camera = RecordingSink(), ScriptedCamera(units[:60])
    sink.room.clear()  # the MQTT window is full: the queue (8) overflows
    p = start(pipelines, camera, sink, buffer_size=8)
    wait_until(lambda: camera.handed == 60)
    sink.room.set()
    wait_until(lambda: sink.count() == 8)
    camera.units = units
    wait_until(lambda: p.stats.snapshot().frames_dropped + sink.count() == len(units))
    sent = list(sink.frames)
    assert 8 < len(sent) < len(units)
    assert sent[8].keyframe  # after the queued head, the stream resumes at a keyframe
    assert decoded_count(sent) == len(sent)  # no frame without its reference


def test_refused_sends_break_the_chain_until_a_keyframe(units: list[AccessUnit],
                                                       pipelines: list[PassthroughPipeline]) -> None:
    sink, camera = RecordingSink(), ScriptedCamera(units[:25])
    camera.flowing.clear()
    p = start(pipelines, camera, sink)
    camera.units = units  # hand out the first 25, refuse 5, then accept again
    sink.accept = True
    camera.flowing.set()
    wait_until(lambda: sink.count() >= 13)
    sink.accept = False
    wait_until(lambda: p.stats.snapshot().frames_dropped >= 1)
    sink.accept = True
    wait_until(lambda: camera.handed == len(units))
    wait_until(lambda: p.stats.snapshot().frames_dropped + sink.count() == len(units))
    assert decoded_count(list(sink.frames)) == sink.count()


def test_snapshot_while_stopped_sends_the_next_keyframe(units: list[AccessUnit],
                                                       pipelines: list[PassthroughPipeline]) -> None:
    sink, camera = RecordingSink(), ScriptedCamera(units)
    camera.flowing.clear()
    p = start(pipelines, camera, sink, streaming=False)
    p.request_snapshot()
    camera.flowing.set()
    wait_until(lambda: sink.count() == 1)
    wait_until(lambda: camera.handed == len(units))
    assert sink.count() == 1 and sink.frames[0].keyframe
    p.streaming = True
    camera.units = units + camera_units(30)
    wait_until(lambda: camera.handed == len(camera.units))
    wait_until(lambda: sink.count() > 1)
    assert sink.frames[1].keyframe  # resumed at a keyframe


def test_a_damaged_unit_and_its_dependants_are_never_sent(units: list[AccessUnit],
                                                         pipelines: list[PassthroughPipeline]) -> None:
    """Packet loss on the way (RtspPassthroughSource flags the unit damaged): it is dropped, and so
    is every unit up to the next keyframe, counted; the stream resumes there."""
    import dataclasses

    hurt = 13  # a P-frame in the second GOP
    assert not units[hurt].keyframe
    script = [dataclasses.replace(u, damaged=True) if i == hurt else u for i, u in enumerate(units)]
    sink, camera = RecordingSink(), ScriptedCamera(script)
    p = start(pipelines, camera, sink)
    wait_until(lambda: p.stats.snapshot().frames_dropped + sink.count() == len(units))
    next_key = next(i for i in range(hurt, len(units)) if units[i].keyframe)
    assert [f.payload for f in sink.frames] == [u.data for u in units[:hurt] + units[next_key:]]
    assert p.stats.snapshot().frames_dropped == next_key - hurt
    assert decoded_count(list(sink.frames)) == sink.count()
