"""Capture → displayed in chromium, measured (issue 14's live latency goal: ≤ 1 s).

A camera encodes 640x360 at 30 fps at the edge (the capture's own ``EdgeEncoder``, libx264
ultrafast/zerolatency) and burns its capture time into every picture as a 32-bit barcode (the
low 32 bits of the capture time in ms, one 20x20 block per bit along the top row). The web app
plays it through ``live.mp4`` and its Media Source player; in the page, ``requestVideoFrameCallback``
reads the barcode of each frame as it is composited and its expected display time on the wall
clock (same machine, same clock as the camera). Latency = display time - capture time.

The figures are printed and recorded in docs/benchmarks.md; the test holds the goal on the median
and on the 95th percentile (the 99th is printed, not asserted: a loaded CI machine may stall
chromium for a frame or two).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from tests.browser.conftest import Session, Stack
from tests.helpers import wait_for

WIDTH, HEIGHT, FPS = 640, 360, 30
BITS, BLOCK = 32, 20
FRAMES_MEASURED = 240  # 8 s at 30 fps


def barcode(image: np.ndarray, value: int) -> None:
    """``value``'s low 32 bits, most significant first, as white (1) / black (0) blocks at the top."""
    for bit in range(BITS):
        on = (value >> (BITS - 1 - bit)) & 1
        image[:BLOCK, bit * BLOCK:(bit + 1) * BLOCK] = 255 if on else 0


class BarcodeCamera:
    """A camera publishing edge-encoded H.264 frames carrying their capture time, with heartbeats."""

    def __init__(self, stack: Stack, camera_id: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from vigil_capture.edge_encoder import EdgeEncoder
        from vigil_common.bus.mqtt import parse_mqtt_url
        from vigil_common.contract.topics import Topics

        self.id = camera_id
        self.topics = Topics(stack.env["VIGIL_TOPIC_PREFIX"])
        self.encoder = EdgeEncoder(FPS, gop_s=1.0)
        addr = parse_mqtt_url(stack.env["VIGIL_MQTT_URL"])
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"browser-{camera_id}")
        self.client.connect(addr.host, addr.port)
        self.client.loop_start()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def heartbeat(self, seq: int) -> bytes:
        now = datetime.now(UTC).isoformat()
        return json.dumps({
            "camera_id": self.id, "seq": seq, "sent_at": now, "streaming": True, "fps": float(FPS),
            "fps_target": FPS, "frames_sent": seq * FPS, "frames_dropped": 0, "last_frame_at": now,
            "width": WIDTH, "height": HEIGHT, "codec": "h264", "source": "synthetic", "name": "Latency camera",
            "location": "Lab", "uptime_s": float(seq), "version": "test",
        }).encode()

    def run(self) -> None:
        from vigil_capture.processing import h264_envelope

        rng = np.random.default_rng(3)
        scene = rng.integers(60, 160, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        i = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            image = np.roll(scene, i * 2, axis=1)
            capture_ns = time.time_ns()
            barcode(image, capture_ns // 1_000_000)
            for unit in self.encoder.encode(image, capture_ns):
                self.client.publish(self.topics.frame(self.id), h264_envelope(unit, seq=i), qos=0)
            if i % FPS == 0:
                self.client.publish(self.topics.heartbeat(self.id), self.heartbeat(i // FPS), qos=1)
            i += 1
            next_at += 1 / FPS
            self.stop.wait(max(0.0, next_at - time.monotonic()))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.client.loop_stop()
        self.client.disconnect()


# Runs in the page: per composited frame, the barcode (read from a canvas) and the frame's
# expected display time on the wall clock (ms since the epoch).
MEASURE_JS = """([count, bits, block]) => new Promise((resolve) => {
  const v = document.querySelector('#live-video');
  const canvas = document.createElement('canvas');
  canvas.width = bits * block; canvas.height = block;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  const out = [];
  const step = (now, meta) => {
    g.drawImage(v, 0, 0, bits * block, block, 0, 0, bits * block, block);
    const px = g.getImageData(0, 0, bits * block, block).data;
    let value = 0;
    for (let b = 0; b < bits; b++) {
      const i = ((block >> 1) * bits * block + b * block + (block >> 1)) * 4;
      value = value * 2 + (px[i] > 128 ? 1 : 0);
    }
    const wallOffset = Date.now() - performance.now();
    out.push([value, wallOffset + meta.expectedDisplayTime]);
    if (out.length < count) v.requestVideoFrameCallback(step); else resolve(out);
  };
  v.requestVideoFrameCallback(step);
})"""


def latencies_ms(samples: list[list[float]]) -> list[float]:
    """Display minus capture time per frame; the capture time's high bits come from the display time."""
    out = []
    for low, shown in samples:
        shown_ms = int(shown)
        base = shown_ms - (shown_ms % 2**32)
        captured = base + int(low)
        if captured > shown_ms + 2**31:
            captured -= 2**32
        out.append(shown - captured)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def test_capture_to_display_latency_in_chromium(session: Session, stack: Stack) -> None:
    cam = BarcodeCamera(stack, "latency-cam")
    try:
        wait_for(lambda: stack.api().get("/api/v1/cameras/latency-cam").status_code == 200, 30, "registration")
        page = session.page
        session.goto("camera/latency-cam")
        page.wait_for_selector("#live-video[data-state=playing]", timeout=30_000)
        page.wait_for_function("() => { const v = document.querySelector('#live-video'); "
                               "return v.readyState >= 2 && !v.paused && v.currentTime > 2; }", timeout=30_000)
        # Measure once the player has settled at the live edge (it starts at the newest keyframe).
        # It catches up by playing 10 % fast; right after the package's stack starts (the
        # detector loading its models, 16 cameras registering) that can take longer than 20 s.
        page.wait_for_function("() => { const v = document.querySelector('#live-video'), b = v.buffered; "
                               "return b.length && b.end(b.length - 1) - v.currentTime < 0.3; }", timeout=60_000)
        samples: Any = page.evaluate(MEASURE_JS, [FRAMES_MEASURED, BITS, BLOCK])
    finally:
        cam.close()
        # Gone from the registry, so the wall tests after this one see their 16 live cameras only.
        def gone() -> bool:  # a frame still in flight may register it again: check it stays gone
            stack.api().delete("/api/v1/cameras/latency-cam")
            time.sleep(0.5)
            return stack.api().get("/api/v1/cameras/latency-cam").status_code == 404

        wait_for(gone, 15, "the latency camera deleted")
    lat = latencies_ms(samples)
    plausible = [x for x in lat if -50 <= x <= 10_000]  # a misread barcode lands far outside
    assert len(plausible) >= 0.95 * len(lat), f"barcodes unreadable: {sorted(lat)[:5]} … {sorted(lat)[-5:]}"
    p50, p95, p99 = (percentile(plausible, q) for q in (0.5, 0.95, 0.99))
    print(f"\ncapture -> displayed in chromium, {len(plausible)} frames of {WIDTH}x{HEIGHT}@{FPS}: "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms, max {max(plausible):.0f} ms, "
          f"mean {statistics.fmean(plausible):.0f} ms")
    assert min(plausible) >= -5, "a frame shown before it was captured: the measurement is wrong"
    assert p50 <= 1000 and p95 <= 1000, (p50, p95, p99)
