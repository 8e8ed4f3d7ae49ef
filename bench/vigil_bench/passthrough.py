"""``vigil bench passthrough``: server CPU per camera for H.264 from the camera (remux only) vs
the JPEG path (re-encode), against ``ffmpeg -c copy -f segment`` recording the same streams.

Everything runs on private infrastructure (a mosquitto and a redis-server on free loopback
ports, a throwaway SQLite registry, a temporary data directory) with the real ``vigil ingest``
and ``vigil recorder`` processes. The cameras are replayed by this process at real time over
raw MQTT sockets (cheap, so the figure is the server's, not the load generator's):

1. **h264**: ``--cameras`` x 1080p30 H.264, pre-encoded once with libx264 (``veryfast``, a
   keyframe every 2 s, ~``--kbps`` kbit/s like an IP camera's main stream), as VGF1 codec 2,
   recorded as by default (lasting work horses); then the same with a work horse forked per job
   (``VIGIL_RECORDER_HORSE_JOBS=1``, RQ's way) and with the jobs in the worker's own process
   (``VIGIL_RECORDER_JOBS_IN_PROCESS=true``);
2. **jpeg**: ``--jpeg-cameras`` x the same pictures as 1080p JPEG (the path every camera took
   before), re-encoded by the recorder;
3. **floor**: ``--cameras`` x ``ffmpeg -rtsp_transport tcp -i rtsp://... -c copy -f segment``
   (imageio-ffmpeg's binary), each pulling the same H.264 at real time from an RTSP camera
   (gst-rtsp-server from Debian's python3 serving the clip, ``rtsp_file_camera.py``; its CPU is
   the camera's, not counted): what Frigate-style recording costs, issue 14's floor;
4. **file floor**: ``--cameras`` x ``ffmpeg -re -stream_loop -1 -i stream.mp4 -c copy -f segment``:
   a local file, no RTSP/RTP to undo, so a floor below any real camera's (kept for comparison with
   the earlier figures in docs/benchmarks.md).
   Each ffmpeg uses well under 1 % of a core, so its CPU is read in nanoseconds of run time
   (``/proc/<pid>/task/*/schedstat``), not in /proc's 10 ms ticks, and summed before rounding (the
   tick-based figure moved by 40 % between runs).

Each replayed camera also sends the motion scores ``vigil capture`` would (measured once on the
pictures with the capture's own sampler, 2 per second), so the recorder decodes nothing for motion,
as with real cameras (docs/protocol.md#motion-at-the-edge).

For each phase: CPU of mosquitto + redis-server + ingest + recorder (with its work horses) over
the steady state, as % of one core per camera; bytes per second per camera through the broker
(and so into Redis); and, afterwards, frames published vs frames indexed (remux only: none may
be lost between segments). Ratios: h264 per camera / RTSP floor per camera (goal <= 3), the same
over the file floor, and cameras per core (goal >= 40).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import redis

from vigil_bench.ingest import (
    CpuProbe,
    RawPublisher,
    private_infra,
    service_env,
    spawn_vigil,
    stop_process,
    wait_for_payload,
)
from vigil_bench.noloss import _wait_workers, wait_recorded
from vigil_common.contract import h264
from vigil_common.contract.envelope import HEADER, MAGIC, VERSION, Codec
from vigil_common.contract.messages import ONLINE, MotionConfig, MotionScore
from vigil_common.contract.topics import Topics

PREFIX = "vbp"
FPS = 30
GOP_S = 2.0
# The H.264 phases: result key, label, recorder settings (VIGIL_ names without the prefix).
H264_VARIANTS: list[tuple[str, str, dict[str, str]]] = [
    ("h264", "remux only, lasting work horses", {}),
    ("h264_fork_per_job", "a work horse forked per job", {"recorder_horse_jobs": "1"}),
    ("h264_in_process", "jobs in the worker's process", {"recorder_jobs_in_process": "true"}),
]


@dataclass(frozen=True, slots=True)
class Clip:
    """One GOP-aligned loop of a camera's stream: payloads and keyframe flags."""

    codec: Codec
    width: int
    height: int
    frames: list[bytes]
    keyframes: list[bool]

    @property
    def bytes_per_s(self) -> float:
        return sum(len(f) for f in self.frames) * FPS / len(self.frames)


