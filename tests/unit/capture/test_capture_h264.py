"""H.264 at the edge (--codec h264): libx264 through the real pipeline threads, with an
in-memory sink; what was sent is decoded back with PyAV."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import av
import numpy as np
import pytest

from tests.unit.capture.test_capture_pipeline import RecordingSink, wait_until
from vigil_capture.access_units import KeyframeGate
from vigil_capture.config import CaptureConfig
from vigil_capture.edge_encoder import EdgeEncoder, gop_frames
from vigil_capture.pipeline import CapturePipeline
from vigil_capture.sources import SyntheticSource
from vigil_common.contract import h264
from vigil_common.contract.envelope import Codec, Frame

CONFIG = CaptureConfig(fps=30.0, width=160, height=96, quality=70, overlay=True, name="t", location="")


def decoded_count(frames: list[Frame]) -> int:
    """Decode the access units in order; every one must give a picture, without an error."""
    decoder = av.CodecContext.create("h264", "r")
    pictures = 0
    for f in frames:
        pictures += len(decoder.decode(av.Packet(f.payload)))
    pictures += len(decoder.decode(None))
    return pictures


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def make_pipeline(sink: RecordingSink) -> Iterator[Callable[..., CapturePipeline]]:
    pipelines: list[CapturePipeline] = []

    def factory(config: CaptureConfig = CONFIG, gop_s: float = 0.5) -> CapturePipeline:
        source = SyntheticSource(config.width, config.height)
        source.open()
        pipeline = CapturePipeline(source, sink, config, encoder=EdgeEncoder(config.fps, gop_s))  # type: ignore[arg-type]
        pipeline.start()
        pipelines.append(pipeline)
        return pipeline

    yield factory
    for pipeline in pipelines:
        pipeline.stop()
        assert pipeline.failure is None


def test_edge_encoded_frames_are_codec_2_with_parameter_sets_on_every_keyframe(
    make_pipeline: Callable[..., CapturePipeline], sink: RecordingSink
) -> None:
    pipeline = make_pipeline()
    assert pipeline.codec == "h264"
    wait_until(lambda: sink.count() >= 40)
    frames = list(sink.frames)
    assert all(f.codec == Codec.H264 for f in frames)
    assert frames[0].keyframe and h264.can_start_segment(frames[0].payload)
    keys = [i for i, f in enumerate(frames) if f.keyframe]
    assert len(keys) >= 2  # a keyframe every 0.5 s at 30 fps
    assert all(h264.can_start_segment(frames[i].payload) for i in keys)
    assert not any(h264.is_idr(f.payload) for f in frames if not f.keyframe)
    assert [f.capture_ns for f in frames] == sorted(f.capture_ns for f in frames)
    assert {(f.width, f.height) for f in frames} == {(160, 96)}
    assert decoded_count(frames) == len(frames)


def test_a_refused_frame_drops_up_to_the_next_keyframe_which_comes_at_once(
    make_pipeline: Callable[..., CapturePipeline], sink: RecordingSink
) -> None:
    pipeline = make_pipeline(gop_s=10.0)  # the next regular keyframe is 10 s away
    wait_until(lambda: sink.count() >= 10)
    sink.accept = False
    dropped = pipeline.stats.snapshot().frames_dropped
    wait_until(lambda: pipeline.stats.snapshot().frames_dropped >= dropped + 3)
    sink.accept = True
    before = sink.count()
    wait_until(lambda: sink.count() >= before + 10)
    frames = list(sink.frames)
    assert frames[before].keyframe  # the stream resumes at a forced IDR, not 10 s later
    assert h264.can_start_segment(frames[before].payload)
    assert pipeline.encoder is not None and pipeline.encoder.keyframes_forced >= 1
    assert decoded_count(frames[before:]) == len(frames) - before


def test_a_snapshot_while_stopped_is_a_keyframe(make_pipeline: Callable[..., CapturePipeline],
                                               sink: RecordingSink) -> None:
    pipeline = make_pipeline(gop_s=10.0)
    wait_until(lambda: sink.count() >= 5)
    pipeline.streaming = False
    wait_until(lambda: True)
    settled = sink.count()
    import time

    time.sleep(1.2)
    assert sink.count() == settled
    pipeline.request_snapshot()
    wait_until(lambda: sink.count() == settled + 1)
    assert sink.frames[-1].keyframe and h264.can_start_segment(sink.frames[-1].payload)


def test_a_resize_restarts_the_stream_at_a_keyframe(make_pipeline: Callable[..., CapturePipeline],
                                                    sink: RecordingSink) -> None:
    pipeline = make_pipeline(gop_s=10.0)
    wait_until(lambda: sink.count() >= 5)
    pipeline.config = CaptureConfig(fps=30.0, width=128, height=72, quality=70, overlay=True, name="t", location="")
    wait_until(lambda: any(f.width == 128 for f in sink.frames))
    first = next(f for f in sink.frames if f.width == 128)
    assert first.keyframe and h264.can_start_segment(first.payload)


def test_keyframe_gate() -> None:
    gate = KeyframeGate()
    assert gate.admit(True) and gate.admit(False)
    gate.dropped()
    assert not gate.admit(False) and not gate.admit(False) and gate.waiting_for_keyframe
    assert gate.admit(True) and gate.admit(False)
    assert gate.skipped == 2


def test_gop_frames() -> None:
    assert gop_frames(15, 2.0) == 30 and gop_frames(0, 2.0) == 60 and gop_frames(1, 0.2) == 1


def test_encoder_odd_sizes_are_cropped_to_even() -> None:
    encoder = EdgeEncoder(10, 1.0)
    [unit] = encoder.encode(np.zeros((33, 51, 3), np.uint8), 1_000)
    assert (unit.width, unit.height) == (50, 32) and unit.keyframe


def test_cameras_that_encode_themselves_are_forwarded_untouched() -> None:
    from vigil_capture.main import build_source
    from vigil_capture.picamera_h264 import PicameraH264Source
    from vigil_capture.rtsp_passthrough import RtspPassthroughSource
    from vigil_capture.settings import CaptureSettings
    from vigil_capture.sources import StreamSource, SyntheticSource, parse_source

    def built(source: str, codec: str) -> object:
        return build_source(parse_source(source), CaptureSettings(camera_id="c", source=source, codec=codec))

    assert isinstance(built("rtsp://u:p@cam.local/s", "h264"), RtspPassthroughSource)
    assert isinstance(built("picamera", "h264"), PicameraH264Source)
    assert isinstance(built("rtsp://cam.local/s", "jpeg"), StreamSource)  # decoded, then JPEG
    assert isinstance(built("http://cam.local/mjpeg", "h264"), StreamSource)  # an MJPEG feed: encoded here
    assert isinstance(built("synthetic", "h264"), SyntheticSource)
