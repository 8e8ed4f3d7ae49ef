"""``vigil bench noloss``: real cameras -> ingest -> recorder; how many frames end up in recordings.

Default: 8 cameras x 15 fps x 320x240 for 45 s, goal >= 97 % of the frames the cameras sent
inside indexed recordings (docs/benchmarks.md#quality-bars, "no loss"). Everything is a real process on private
infrastructure (a mosquitto and a redis-server on free loopback ports, a throwaway SQLite,
a temporary data directory):

- ``vigil ingest``, ``--recorders`` x ``vigil recorder`` (RQ workers),
- ``--cameras`` x ``vigil capture --source synthetic --fps F --width W --height H``.

After ``--seconds`` the cameras get SIGTERM (each logs its final ``frames sent`` count);
the bench then waits (bounded) until the last windows are closed, enqueued and recorded,
and counts every stage: frames sent by the cameras (the baseline), seen at the broker by a
counting subscriber, landed in Redis (stream ``entries-added``), indexed in ``segments``
(sum of ``frames``), and decoded from the MP4 files with PyAV (which must match the index).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import redis
from paho.mqtt.enums import CallbackAPIVersion

from vigil_bench.ingest import (
    CpuProbe,
    Infra,
    log_problems,
    private_infra,
    service_env,
    spawn_vigil,
    stop_process,
    wait_for_payload,
)
from vigil_common.contract import keys
from vigil_common.contract.messages import ONLINE
from vigil_common.contract.metrics import parse_field
from vigil_common.contract.topics import CameraTopic, Topics

PREFIX = "vbn"
GOAL_PCT = 97.0
_STOPPED = re.compile(r"camera (\S+) stopped: (\d+) frames sent, (\d+) dropped, (\d+) grabbed")


class BrokerCounter:
    """Counts frames per camera as the broker delivers them, and keeps each camera's last
    heartbeat (frames_sent / frames_dropped), on its own paho connection."""

    def __init__(self, mqtt_url: str, prefix: str) -> None:
        from vigil_common.bus.mqtt import parse_mqtt_url

        self.addr = parse_mqtt_url(mqtt_url)
        self.topics = Topics(prefix)
        self.frames: dict[str, int] = defaultdict(int)
        self.heartbeats: dict[str, dict[str, Any]] = {}
        self.ready = threading.Event()
        self._subs = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-noloss-{os.getpid()}",
                                  protocol=mqtt.MQTTv311)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, c: mqtt.Client, _u: Any, _f: Any, _r: Any, _p: Any) -> None:
        c.subscribe([(self.topics.all_cameras(CameraTopic.FRAME), 0),
                     (self.topics.all_cameras(CameraTopic.HEARTBEAT), 1)])

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _m: Any, _r: Any, _p: Any) -> None:
        self.ready.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        if len(parts) != 4:
            return
        cam, kind = parts[2], parts[3]
        if kind == "frame":
            self.frames[cam] += 1
        elif kind == "heartbeat":
            try:
                self.heartbeats[cam] = json.loads(msg.payload)
            except ValueError:
                pass

    def start(self) -> None:
        self.client.connect(self.addr.host, self.addr.port, keepalive=30)
        self.client.loop_start()
        if not self.ready.wait(15):
            raise RuntimeError("counting subscriber did not subscribe")

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def entries_added(client: redis.Redis, camera_id: str) -> int:
    """Frames ever appended to the camera's stream (survives trimming), 0 if none."""
    try:
        info = client.xinfo_stream(keys.frames_stream(camera_id))
    except redis.ResponseError:
        return 0
    return int(info.get("entries-added", info.get("length", 0)))


