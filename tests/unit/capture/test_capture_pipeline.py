"""The grab/publish threads with an in-memory sink: ordering, start/stop, snapshots, drops."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from vigil_capture.config import CaptureConfig
from vigil_capture.pipeline import CapturePipeline
from vigil_capture.sources import SyntheticSource
from vigil_common.contract.envelope import Frame, parse
from vigil_common.contract.jpeg import jpeg_dimensions

CONFIG = CaptureConfig(fps=50.0, width=96, height=64, quality=70, overlay=True, name="t", location="")


class RecordingSink:
    """A sink whose connection state and window can be flipped by the test."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.connected = True
        self.room = threading.Event()
        self.room.set()
        self.accept = True
        self._lock = threading.Lock()

    def is_connected(self) -> bool:
        return self.connected

    def wait_for_room(self, timeout: float) -> bool:
        return self.room.wait(timeout)

    def send(self, payload: bytes) -> bool:
        if not self.accept:
            return False
        with self._lock:
            self.frames.append(parse(payload))
        return True

    def count(self) -> int:
        with self._lock:
            return len(self.frames)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def make_pipeline(sink: RecordingSink) -> Iterator[Callable[..., CapturePipeline]]:
    pipelines: list[CapturePipeline] = []

    def factory(config: CaptureConfig = CONFIG, **kwargs: object) -> CapturePipeline:
        source = SyntheticSource(config.width, config.height)
        source.open()
        pipeline = CapturePipeline(source, sink, config, **kwargs)  # type: ignore[arg-type]
        pipeline.start()
        pipelines.append(pipeline)
        return pipeline

    yield factory
    for pipeline in pipelines:
        pipeline.stop()
        assert pipeline.failure is None


def test_frames_flow_in_order_as_valid_jpeg(make_pipeline: Callable[..., CapturePipeline], sink: RecordingSink) -> None:
    pipeline = make_pipeline()
    wait_until(lambda: sink.count() >= 5)
    frames = list(sink.frames)
    seqs = [f.seq for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for frame in frames:
        assert (frame.width, frame.height) == (96, 64)
        assert jpeg_dimensions(frame.payload) == (96, 64)
        assert frame.keyframe
    assert frames[-1].capture_ns >= frames[0].capture_ns
    stats = pipeline.stats.snapshot()
    assert stats.frames_sent >= 5 and stats.last_frame_ns is not None


def test_stopped_publishes_nothing_until_started(
    make_pipeline: Callable[..., CapturePipeline], sink: RecordingSink
) -> None:
    pipeline = make_pipeline(streaming=False)
    time.sleep(0.2)
    assert sink.count() == 0
    pipeline.streaming = True
    wait_until(lambda: sink.count() >= 3)
    pipeline.streaming = False
    time.sleep(0.1)
    settled = sink.count()
    time.sleep(0.2)
    assert sink.count() == settled


def test_snapshot_while_stopped_sends_exactly_one_frame(
    make_pipeline: Callable[..., CapturePipeline], sink: RecordingSink
) -> None:
    slow = CaptureConfig(fps=0.5, width=96, height=64, quality=70, overlay=False, name="t", location="")
    pipeline = make_pipeline(slow, streaming=False)
    pipeline.request_snapshot()
    wait_until(lambda: sink.count() == 1, timeout=1.0)  # at once, not after the 2 s frame period
    time.sleep(0.2)
    assert sink.count() == 1
    pipeline.request_snapshot()
    pipeline.request_snapshot()
    wait_until(lambda: sink.count() == 3)


def test_config_changes_apply_to_following_frames(
    make_pipeline: Callable[..., CapturePipeline], sink: RecordingSink
) -> None:
    pipeline = make_pipeline()
    wait_until(lambda: sink.count() >= 1)
    pipeline.config = CaptureConfig(fps=50, width=48, height=32, quality=50, overlay=False, name="", location="")
    wait_until(lambda: sink.frames[-1].width == 48)
    assert sink.frames[-1].height == 32 and jpeg_dimensions(sink.frames[-1].payload) == (48, 32)


def test_disconnected_frames_are_dropped_not_queued(
    make_pipeline: Callable[..., CapturePipeline], sink: RecordingSink
) -> None:
    sink.connected = False
    pipeline = make_pipeline()
    wait_until(lambda: pipeline.stats.snapshot().frames_dropped >= 5)
    assert sink.count() == 0
    sink.connected = True
    wait_until(lambda: sink.count() >= 2)


def test_full_window_drops_the_oldest_in_the_buffer(
    make_pipeline: Callable[..., CapturePipeline], sink: RecordingSink
) -> None:
    sink.room.clear()  # the network is stuck: nothing may be sent
    pipeline = make_pipeline(buffer_size=2)
    wait_until(lambda: pipeline.stats.snapshot().frames_dropped >= 5)
    assert sink.count() == 0
    grabbed = pipeline.stats.snapshot().frames_grabbed
    sink.room.set()
    wait_until(lambda: sink.count() >= 1)
    # the first frame sent after the jam is one of the newest, not the oldest
    assert sink.frames[0].seq >= grabbed - 3


def test_refused_sends_are_counted(make_pipeline: Callable[..., CapturePipeline], sink: RecordingSink) -> None:
    sink.accept = False
    pipeline = make_pipeline()
    wait_until(lambda: pipeline.stats.snapshot().frames_dropped >= 3)
    assert pipeline.stats.snapshot().frames_sent == 0


def test_a_crashing_source_stops_the_pipeline_with_a_reason(sink: RecordingSink) -> None:
    class Broken(SyntheticSource):
        def read(self):  # type: ignore[no-untyped-def]
            raise OSError("camera unplugged hard")

    source = Broken(96, 64)
    pipeline = CapturePipeline(source, sink, CONFIG)
    pipeline.start()
    wait_until(lambda: pipeline.stopped)
    pipeline.stop()
    assert pipeline.failure is not None and "camera unplugged hard" in pipeline.failure
