"""Capture benchmark: the unthrottled pipeline against bare ``cv2.imencode`` in the same run.

The pipeline is the real one (synthetic source -> resize/overlay -> JPEG -> VGF1 envelope ->
sink) with its grab and publish threads, at fps 0 (unthrottled); the sink is a no-op, or the
MQTT broker at ``--mqtt-url``. The baseline encodes the same kind of frames, pre-rendered, in
a plain loop. Rounds alternate (baseline, pipeline, baseline, ...) and the ratio is the median
of the per-round ratios, because the machines are noisy. Quality bar (docs/benchmarks.md#quality-bars): >= 0.9.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cv2

from vigil_capture.config import CaptureConfig
from vigil_capture.images import Image
from vigil_capture.pipeline import CapturePipeline
from vigil_capture.processing import encode_jpeg, prepare_frame
from vigil_capture.sinks import FrameSink, MqttFrameSink, NullSink
from vigil_capture.sources import SyntheticSource
from vigil_common.bus.mqtt import MqttBus
from vigil_common.contract.topics import Topics

GOAL = 0.9


@dataclass(frozen=True, slots=True)
class Round:
    fps: float
    cpu_ms_per_frame: float  # process CPU time (all threads) per frame


def _bare_encode_rate(frames: list[Image], quality: int, seconds: float) -> Round:
    count = 0
    cpu = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        encode_jpeg(frames[count % len(frames)], quality)
        count += 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return Round(count / elapsed, cpu * 1000 / max(1, count))


def _pipeline_rate(pipeline: CapturePipeline, seconds: float) -> tuple[Round, int, int]:
    """Frames/s sent by ``pipeline`` while streaming for ``seconds``; also frames grabbed/dropped."""
    pipeline.streaming = True
    time.sleep(0.1)  # warm-up: buffer filled, both threads busy
    before, cpu, start = pipeline.stats.snapshot(), time.process_time(), time.perf_counter()
    time.sleep(seconds)
    after, cpu, end = pipeline.stats.snapshot(), time.process_time() - cpu, time.perf_counter()
    pipeline.streaming = False
    time.sleep(0.05)  # let the publish thread finish what is buffered
    sent = after.frames_sent - before.frames_sent
    return (
        Round(sent / (end - start), cpu * 1000 / max(1, sent)),
        after.frames_grabbed - before.frames_grabbed,
        after.frames_dropped - before.frames_dropped,
    )


def run(
    *,
    width: int = 1280,
    height: int = 720,
    quality: int = 80,
    overlay: bool = True,
    seconds: float = 1.0,
    rounds: int = 8,
    mqtt_url: str | None = None,
) -> dict[str, Any]:
    """Run the benchmark and return its figures (frames/s, ratio, settings) as a dict.

    Each round measures the bare encoder, then the pipeline, for ``seconds`` each; the ratio
    reported is the median of the per-round ratios (neighbours in time share the noise).
    """
    config = CaptureConfig(
        fps=0, width=width, height=height, quality=quality, overlay=overlay, name="bench", location="lab"
    )
    renderer = SyntheticSource(width, height)
    renderer.open()
    now = datetime.now().astimezone()
    # The same kind of frames the pipeline encodes: spread over the pattern's cycle.
    frames = [prepare_frame(renderer.render(i * 37), config, now) for i in range(30)]
    sample_bytes = len(encode_jpeg(frames[0], quality))

    bus: MqttBus | None = None
    sink: FrameSink = NullSink()
    if mqtt_url:
        bus = MqttBus(mqtt_url, f"vigil-bench-capture-{secrets.token_hex(3)}")
        bus.start()
        if not bus.wait_connected(10):
            bus.stop()
            raise RuntimeError(f"cannot connect to the MQTT broker at {bus.address.redacted()}")
        mqtt_sink = MqttFrameSink(bus, Topics(f"bench{secrets.token_hex(3)}").frame("bench"))
        bus.on_publish = mqtt_sink.on_publish
        sink = mqtt_sink

    load_before = os.getloadavg()[0]
    source = SyntheticSource(width, height)
    source.open()
    pipeline = CapturePipeline(source, sink, config, streaming=False)
    pipeline.start()
    bare: list[Round] = []
    piped: list[Round] = []
    grabbed = dropped = 0
    try:
        for _ in range(rounds):
            bare.append(_bare_encode_rate(frames, quality, seconds))
            measured, g, d = _pipeline_rate(pipeline, seconds)
            piped.append(measured)
            grabbed += g
            dropped += d
    finally:
        pipeline.stop()
        source.close()
        if bus is not None:
            bus.stop()
    ratios = [p.fps / b.fps for p, b in zip(piped, bare, strict=True) if b.fps > 0]
    return {
        "benchmark": "capture",
        "source": "synthetic",
        "width": width,
        "height": height,
        "quality": quality,
        "overlay": overlay,
        "sink": "mqtt" if mqtt_url else "null",
        "jpeg_bytes": sample_bytes,
        "rounds": rounds,
        "seconds_per_round": seconds,
        "bare_imencode_fps": round(statistics.median(r.fps for r in bare), 1),
        "pipeline_fps": round(statistics.median(r.fps for r in piped), 1),
        "bare_cpu_ms_per_frame": round(statistics.median(r.cpu_ms_per_frame for r in bare), 3),
        "pipeline_cpu_ms_per_frame": round(statistics.median(r.cpu_ms_per_frame for r in piped), 3),
        "ratio": round(statistics.median(ratios), 3) if ratios else 0.0,
        "ratio_min": round(min(ratios), 3) if ratios else 0.0,
        "ratio_max": round(max(ratios), 3) if ratios else 0.0,
        "goal": GOAL,
        "frames_grabbed": grabbed,
        "frames_dropped": dropped,
        "opencv": cv2.__version__,
        "cpus": os.cpu_count() or 0,
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def format_table(result: dict[str, Any]) -> str:
    verdict = "ok" if result["ratio"] >= result["goal"] else "BELOW GOAL"
    overlay = "on" if result["overlay"] else "off"
    return "\n".join(
        [
            f"capture benchmark: synthetic {result['width']}x{result['height']}, JPEG q{result['quality']} "
            f"(~{result['jpeg_bytes'] // 1024} KB), overlay {overlay}, sink {result['sink']}, "
            f"{result['rounds']} x {result['seconds_per_round']:g} s rounds, OpenCV {result['opencv']}, "
            f"{result['cpus']} CPUs, load {result['loadavg_1m'][0]:.2f} -> {result['loadavg_1m'][1]:.2f}",
            "",
            f"  {'':<28}{'frames/s':>10}{'CPU ms/frame':>14}",
            f"  {'bare cv2.imencode':<28}{result['bare_imencode_fps']:>10.1f}{result['bare_cpu_ms_per_frame']:>14.3f}",
            f"  {'capture pipeline':<28}{result['pipeline_fps']:>10.1f}{result['pipeline_cpu_ms_per_frame']:>14.3f}",
            f"  {'ratio (goal >= 0.90)':<28}{result['ratio']:>10.3f}  {verdict}",
            f"  {'ratio range over rounds':<28}{result['ratio_min']:>10.3f} .. {result['ratio_max']:.3f}",
            "",
            f"  pipeline grabbed {result['frames_grabbed']} frames, dropped {result['frames_dropped']}",
        ]
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vigil bench capture", description="capture pipeline vs bare cv2.imencode")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--no-overlay", dest="overlay", action="store_false")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each half-round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--mqtt-url", help="publish to this broker instead of a no-op sink")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = run(
        width=args.width,
        height=args.height,
        quality=args.quality,
        overlay=args.overlay,
        seconds=args.seconds,
        rounds=args.rounds,
        mqtt_url=args.mqtt_url,
    )
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
