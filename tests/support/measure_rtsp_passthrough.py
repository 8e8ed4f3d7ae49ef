"""Measure the CPU cost of RtspPassthroughSource (a script, not a test).

Starts the GStreamer RTSP camera (tests/support/gst_rtsp_server.py) at the given size and
rate, opens the passthrough source in this process, reads for ``--seconds`` after a warm-up,
and prints this process's CPU time per second of stream (all its threads: PyAV demuxes in the
calling one), with frames, bytes and keyframes seen. The server's own CPU is not counted.
``--motion`` also measures motion at the keyframes as the capture does (``KeyframeSampler``:
each due keyframe decoded once on its own thread), so the figure is the camera's whole budget.

    .venv/bin/python -m tests.support.measure_rtsp_passthrough --size 1920x1080 --fps 30
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.conftest import free_port
from tests.support.rtsp import RtspServer, unavailable_reason
from vigil_capture.edge_motion import EdgeMotion, KeyframeSampler
from vigil_capture.rtsp_passthrough import RtspPassthroughSource


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--bitrate", type=int, default=6000, help="kbit/s")
    parser.add_argument("--pattern", default="ball", help="videotestsrc pattern (snow: a busy scene)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--motion", action="store_true", help="also sample motion at the keyframes")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        print(f"cannot measure: {reason}")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        server = RtspServer(
            free_port(), "/stream",
            ["--size", args.size, "--fps", str(args.fps), "--key-int", str(args.fps * 2),
             "--bitrate", str(args.bitrate), "--threads", "0", "--pattern", args.pattern],
            Path(tmp) / "server.log",
        )  # fmt: skip
        server.start()
        try:
            source = RtspPassthroughSource(server.url())
            source.open()
            motion = EdgeMotion(lambda _score: None) if args.motion else None
            sampler = KeyframeSampler(motion) if motion is not None else None
            if sampler is not None:
                sampler.start()
            warm_end = time.monotonic() + args.warmup
            while time.monotonic() < warm_end:
                if source.read() is None:
                    time.sleep(0.005)
            frames = keyframes = size = 0
            cpu0, wall0 = time.process_time(), time.monotonic()
            while time.monotonic() - wall0 < args.seconds:
                unit = source.read()
                if unit is None:
                    time.sleep(0.005)
                    continue
                frames += 1
                if sampler is not None:
                    sampler.offer(unit, frames)
                keyframes += unit.keyframe
                size += len(unit.data)
                width, height = unit.width, unit.height
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            source.close()
            if sampler is not None and motion is not None:
                sampler.stop()
                print(f"motion: {motion.counters.samples} samples, {motion.counters.failed} failed")
        finally:
            server.stop()
    print(f"stream {width}x{height}, {frames / wall:.1f} fps received, {size * 8 / wall / 1e6:.2f} Mbit/s, "
          f"{keyframes} keyframes in {wall:.1f} s")
    print(f"passthrough CPU: {cpu:.3f} s over {wall:.1f} s = {100 * cpu / wall:.2f} % of one core "
          f"({1e3 * cpu / max(1, frames):.3f} ms per frame)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