def wait_recorded(client: redis.Redis, last_frame_s: float, segment_seconds: int, grace_s: float,
                  timeout: float) -> tuple[bool, float]:
    """Wait until every window is closed, enqueued and recorded (bounded); (done, seconds waited)."""
    from rq import Queue

    queue = Queue(keys.RECORDER_QUEUE, connection=client)
    start = time.monotonic()
    earliest = last_frame_s + segment_seconds + grace_s + 1.0  # the last window's close time (wall clock)
    idle_checks = 0
    while time.monotonic() - start < timeout:
        busy = (
            client.zcard(keys.PENDING_WINDOWS)
            + queue.count
            + queue.started_job_registry.count
            + queue.scheduled_job_registry.count
            + queue.deferred_job_registry.count
        )
        if time.time() >= earliest and busy == 0:
            idle_checks += 1
            if idle_checks >= 3:
                return True, time.monotonic() - start
        else:
            idle_checks = 0
        time.sleep(0.5)
    return False, time.monotonic() - start


def decode_count(path: Path) -> int:
    """Frames PyAV decodes from an MP4 (-1 if it cannot be opened/decoded)."""
    import av

    try:
        with av.open(str(path)) as container:
            return sum(1 for _ in container.decode(video=0))
    except (av.error.FFmpegError, OSError):
        return -1


def _failed_jobs(client: redis.Redis) -> list[str]:
    from rq import Queue
    from rq.job import Job

    queue = Queue(keys.RECORDER_QUEUE, connection=client)
    out = []
    for job_id in queue.failed_job_registry.get_job_ids()[:10]:
        job = Job.fetch(job_id, connection=client)
        exc = (job.exc_info or "").strip().splitlines()
        out.append(f"{job_id}: {exc[-1] if exc else '?'}")
    return out


def _by_label(samples: dict[str, int], metric: str, label: str) -> dict[str, int]:
    """Sum the samples of ``metric`` by one label (fields: ``vigil_common.contract.metrics``)."""
    out: dict[str, int] = defaultdict(int)
    for name, value in samples.items():
        sample = parse_field(name)
        if sample is None or sample.metric.name != metric:
            continue
        out[dict(sample.labels).get(label, "")] += value
    return dict(out)


def _metrics(client: redis.Redis, service: str) -> dict[str, int]:
    raw = client.hgetall(keys.metrics_hash(service))
    return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}