def _pictures(count: int, width: int, height: int) -> list[np.ndarray]:
    """A scene with texture and motion (a street-like gradient, moving noise blocks, a clock bar),
    so the encoders do real work."""
    rng = np.random.default_rng(7)
    base = np.tile(np.linspace(40, 200, width, dtype=np.uint8), (height, 1))
    base = np.dstack([base, np.roll(base, width // 3, axis=1), np.flipud(base)])
    texture = rng.integers(0, 40, (height, width, 3), dtype=np.uint8)
    out = []
    for i in range(count):
        img = base + np.roll(texture, i * 4, axis=1)
        x = (i * 17) % (width - 240)
        img[300:540, x:x + 240] = rng.integers(0, 255, (240, 240, 3), dtype=np.uint8)
        img[height - 40:, : (i * 13) % width] = 255
        out.append(img)
    return out


def encode_h264(pictures: list[np.ndarray], kbps: int) -> Clip:
    import av
    from av.video.codeccontext import VideoCodecContext
    from av.video.frame import VideoFrame

    height, width = pictures[0].shape[:2]
    cc = av.CodecContext.create("libx264", "w")
    assert isinstance(cc, VideoCodecContext)
    cc.width, cc.height, cc.pix_fmt = width, height, "yuv420p"
    cc.time_base, cc.framerate = Fraction(1, FPS), Fraction(FPS)
    cc.gop_size, cc.max_b_frames = int(FPS * GOP_S), 0
    cc.bit_rate = kbps * 1000
    cc.options = {"preset": "veryfast", "tune": "zerolatency", "sc_threshold": "0", "keyint_min": str(int(FPS * GOP_S))}
    frames: list[bytes] = []
    for i, img in enumerate(pictures):
        pic = VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
        pic.pts = i
        frames += [bytes(p) for p in cc.encode(pic)]
    frames += [bytes(p) for p in cc.encode(None)]
    return Clip(Codec.H264, width, height, frames, [h264.can_start_segment(f) for f in frames])


def encode_jpeg(pictures: list[np.ndarray], quality: int = 80) -> Clip:
    import cv2

    height, width = pictures[0].shape[:2]
    frames = [cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes() for img in pictures]
    return Clip(Codec.JPEG, width, height, frames, [True] * len(frames))


class Replayer:
    """Publishes every camera's clip in a loop at ``FPS`` in real time (one thread, 1 socket
    per camera), counting frames and bytes."""

    def __init__(self, host: str, port: int, cameras: list[str], clip: Clip,
                 scores: list[tuple[float, bool] | None] | None = None) -> None:
        self.pubs = {cam: RawPublisher(host, port, f"bench-pt-{cam}") for cam in cameras}
        self.topics = {cam: Topics(PREFIX).frame(cam).encode() for cam in cameras}
        self.score_topics = {cam: Topics(PREFIX).motion_score(cam).encode() for cam in cameras}
        self.clip = clip
        self.scores = scores or []
        self.sent = 0
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for pub in self.pubs.values():
            pub.close()

    def _run(self) -> None:
        period = 1.0 / FPS
        start = time.monotonic()
        n = 0
        clip = self.clip
        while not self._stop.is_set():
            due = start + n * period
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            i = n % len(clip.frames)
            payload = clip.frames[i]
            now_ns = time.time_ns()
            for cam, pub in self.pubs.items():
                header = HEADER.pack(MAGIC, VERSION, int(clip.codec), 1 if clip.keyframes[i] else 0, 0, n, now_ns,
                                     clip.width, clip.height)
                pub.publish(self.topics[cam], header, payload)
                self.sent += 1
                self.bytes += len(header) + len(payload)
            sample = self.scores[i] if i < len(self.scores) else None
            if sample is not None:
                doc = MotionScore(seq=n, capture_ns=now_ns, score=sample[0], hot=sample[1]).model_dump_json().encode()
                for cam, pub in self.pubs.items():
                    pub.publish(self.score_topics[cam], doc)
            n += 1


def edge_scores(pictures: list[np.ndarray], sample_fps: float = 2.0) -> list[tuple[float, bool] | None]:
    """What a capture process would publish for these pictures: per frame index, the motion score
    of the sampled frames (the capture's own sampler, on the raw pictures), None for the rest."""
    from vigil_capture.edge_motion import EdgeMotion

    out: list[tuple[float, bool] | None] = [None] * len(pictures)
    motion = EdgeMotion(lambda _score: None, MotionConfig(sample_fps=sample_fps))
    for lap in range(2):  # the first lap only teaches the background, as the clip loops
        for i, img in enumerate(pictures):
            capture_ns = (lap * len(pictures) + i) * 1_000_000_000 // FPS
            if motion.due(capture_ns):
                measured = motion.observe_bgr(img, i, capture_ns)
                if lap and measured is not None:
                    out[i] = (measured.score, measured.hot)
    return out


def _indexed_frames(database_url: str) -> int:
    from sqlalchemy import func, select

    from vigil_common.db.engine import make_engine, make_sessionmaker
    from vigil_common.db.models import Segment

    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as db:
            return int(db.scalar(select(func.coalesce(func.sum(Segment.frames), 0))) or 0)
    finally:
        engine.dispose()


def run_server_phase(clip: Clip, cameras: int, seconds: float, warmup_s: float, say: Any,
                     scores: list[tuple[float, bool] | None] | None = None,
                     **settings: str) -> dict[str, Any]:
    """The real stack recording ``cameras`` replayed cameras; CPU over the steady state."""
    segment_seconds, grace_s = 10, 2.0
    cams = [f"pt-{clip.codec.name.lower()}-{i:02d}" for i in range(cameras)]
    out: dict[str, Any] = {"cameras": cameras}
    with private_infra("vigil-bench-pt-", max_queued_messages=5000) as infra:
        env = service_env(infra, topic_prefix=PREFIX, segment_seconds=str(segment_seconds),
                          segment_grace_s=str(grace_s), motion_sample_fps="2", snapshot_interval_s="60", **settings)
        logs = infra.run_dir / "logs"
        logs.mkdir()
        rc = redis.Redis.from_url(infra.redis_url)
        procs: dict[str, subprocess.Popen[bytes]] = {}
        replayer: Replayer | None = None
        try:
            procs["ingest"] = spawn_vigil(["ingest"], env, logs / "ingest.log", infra.run_dir)
            if not wait_for_payload(infra.mqtt_url, Topics(PREFIX).service_status("ingest"), ONLINE.encode(), 60):
                raise RuntimeError(f"vigil ingest did not come online; see {logs / 'ingest.log'}")
            procs["recorder"] = spawn_vigil(["recorder", "--name", "bench"], env, logs / "recorder.log", infra.run_dir)
            _wait_workers(rc, 1, timeout=60)
            replayer = Replayer("127.0.0.1", infra.mqtt_port, cams, clip, scores)
            replayer.start()
            say(f"  {cameras} x {clip.width}x{clip.height}@{FPS} {clip.codec.name}: warming up {warmup_s:g} s ...")
            time.sleep(warmup_s)
            probe = CpuProbe({"mosquitto": infra.pid("mosquitto"), "redis": infra.pid("redis"),
                              "ingest": procs["ingest"].pid, "recorder": procs["recorder"].pid}, tree=["recorder"])
            sent0, bytes0, t0 = replayer.sent, replayer.bytes, time.monotonic()
            probe.start()
            time.sleep(seconds)
            cpu = probe.stop()
            elapsed = time.monotonic() - t0
            sent, sent_bytes = replayer.sent - sent0, replayer.bytes - bytes0
            replayer.stop()
            published = replayer.sent
            replayer = None
            last = time.time()
            done, _ = wait_recorded(rc, last, segment_seconds, grace_s, timeout=180)
            server = sum(cpu[k] for k in ("mosquitto", "redis", "ingest", "recorder"))
            out.update({
                "cpu_pct": {k: cpu[k] for k in ("mosquitto", "redis", "ingest", "recorder", "machine")},
                "server_pct_per_camera": round(server / cameras, 2),
                "fps_published_per_camera": round(sent / elapsed / cameras, 1),
                "bytes_per_s_per_camera": round(sent_bytes / elapsed / cameras),
                "published": published, "indexed": _indexed_frames(infra.database_url), "drained": done,
            })
        finally:
            if replayer is not None:
                replayer.stop()
            for name in reversed(list(procs)):
                stop_process(procs[name], timeout=20)
            rc.close()
    return out


def run_time_ns(pid: int) -> int:
    """Nanoseconds ``pid`` has run on a CPU, all its threads (``/proc/<pid>/task/*/schedstat``)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total


GST_PYTHON = os.environ.get("VIGIL_BENCH_GST_PYTHON", "/usr/bin/python3")
RTSP_CAMERA_SCRIPT = Path(__file__).with_name("rtsp_file_camera.py")


def _measure_floor(procs: list[subprocess.Popen[bytes]], seconds: float, warmup_s: float) -> float:
    """% of one core the ``procs`` use together over ``seconds`` after ``warmup_s``.

    Each ffmpeg uses well under 1 % of a core: /proc's 10 ms ticks (and a figure rounded per
    process) would be off by tens of per cent, so the floor is read in nanoseconds of run time
    (schedstat, every thread) and summed before anything is rounded."""
    time.sleep(warmup_s)
    t0, before = time.monotonic(), [run_time_ns(p.pid) for p in procs]
    time.sleep(seconds)
    after, elapsed = [run_time_ns(p.pid) for p in procs], time.monotonic() - t0
    return 100 * sum(a - b for a, b in zip(after, before, strict=True)) / 1e9 / elapsed


def _clip_mp4(ffmpeg: str, clip: Clip, work: Path, loops: int = 0) -> Path:
    """The clip in an MP4 (no re-encode), ``loops`` more times after itself (ffmpeg cannot loop
    a raw H.264 stream)."""
    raw, once, stream = work / "stream.h264", work / "once.mp4", work / "stream.mp4"
    raw.write_bytes(b"".join(clip.frames))
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-framerate", str(FPS), "-f", "h264",
                    "-i", str(raw), "-c", "copy", str(once)], check=True, stdin=subprocess.DEVNULL)
    if not loops:
        return once
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", str(loops),
                    "-i", str(once), "-c", "copy", str(stream)], check=True, stdin=subprocess.DEVNULL)
    return stream


def _segmenter(ffmpeg: str, source: list[str], out: Path) -> subprocess.Popen[bytes]:
    out.mkdir()
    return subprocess.Popen(
        [ffmpeg, "-hide_banner", "-loglevel", "error", *source, "-c", "copy", "-f", "segment", "-segment_time", "10",
         "-reset_timestamps", "1", str(out / "%05d.mp4")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _floor_result(work: Path, procs: list[subprocess.Popen[bytes]], total_pct: float, **extra: Any) -> dict[str, Any]:
    segments = sum(1 for _ in work.glob("cam*/*.mp4"))
    if not segments:
        raise RuntimeError("the ffmpeg floor wrote no segment")
    alive = sum(1 for p in procs if p.returncode in (None, 0, -15, 255))
    return {"cameras": len(procs), "pct_per_camera": round(total_pct / len(procs), 4), "segments": segments,
            "processes_ok": alive, **extra}


def run_file_floor(clip: Clip, cameras: int, seconds: float, warmup_s: float) -> dict[str, Any]:
    """``cameras`` x ffmpeg -re -stream_loop -1 -i stream.mp4 -c copy -f segment: a local file,
    no RTSP or RTP to undo, so below any real camera's floor."""
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-floor-"))
    try:
        stream = _clip_mp4(ffmpeg, clip, work)
        procs = [_segmenter(ffmpeg, ["-re", "-stream_loop", "-1", "-i", str(stream)], work / f"cam{i}")
                 for i in range(cameras)]
        try:
            total = _measure_floor(procs, seconds, warmup_s)
        finally:
            for p in procs:
                stop_process(p, timeout=10)
        return _floor_result(work, procs, total)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def rtsp_unavailable() -> str | None:
    """Why the RTSP cameras (gst-rtsp-server from Debian's python3) cannot run here, or None."""
    probe = ("import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
             "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
             "raise SystemExit(any(Gst.ElementFactory.find(e) is None for e in ('qtdemux', 'rtph264pay')))")
    try:
        done = subprocess.run([GST_PYTHON, "-c", probe], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {GST_PYTHON}: {exc}"
    if done.returncode:
        return f"no gst-rtsp-server with qtdemux and rtph264pay for {GST_PYTHON} (run scripts/ensure-rtsp-server.sh)"
    return None


def run_rtsp_floor(clip: Clip, cameras: int, seconds: float, warmup_s: float) -> dict[str, Any]:
    """The issue's floor: ``cameras`` x ``ffmpeg -rtsp_transport tcp -i rtsp://... -c copy -f
    segment``, each pulling the same H.264 from an RTSP camera (gst-rtsp-server serving the clip
    at real time, one pipeline per client; its CPU is the camera's and is not counted)."""
    import imageio_ffmpeg

    from vigil_common.cli.embedded import free_port, wait_port

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-rtsp-floor-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        # Long enough for the warm-up, the measurement and a margin: no client reaches the end.
        loops = int((warmup_s + seconds + 20) * FPS / len(clip.frames)) + 1
        stream = _clip_mp4(ffmpeg, clip, work, loops)
        port = free_port()
        with (work / "camera.log").open("wb") as log:
            server = subprocess.Popen([GST_PYTHON, str(RTSP_CAMERA_SCRIPT), "--port", str(port), "--file", str(stream)],
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        if not wait_port(port, timeout=20):
            raise RuntimeError(f"the RTSP camera did not listen: {(work / 'camera.log').read_text()[-500:]}")
        url = f"rtsp://127.0.0.1:{port}/cam"
        procs = [_segmenter(ffmpeg, ["-rtsp_transport", "tcp", "-i", url], work / f"cam{i}") for i in range(cameras)]
        try:
            total = _measure_floor(procs, seconds, warmup_s)
        finally:
            for p in procs:
                stop_process(p, timeout=10)
        return _floor_result(work, procs, total, source="gst-rtsp-server, RTP over the RTSP connection (TCP)")
    finally:
        if server is not None:
            stop_process(server, timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def run(*, cameras: int = 8, jpeg_cameras: int = 1, seconds: float = 40.0, warmup_s: float = 25.0,
        kbps: int = 4000, verbose: bool = True) -> dict[str, Any]:
    def say(msg: str) -> None:
        if verbose:
            print(msg, flush=True)

    say(f"encoding {int(FPS * GOP_S * 2)} frames of 1920x1080 (H.264 ~{kbps} kbit/s, and JPEG) ...")
    pictures = _pictures(int(FPS * GOP_S * 2), 1920, 1080)
    h264_clip, jpeg_clip = encode_h264(pictures, kbps), encode_jpeg(pictures)
    scores = edge_scores(pictures)
    result: dict[str, Any] = {
        "benchmark": "passthrough", "size": "1920x1080", "fps": FPS, "gop_s": GOP_S, "seconds": seconds,
        "cpus": os.cpu_count() or 0, "loadavg_1m_before": round(os.getloadavg()[0], 2),
        "h264_kbit_s": round(h264_clip.bytes_per_s * 8 / 1000), "jpeg_kbit_s": round(jpeg_clip.bytes_per_s * 8 / 1000),
    }
    reason = rtsp_unavailable()
    if reason is None:
        say("phase floor: ffmpeg -rtsp_transport tcp -i rtsp://... -c copy -f segment ...")
        result["floor"] = run_rtsp_floor(h264_clip, cameras, seconds, warmup_s=5.0)
    else:
        say(f"phase floor: skipped, {reason}")
        result["floor"] = {"cameras": cameras, "pct_per_camera": None, "skipped": reason}
    say("phase file floor: ffmpeg -re -i file.mp4 -c copy -f segment ...")
    result["file_floor"] = run_file_floor(h264_clip, cameras, seconds, warmup_s=5.0)
    for key, label, extra in H264_VARIANTS:
        say(f"phase h264, {label} ...")
        result[key] = run_server_phase(h264_clip, cameras, seconds, warmup_s, say, scores, **extra)
    if jpeg_cameras > 0:  # --jpeg-cameras 0 skips the (slow, well-known) JPEG phase
        say("phase jpeg: re-encode ...")
        result["jpeg"] = run_server_phase(jpeg_clip, jpeg_cameras, seconds, warmup_s, say, scores)
    h, f = result["h264"]["server_pct_per_camera"], result["floor"]["pct_per_camera"]
    ff = result["file_floor"]["pct_per_camera"]
    j = result["jpeg"]["server_pct_per_camera"] if "jpeg" in result else 0
    ratios: dict[str, Any] = {}
    for key, _label, _extra in H264_VARIANTS:
        v = result[key]["server_pct_per_camera"]
        ratios[f"{key}_vs_floor"] = round(v / f, 2) if f else None
        ratios[f"{key}_vs_file_floor"] = round(v / ff, 2) if ff else None
        ratios[f"{key}_cameras_per_core"] = round(100 / v, 1) if v else None
    ratios["jpeg_vs_h264"] = round(j / h, 1) if h and j else None
    ratios["bytes_jpeg_vs_h264"] = (round(result["jpeg"]["bytes_per_s_per_camera"]
                                          / max(1, result["h264"]["bytes_per_s_per_camera"]), 1)
                                    if "jpeg" in result else None)
    result["ratios"] = ratios
    result["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    return result


def format_table(r: dict[str, Any]) -> str:
    f, ff, ratios = r["floor"], r["file_floor"], r["ratios"]
    j = r.get("jpeg", {"cameras": 0, "server_pct_per_camera": "-", "bytes_per_s_per_camera": "-",
                       "published": "-", "indexed": "-"})
    rows = [(f"h264 ({label})", r[key]) for key, label, _extra in H264_VARIANTS] + [("jpeg (re-encode)", j)]
    lines = [
        f"1080p{r['fps']} cameras, {r['seconds']:g} s measured, {r['cpus']} CPUs; H.264 {r['h264_kbit_s']} kbit/s, "
        f"JPEG {r['jpeg_kbit_s']} kbit/s",
        f"{'path':<40}{'cams':>5}{'server %core/cam':>18}{'bytes/s/cam':>14}{'published':>11}{'indexed':>9}",
        *(f"{name:<40}{p['cameras']:>5}{p['server_pct_per_camera']:>18}{p['bytes_per_s_per_camera']:>14}"
          f"{p['published']:>11}{p['indexed']:>9}" for name, p in rows),
        f"{'ffmpeg -c copy from RTSP (floor)':<40}{f['cameras']:>5}{f['pct_per_camera'] or f.get('skipped'):>18}",
        f"{'ffmpeg -c copy from a file':<40}{ff['cameras']:>5}{ff['pct_per_camera']:>18}",
        *(f"h264 ({label}): {ratios[key + '_vs_floor'] or '-'}x the RTSP floor (goal <= 3), "
          f"{ratios[key + '_vs_file_floor']}x the file floor, "
          f"{ratios[key + '_cameras_per_core']} cameras per core (goal >= 40); cpu {r[key]['cpu_pct']}"
          for key, label, _extra in H264_VARIANTS),
        (f"jpeg / h264: {ratios['jpeg_vs_h264']}x" if ratios["jpeg_vs_h264"]
         else "jpeg: not measured (--jpeg-cameras 0)"),
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="vigil bench passthrough", description=__doc__.split("\n\n")[0])
    p.add_argument("--cameras", type=int, default=8)
    p.add_argument("--jpeg-cameras", type=int, default=1)
    p.add_argument("--seconds", type=float, default=40.0)
    p.add_argument("--warmup", type=float, default=25.0)
    p.add_argument("--kbps", type=int, default=4000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = run(cameras=args.cameras, jpeg_cameras=args.jpeg_cameras, seconds=args.seconds, warmup_s=args.warmup,
                 kbps=args.kbps, verbose=not args.json)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0
