"""``vigil bench recorder-scale``: how recorder throughput scales with workers.

Fills a private Redis with ``cameras`` x ``windows`` segment windows of 720p JPEG frames at
15 fps, then, for N = 1 and N = 2 ``vigil recorder`` worker processes, enqueues one job per
window at once and times until every job has finished. The figure is the *camera load*
the workers sustain: seconds of video recorded per second of wall time (a load of 4 means
four 720p15 cameras recorded in real time). It also reports CPU per camera: worker CPU
(including the forked work horses) per second of video, as a percentage of one core.
The baseline is the N = 1 run of the same invocation; the goal is N = 2 >= 1.7x on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from rq import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from vigil_bench.recorder import as_frames, make_jpegs
from vigil_common.cli.embedded import find_binary, free_port, wait_port
from vigil_common.contract import keys, streams
from vigil_common.contract.recorder_jobs import enqueue_segment
from vigil_common.db.migrate import upgrade

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class ScaleResult:
    workers: int
    jobs: int
    video_s: float
    wall_s: float
    cpu_s: float

    @property
    def load(self) -> float:
        return self.video_s / self.wall_s

    @property
    def cpu_pct_per_camera(self) -> float:
        return 100.0 * self.cpu_s / self.video_s


def _cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of a process (its waited-for children included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK


def _fill(client: redis.Redis, cameras: int, windows: int, segment_s: int, fps: float,
          size: tuple[int, int]) -> list[tuple[str, int, int]]:
    """Write the frames with explicit stream ids; returns the (camera, start_ms, end_ms) windows."""
    per_window = int(segment_s * fps)
    jpegs = make_jpegs(per_window, size[0], size[1])
    frames = as_frames(jpegs, fps, size[0], size[1])
    base_ms = (int(time.time() * 1000) // 60_000 - 60) * 60_000  # an hour ago, minute aligned
    out = []
    for c in range(cameras):
        cam = f"bench-{c}"
        stream = keys.frames_stream(cam)
        for w in range(windows):
            start_ms = base_ms + w * segment_s * 1000
            pipe = client.pipeline(transaction=False)
            for i, frame in enumerate(frames):
                ms = start_ms + int(i * 1000 / fps)
                shifted = type(frame)(frame.codec, frame.keyframe, w * per_window + i, ms * 1_000_000,
                                      frame.width, frame.height, frame.payload)
                pipe.xadd(stream, streams.to_fields(shifted), id=f"{ms}-{c}")
            pipe.execute()
            out.append((cam, start_ms, start_ms + segment_s * 1000))
    return out


def _run_once(env: dict[str, str], client: redis.Redis, windows: list[tuple[str, int, int]], workers: int,
              segment_s: int, timeout_s: float) -> ScaleResult:
    client.delete(*[k for k in client.scan_iter("rq:*")] or ["-"])
    procs = [subprocess.Popen([sys.executable, "-m", "vigil_recorder.main", "--no-duties"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        deadline = time.monotonic() + 30
        while len(list(client.smembers("rq:workers:" + keys.RECORDER_QUEUE))) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("recorder workers did not start")
            time.sleep(0.1)
        cpu0 = sum(_cpu_seconds(p.pid) for p in procs)
        t0 = time.monotonic()
        for cam, start_ms, end_ms in windows:
            enqueue_segment(client, cam, start_ms, end_ms, segment_seconds=segment_s)
        queue = Queue(keys.RECORDER_QUEUE, connection=client)
        finished, failed = FinishedJobRegistry(queue=queue), FailedJobRegistry(queue=queue)
        while finished.count + failed.count < len(windows):
            if time.monotonic() - t0 > timeout_s:
                raise RuntimeError("timed out waiting for the jobs")
            time.sleep(0.05)
        wall = time.monotonic() - t0
        cpu = sum(_cpu_seconds(p.pid) for p in procs) - cpu0
        if failed.count:
            raise RuntimeError(f"{failed.count} jobs failed")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    return ScaleResult(workers, len(windows), len(windows) * segment_s, wall, cpu)


def run(cameras: int = 4, windows: int = 4, segment_s: int = 10, fps: float = 15.0, width: int = 1280,
        height: int = 720, worker_counts: tuple[int, ...] = (1, 2), timeout_s: float = 600) -> dict[str, Any]:
    exe = find_binary("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is needed for this benchmark")
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-scale-"))
    port = free_port()
    server = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                               "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        redis_url = f"redis://127.0.0.1:{port}/0"
        db_url = f"sqlite:///{tmp / 'bench.db'}"
        upgrade(db_url)
        env = {**os.environ, "VIGIL_REDIS_URL": redis_url, "VIGIL_DATABASE_URL": db_url,
               "VIGIL_DATA_DIR": str(tmp / "data"), "VIGIL_SEGMENT_SECONDS": str(segment_s),
               "VIGIL_MQTT_URL": "mqtt://127.0.0.1:1", "VIGIL_LOG_LEVEL": "WARNING", "VIGIL_MOTION_ENABLED": "false"}
        client = redis.Redis.from_url(redis_url)
        all_windows = _fill(client, cameras, windows, segment_s, fps, (width, height))
        results = []
        for n in worker_counts:
            shutil.rmtree(tmp / "data", ignore_errors=True)
            from sqlalchemy import create_engine, text

            engine = create_engine(db_url)
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM segments"))
            engine.dispose()
            results.append(_run_once(env, client, all_windows, n, segment_s, timeout_s))
        client.close()
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    base = results[0]
    return {
        "cameras": cameras, "windows_per_camera": windows, "segment_s": segment_s, "fps": fps,
        "size": f"{width}x{height}",
        "runs": [{"workers": r.workers, "jobs": r.jobs, "video_s": r.video_s, "wall_s": round(r.wall_s, 2),
                  "camera_load": round(r.load, 2), "ratio_to_1_worker": round(r.load / base.load, 2),
                  "cpu_pct_per_camera": round(r.cpu_pct_per_camera, 1)} for r in results],
    }


def main(argv: list[str]) -> int:
    summary = __doc__.split("\n\n")[0] if __doc__ else ""
    p = argparse.ArgumentParser(prog="vigil bench recorder-scale", description=summary)
    p.add_argument("--cameras", type=int, default=4)
    p.add_argument("--windows", type=int, default=4, help="10 s windows per camera")
    p.add_argument("--workers", default="1,2", help="worker counts to compare (first is the baseline)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    counts = tuple(int(x) for x in args.workers.split(","))
    result = run(cameras=args.cameras, windows=args.windows, worker_counts=counts)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"recorder scaling: {result['cameras']} cameras x {result['windows_per_camera']} windows of "
          f"{result['segment_s']} s, {result['size']} @ {result['fps']:g} fps, JPEG in -> H.264")
    print(f"{'workers':>8} {'video s':>8} {'wall s':>8} {'camera load':>12} {'vs 1 worker':>12} {'CPU %/camera':>13}")
    for r in result["runs"]:
        print(f"{r['workers']:>8} {r['video_s']:>8.0f} {r['wall_s']:>8.2f} {r['camera_load']:>12.2f} "
              f"{r['ratio_to_1_worker']:>11.2f}x {r['cpu_pct_per_camera']:>12.1f}%")
    print("goal: 2 workers >= 1.7x the camera load of 1 (on 2 cores)")
    return 0