def run(
    *,
    cameras: int = 8,
    fps: float = 15.0,
    width: int = 320,
    height: int = 240,
    seconds: float = 45.0,
    segment_seconds: int = 5,
    recorders: int = 1,
    drain_timeout: float = 120.0,
    decode: bool = True,
    keep: bool = False,
    verbose: bool = True,
) -> dict[str, Any]:
    """Run the stack, stream, stop, drain and count; returns every figure (see :func:`main`)."""

    def say(msg: str) -> None:
        if verbose:
            print(msg, flush=True)

    cams = [f"nl-{i:02d}" for i in range(cameras)]
    result: dict[str, Any] = {
        "benchmark": "noloss", "cameras": cameras, "fps": fps, "size": f"{width}x{height}", "seconds": seconds,
        "segment_seconds": segment_seconds, "recorders": recorders, "camera_kind": "vigil capture --source synthetic",
        "cpus": os.cpu_count() or 0, "loadavg_1m_before": round(os.getloadavg()[0], 2),
    }
    grace_s = 2.0
    with private_infra("vigil-bench-noloss-", max_queued_messages=5000, keep=keep) as infra:
        result["versions"] = dict(infra.versions)
        rc = redis.Redis.from_url(infra.redis_url)
        env = service_env(infra, topic_prefix=PREFIX, segment_seconds=str(segment_seconds),
                          segment_grace_s=str(grace_s))
        logs = infra.run_dir / "logs"
        logs.mkdir()
        procs: dict[str, subprocess.Popen[bytes]] = {}
        counter = BrokerCounter(infra.mqtt_url, PREFIX)
        try:
            procs["ingest"] = spawn_vigil(["ingest"], env, logs / "ingest.log", infra.run_dir)
            if not wait_for_payload(infra.mqtt_url, Topics(PREFIX).service_status("ingest"), ONLINE.encode(), 60):
                raise RuntimeError(f"vigil ingest did not come online; see {logs / 'ingest.log'}")
            for i in range(recorders):
                procs[f"recorder-{i}"] = spawn_vigil(["recorder", "--name", f"bench{i}"], env,
                                                     logs / f"recorder-{i}.log", infra.run_dir)
            _wait_workers(rc, recorders, timeout=60)
            counter.start()
            say(f"private mosquitto :{infra.mqtt_port}, redis :{infra.redis_port}; ingest and {recorders} "
                f"recorder(s) up; starting {cameras} cameras for {seconds:g} s ...")
            base_pids = {"mosquitto": infra.pid("mosquitto"), "redis": infra.pid("redis"),
                         "ingest": procs["ingest"].pid, "bench": os.getpid()}
            base_pids.update({n: p.pid for n, p in procs.items() if n.startswith("recorder")})
            for cam in cams:
                procs[cam] = spawn_vigil(
                    ["capture", "--camera-id", cam, "--source", "synthetic", "--fps", f"{fps:g}",
                     "--width", str(width), "--height", str(height), "--name", cam, "--location", "bench"],
                    env, logs / f"{cam}.log", infra.run_dir)
            probe = CpuProbe({**base_pids, **{c: procs[c].pid for c in cams}},
                             tree=[n for n in base_pids if n.startswith("recorder")])
            probe.start()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                dead = [n for n, p in procs.items() if p.poll() is not None]
                if dead:
                    say(f"  WARNING: exited early: {dead}")
                    break
            cpu = probe.stop()
            for cam in cams:  # SIGTERM all at once, then wait: they stop in parallel
                if procs[cam].poll() is None:
                    procs[cam].send_signal(signal.SIGTERM)
            for cam in cams:
                stop_process(procs[cam], timeout=15)
            last_frame_s = time.time()
            say("  cameras stopped; waiting for the last windows to be recorded ...")
            time.sleep(1.0)  # the broker delivers what is in flight
            done, waited = wait_recorded(rc, last_frame_s, segment_seconds, grace_s, drain_timeout)
            result["drained"] = done
            result["drain_wait_s"] = round(waited, 1)
            result.update(_count(infra, rc, cams, logs, counter, decode=decode))
            result["cpu"] = _cpu_summary(cpu, cams, recorders)
            result["failed_jobs"] = _failed_jobs(rc)
            time.sleep(2.5)  # ingest's metrics flush
            ingest_m, recorder_m = _metrics(rc, "ingest"), _metrics(rc, "recorder")
            result["ingest_metrics"] = {
                "dropped": _by_label(ingest_m, "vigil_ingest_dropped_total", "reason"),
                "rejected": _by_label(ingest_m, "vigil_ingest_rejected_total", "reason"),
            }
            result["recorder_metrics"] = {
                "segments": _by_label(recorder_m, "vigil_recorder_segments_total", "status"),
                "frames_dropped": _by_label(recorder_m, "vigil_recorder_frames_dropped_total", "reason"),
            }
        finally:
            if counter.ready.is_set():
                counter.stop()
            for name in reversed(list(procs)):
                stop_process(procs[name], timeout=20)
            result["log_problems"] = {}
            for path in sorted(logs.glob("*.log")):
                n, sample = log_problems(path, limit=4)
                if n:
                    result["log_problems"][path.stem] = {"lines": n, "sample": sample}
            rc.close()
    result["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    return result


def _wait_workers(client: redis.Redis, n: int, timeout: float) -> None:
    from rq import Worker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(Worker.all(connection=client)) >= n:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{n} recorder worker(s) did not register within {timeout:g} s")


def _cpu_summary(cpu: dict[str, float], cams: list[str], recorders: int) -> dict[str, float]:
    out = {k: v for k, v in cpu.items() if k not in cams and not k.startswith("recorder")}
    out["cameras_total"] = round(sum(cpu.get(c, 0.0) for c in cams), 1)
    out["recorders_total"] = round(sum(cpu.get(f"recorder-{i}", 0.0) for i in range(recorders)), 1)
    return out


def _count(infra: Infra, rc: redis.Redis, cams: list[str], logs: Path, counter: BrokerCounter, *,
           decode: bool) -> dict[str, Any]:
    from sqlalchemy import select

    from vigil_common.db.engine import make_engine, make_sessionmaker
    from vigil_common.db.models import Segment

    per: dict[str, dict[str, Any]] = {}
    for cam in cams:
        text = (logs / f"{cam}.log").read_text(errors="replace") if (logs / f"{cam}.log").exists() else ""
        match = _STOPPED.search(text)
        hb = counter.heartbeats.get(cam, {})
        if match:
            sent, dropped, grabbed, source = int(match[2]), int(match[3]), int(match[4]), "exit log"
        else:  # killed: fall back to its last heartbeat
            sent, dropped, grabbed = int(hb.get("frames_sent", 0)), int(hb.get("frames_dropped", 0)), -1
            source = "last heartbeat"
        per[cam] = {"sent": sent, "camera_dropped": dropped, "grabbed": grabbed, "sent_from": source,
                    "broker": counter.frames.get(cam, 0), "redis": entries_added(rc, cam),
                    "segments": 0, "indexed": 0, "decoded": 0, "recorded_s": 0.0}
    engine = make_engine(infra.database_url)
    mismatches: list[str] = []
    try:
        with make_sessionmaker(engine)() as db:
            rows = db.scalars(select(Segment).where(Segment.camera_id.in_(cams)).order_by(Segment.start)).all()
    finally:
        engine.dispose()
    decode_s = time.monotonic()
    for row in rows:
        p = per[row.camera_id]
        p["segments"] += 1
        p["indexed"] += row.frames
        p["recorded_s"] += row.duration_s
        if decode:
            n = decode_count(infra.data_dir / row.path)
            p["decoded"] += max(0, n)
            if n != row.frames:
                mismatches.append(f"{row.path}: index {row.frames}, decoded {n}")
    decode_s = time.monotonic() - decode_s
    for p in per.values():
        p["recorded_s"] = round(p["recorded_s"], 1)
        p["pct"] = round(100 * p["indexed"] / p["sent"], 2) if p["sent"] else 0.0
    totals = {k: sum(p[k] for p in per.values())
              for k in ("sent", "camera_dropped", "broker", "redis", "segments", "indexed", "decoded")}
    pct = 100 * totals["indexed"] / totals["sent"] if totals["sent"] else 0.0
    return {
        "per_camera": per,
        "totals": totals,
        "recorded_pct": round(pct, 2),
        "min_camera_pct": min((p["pct"] for p in per.values()), default=0.0),
        "goal_pct": GOAL_PCT,
        "pass": pct >= GOAL_PCT and not mismatches,
        "decoded": decode,
        "decode_mismatches": mismatches[:20],
        "decode_mismatch_count": len(mismatches),
        "decode_s": round(decode_s, 1),
    }


def format_table(r: dict[str, Any]) -> str:
    t = r["totals"]
    sent = t["sent"] or 1

    def pct(n: int) -> str:
        return f"{100 * n / sent:8.2f} %"

    verdict = "PASS" if r["pass"] else "FAIL"
    lines = [
        "",
        f"noloss benchmark: {r['cameras']} x `{r['camera_kind']}` {r['size']} @ {r['fps']:g} fps for "
        f"{r['seconds']:g} s, {r['segment_seconds']} s segments, {r['recorders']} recorder worker(s); "
        f"{r['cpus']} CPUs, load {r['loadavg_1m_before']} -> {r['loadavg_1m_after']}",
        "",
        f"  {'stage':<44}{'frames':>9}{'of sent':>12}",
        f"  {'sent by the cameras (baseline)':<44}{t['sent']:>9}{pct(t['sent'])}",
        f"  {'seen at the broker (counting subscriber)':<44}{t['broker']:>9}{pct(t['broker'])}",
        f"  {'landed in Redis (stream entries-added)':<44}{t['redis']:>9}{pct(t['redis'])}",
        f"  {'indexed in segments (sum of frames)':<44}{t['indexed']:>9}{pct(t['indexed'])}"
        f"   goal >= {r['goal_pct']:g} %  {verdict}",
    ]
    if r["decoded"]:
        lines.append(f"  {'decoded from the MP4s (PyAV)':<44}{t['decoded']:>9}{pct(t['decoded'])}"
                     f"   {r['decode_mismatch_count']} index/decode mismatches")
    lines += [
        f"  (cameras also dropped {t['camera_dropped']} frames before sending: not in the baseline)",
        f"  {t['segments']} segments; drain after stop {r['drain_wait_s']} s "
        f"({'complete' if r['drained'] else 'TIMED OUT'}); lowest camera {r['min_camera_pct']} %",
        "",
        f"  {'camera':<8}{'sent':>7}{'cam drop':>9}{'broker':>8}{'redis':>8}{'indexed':>9}{'decoded':>9}"
        f"{'segs':>6}{'rec s':>7}{'%':>8}",
    ]
    for cam, p in r["per_camera"].items():
        lines.append(f"  {cam:<8}{p['sent']:>7}{p['camera_dropped']:>9}{p['broker']:>8}{p['redis']:>8}"
                     f"{p['indexed']:>9}{p['decoded']:>9}{p['segments']:>6}{p['recorded_s']:>7}{p['pct']:>8}")
    lines += ["", "  CPU % of one core while streaming: " + " ".join(f"{k}={v:.0f}" for k, v in r["cpu"].items())]
    if r["decode_mismatches"]:
        lines += ["  mismatches:"] + [f"    {m}" for m in r["decode_mismatches"][:5]]
    if r["failed_jobs"]:
        lines += ["  failed recorder jobs:"] + [f"    {j}" for j in r["failed_jobs"]]
    im, rm = r["ingest_metrics"], r["recorder_metrics"]
    lines.append(f"  ingest counters: dropped {im['dropped'] or 0}, rejected {im['rejected'] or 0}; recorder: "
                 f"segments {rm['segments'] or 0}, frames dropped {rm['frames_dropped'] or 0}")
    if r["log_problems"]:
        lines.append("  warnings/errors in service logs:")
        for name, info in r["log_problems"].items():
            lines.append(f"    {name}: {info['lines']} lines, e.g. {info['sample'][0]}")
    else:
        lines.append("  no warnings or errors in the service logs")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="vigil bench noloss", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--cameras", type=int, default=8)
    p.add_argument("--fps", type=float, default=15.0)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--seconds", type=float, default=45.0, help="how long the cameras stream")
    p.add_argument("--segment-seconds", type=int, default=5, help="VIGIL_SEGMENT_SECONDS for the run")
    p.add_argument("--recorders", type=int, default=1, help="recorder worker processes")
    p.add_argument("--drain-timeout", type=float, default=120.0, help="longest wait for the last segments, s")
    p.add_argument("--no-decode", dest="decode", action="store_false", help="skip decoding the MP4s")
    p.add_argument("--keep", action="store_true", help="keep the run directory (logs, MP4s, database)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    if args.cameras < 1 or args.recorders < 1 or args.seconds <= 0 or args.fps <= 0:
        p.error("cameras, recorders, seconds and fps must be positive")
    if not 2 <= args.segment_seconds <= 600:
        p.error("--segment-seconds must be in 2..600")
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    result = run(cameras=args.cameras, fps=args.fps, width=args.width, height=args.height, seconds=args.seconds,
                 segment_seconds=args.segment_seconds, recorders=args.recorders, drain_timeout=args.drain_timeout,
                 decode=args.decode, keep=args.keep, verbose=not args.json)
    print(json.dumps(result, indent=2, default=str) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
