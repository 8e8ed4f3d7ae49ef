"""``vigil bench ingest``: ingest throughput and publish -> Redis latency, each against a raw
baseline measured in the same run (docs/benchmarks.md#quality-bars).

Everything runs on private infrastructure started for the run and removed afterwards: a
``mosquitto`` and a ``redis-server`` on free loopback ports, a throwaway SQLite registry, a
temporary data directory. The real ingest service runs as a subprocess (``vigil ingest``).

Phases:

1. **Throughput** (100 KB frames: a VGF1 envelope around a real ~100 KB 1280x720 JPEG).
   A closed-loop publisher in this process keeps at most ``--window`` frames outstanding
   (published but not yet counted by the consumer) and otherwise publishes as fast as it can,
   so the consumer runs flat out while neither the broker's queue (``max_queued_messages``)
   nor ingest's queue can overflow. Consumers, in alternating rounds (ABC CBA ...), after one
   unmeasured warm-up round; the consumers that store run unmeasured for ingest's buffer + 1 s
   first (``--store-warmup``), so their streams trim as fast as they grow when measured:

   - *bare*: a paho subscriber (CallbackAPIVersion.VERSION2) in a child process that only
     counts messages (shared-memory counter) -- the baseline of the quality bar;
   - *ingest*: ``vigil ingest``, counted as entries landed in the Redis streams (the lag of a
     consumer group that never reads: ``entries-added``, which trimming does not lower);
   - *bare_xadd* (diagnostic): paho subscriber + one thread XADDing in pipelined batches of
     128, trimmed by time like ingest, i.e. ingest's shape without validation, registry,
     metrics or window marks.

   frames/s = consumed in the measured interval / its length; ratio = ingest / bare (goal
   >= 0.7), the median of per-round ratios. Frames lost = published - consumed after the round
   drained. CPU per process and Redis server time per command (INFO commandstats) are
   reported, to say where the time goes.
2. **Loss below saturation**: an open-loop publisher paced in 10 ms bursts at
   ``--loss-fraction`` (50 %) of the bare rate, then of ingest's own measured rate, for
   ``--loss-seconds`` each; published vs landed in Redis (stream ``entries-added``), with
   ingest's overload counter and the broker's ``$SYS/broker/publish/messages/dropped`` to say
   where any loss happened. Goal: 0 lost.
3. **Latency**: ``--cameras`` x ``--fps`` (16 x 30), one publisher thread and one MQTT
   connection per camera, ~40 KB 1280x720 JPEG frames, capture_ns stamped at publish.
   Latency = Redis stream entry id (Redis's arrival clock, 1 ms resolution, truncated) -
   capture time, same machine clock. Baseline: a bare paho subscriber (child process) doing
   one XADD per message into the same Redis. Goal: ingest p99 <= 50 ms.

Ingest runs with ``VIGIL_STREAM_BUFFER_S=10`` for phases 1-2 (bounded Redis memory) and is
restarted with a buffer longer than phase 3 for the latency run (entries are read afterwards).

The publisher is a minimal MQTT 3.1.1 QoS 0 client over a blocking socket (a load generator,
not the product), so it costs as little CPU as possible on a small machine; it is the same
for every consumer. CPU time of every process is sampled per phase from /proc, with the whole
machine's busy time, so load from other users of the machine shows up in the output
(``others``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import redis
from paho.mqtt.enums import CallbackAPIVersion

from vigil_common.cli.embedded import find_binary, free_port, wait_port
from vigil_common.contract import keys
from vigil_common.contract.envelope import HEADER, MAGIC, VERSION, Codec
from vigil_common.contract.metrics import parse_field
from vigil_common.contract.topics import Topics

INGEST_PREFIX = "vbi"  # topic prefix ingest listens on
BARE_PREFIX = "vbb"  # topic prefix of the baselines (same length: same packet sizes)
THROUGHPUT_GOAL = 0.7
LATENCY_GOAL_P99_MS = 50.0
# Ingest's Redis buffer in phases 1-2: the shortest it allows, so Redis memory stays bounded.
BUFFER_S = 10
POLL_S = 0.005  # how often the closed-loop publisher reads the consumer's count

_CTX = mp.get_context("spawn")  # never fork a process that has paho/redis threads


# --------------------------------------------------------------------------------------------
# private infrastructure (shared with bench_noloss)
# --------------------------------------------------------------------------------------------
@dataclass
class Infra:
    """A private mosquitto + redis-server + SQLite registry in ``run_dir``."""

    run_dir: Path
    mqtt_port: int = 0
    redis_port: int = 0
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.run_dir / 'vigil.db'}"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def start(self, *, max_queued_messages: int, redis_maxmemory: str = "6gb") -> None:
        mosquitto = find_binary("mosquitto")
        redis_server = find_binary("redis-server")
        if not mosquitto or not redis_server:
            raise RuntimeError("the benchmarks need mosquitto and redis-server installed (apt install mosquitto "
                               "redis-server)")
        self.versions = {"mosquitto": _version([mosquitto, "-h"]), "redis-server": _version([redis_server, "-v"])}
        self.mqtt_port = free_port()
        conf = self.run_dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            f"max_queued_messages {max_queued_messages}\nsys_interval 1\n"
            f"log_dest file {self.run_dir / 'mosquitto.log'}\nlog_type error\nlog_type warning\n"
        )
        self.procs["mosquitto"] = subprocess.Popen(
            [mosquitto, "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.redis_port = free_port()
        self.procs["redis"] = subprocess.Popen(
            [redis_server, "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", "", "--appendonly", "no",
             "--dir", str(self.run_dir), "--maxmemory", redis_maxmemory, "--maxmemory-policy", "noeviction",
             "--logfile", str(self.run_dir / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for name, port in (("mosquitto", self.mqtt_port), ("redis", self.redis_port)):
            if not wait_port(port, timeout=15):
                raise RuntimeError(f"private {name} did not start on port {port}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        from vigil_common.db.migrate import upgrade

        upgrade(self.database_url)

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            stop_process(proc, timeout=5)
        self.procs.clear()


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout + out.stderr).decode(errors="replace")
    match = re.search(r"(?:version |v=)(\d+\.\d+\.\d+)", text)
    return match.group(1) if match else "?"


@contextmanager
def private_infra(prefix: str, *, max_queued_messages: int, keep: bool = False) -> Iterator[Infra]:
    """Start the private broker/Redis/SQLite; always stop them (and remove the files) afterwards."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    infra = Infra(Path(tmp))
    try:
        infra.start(max_queued_messages=max_queued_messages)
        yield infra
    finally:
        infra.stop()
        if not keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def service_env(infra: Infra, *, topic_prefix: str, **extra: str) -> dict[str, str]:
    """The environment of a ``vigil`` service process: this machine's, minus any VIGIL_*, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update({
        "VIGIL_MQTT_URL": infra.mqtt_url,
        "VIGIL_REDIS_URL": infra.redis_url,
        "VIGIL_DATABASE_URL": infra.database_url,
        "VIGIL_DATA_DIR": str(infra.data_dir),
        "VIGIL_TOPIC_PREFIX": topic_prefix,
        "VIGIL_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    })
    env.update({f"VIGIL_{k.upper()}": v for k, v in extra.items()})
    return env


def spawn_vigil(args: Sequence[str], env: dict[str, str], log_path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """``vigil <args>`` with this interpreter, output to ``log_path``; ``cwd`` has no ``.env``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "vigil_common.cli.main", *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int | None:
    """SIGTERM, wait, then SIGKILL: this process only (by its pid)."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)
    return proc.returncode


def wait_for_payload(mqtt_url: str, topic: str, payload: bytes, timeout: float) -> bool:
    """True once ``payload`` is (or was, retained) published on ``topic``."""
    from vigil_common.bus.mqtt import parse_mqtt_url

    addr = parse_mqtt_url(mqtt_url)
    seen = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-wait-{os.getpid()}-{time.monotonic_ns()}")

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.payload == payload:
            seen.set()

    client.on_message = on_message
    client.on_connect = lambda c, _u, _f, _r, _p: c.subscribe(topic, 1)
    client.connect(addr.host, addr.port, keepalive=30)
    client.loop_start()
    try:
        return seen.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()


def broker_sys(mqtt_url: str, names: Sequence[str], timeout: float = 3.0) -> dict[str, int]:
    """Current values of mosquitto ``$SYS/broker/<name>`` counters (retained; updated every second)."""
    from vigil_common.bus.mqtt import parse_mqtt_url

    addr = parse_mqtt_url(mqtt_url)
    got: dict[str, int] = {}
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sys-{os.getpid()}-{time.monotonic_ns()}")

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        name = msg.topic.removeprefix("$SYS/broker/")
        with suppress(ValueError):
            got[name] = int(msg.payload)
        if all(n in got for n in names):
            done.set()

    def on_connect(c: mqtt.Client, _u: Any, _f: Any, _r: Any, _p: Any) -> None:
        for n in names:
            c.subscribe(f"$SYS/broker/{n}", 0)

    client.on_message = on_message
    client.on_connect = on_connect
    client.connect(addr.host, addr.port, keepalive=30)
    client.loop_start()
    try:
        done.wait(timeout)
        return dict(got)
    finally:
        client.disconnect()
        client.loop_stop()


def log_problems(path: Path, limit: int = 8) -> tuple[int, list[str]]:
    """(number of WARNING/ERROR/Traceback lines, the first few) in a service log."""
    if not path.exists():
        return 0, []
    lines = [ln for ln in path.read_text(errors="replace").splitlines()
             if re.search(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback", ln)]
    return len(lines), [ln[:300] for ln in lines[:limit]]


# --------------------------------------------------------------------------------------------
# CPU accounting
# --------------------------------------------------------------------------------------------
_CLK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all threads), from /proc; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid``, its reaped children (cutime/cstime) and its live children's
    (an RQ worker's forked work horses, ...)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    total = sum(int(f) for f in fields[11:15]) / _CLK
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(process_tree_cpu_s(int(c)) for c in children)


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = parts[3] + parts[4]
    return float(sum(parts) - idle), float(sum(parts))


class CpuProbe:
    """CPU use per named process over an interval, plus the whole machine's.

    ``percent`` values are of one core (100 = one core busy); ``others`` is the machine's busy
    time not accounted for by the named processes (other users of the machine, the kernel).
    """

    def __init__(self, pids: dict[str, int], *, tree: Sequence[str] = ()) -> None:
        self.pids = dict(pids)
        self.tree = set(tree)
        self._t0 = 0.0
        self._cpu0: dict[str, float] = {}
        self._m0 = (0.0, 0.0)

    def _sample(self) -> dict[str, float]:
        return {n: (process_tree_cpu_s(p) if n in self.tree else process_cpu_s(p)) for n, p in self.pids.items()}

    def start(self) -> None:
        self._t0, self._cpu0, self._m0 = time.monotonic(), self._sample(), machine_cpu()

    def stop(self) -> dict[str, float]:
        elapsed = max(1e-6, time.monotonic() - self._t0)
        cpu1, m1 = self._sample(), machine_cpu()
        out = {n: round(100 * (cpu1[n] - self._cpu0.get(n, 0.0)) / elapsed, 3) for n in self.pids}
        ncpu = os.cpu_count() or 1
        busy, total = m1[0] - self._m0[0], m1[1] - self._m0[1]
        machine = 100 * ncpu * busy / total if total > 0 else 0.0
        out["machine"] = round(machine, 1)
        out["others"] = round(max(0.0, machine - sum(out[n] for n in self.pids)), 1)
        return out


# --------------------------------------------------------------------------------------------
# load generation
# --------------------------------------------------------------------------------------------
def make_jpeg(target_bytes: int, width: int = 1280, height: int = 720, quality: int = 80) -> bytes:
    """A real JPEG of about ``target_bytes``: gradients, a texture and sensor-like noise,
    with the noise level searched so the file lands near the target size."""
    try:
        import cv2
        import numpy as np
    except ImportError as exc:  # pragma: no cover - the bench extra
        raise RuntimeError("the ingest benchmark draws its JPEG with OpenCV: pip install opencv-python-headless") \
            from exc
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.empty((height, width, 3), np.float32)
    base[..., 0] = xx * 255 / width
    base[..., 1] = yy * 255 / height
    base[..., 2] = 128 + 60 * np.sin(xx / 37.0) * np.cos(yy / 23.0)
    noise = np.random.default_rng(7).normal(0, 1, (height, width, 3)).astype(np.float32)

    def encode(sigma: float) -> bytes:
        img = np.clip(base + sigma * noise, 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("cv2.imencode failed")
        return bytes(buf.tobytes())

    lo, hi = 0.0, 40.0
    best = encode(hi)
    for _ in range(14):
        mid = (lo + hi) / 2
        data = encode(mid)
        if abs(len(data) - target_bytes) < abs(len(best) - target_bytes):
            best = data
        if len(data) < target_bytes:
            lo = mid
        else:
            hi = mid
    return best


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class RawPublisher:
    """A minimal MQTT 3.1.1 client that only publishes at QoS 0 over a blocking socket.

    ``sendall`` blocks while the broker is not reading, which is the back-pressure. A load
    generator for benchmarks, deliberately cheap in CPU; the product uses paho.
    """

    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cid = client_id.encode()
        body = b"\x00\x04MQTT\x04\x02\x00\x00" + struct.pack(">H", len(cid)) + cid  # clean, keepalive off
        self.sock.sendall(b"\x10" + _varint(len(body)) + body)
        ack = b""
        while len(ack) < 4:
            chunk = self.sock.recv(4 - len(ack))
            if not chunk:
                raise ConnectionError("broker closed the connection during CONNECT")
            ack += chunk
        if ack[0] != 0x20 or ack[3] != 0:
            raise ConnectionError(f"CONNECT refused: {ack!r}")
        self.sock.settimeout(30)

    def publish(self, topic: bytes, *parts: bytes) -> None:
        size = sum(len(p) for p in parts)
        head = b"\x30" + _varint(2 + len(topic) + size) + struct.pack(">H", len(topic)) + topic
        self.sock.sendall(b"".join((head, *parts)))

    def close(self) -> None:
        with suppress(OSError):
            self.sock.sendall(b"\xe0\x00")
        self.sock.close()


@dataclass(frozen=True, slots=True)
class FrameSource:
    """One JPEG, wrapped in a fresh VGF1 header (seq, capture time) per publish."""

    jpeg: bytes
    width: int
    height: int

    def header(self, seq: int, capture_ns: int) -> bytes:
        return HEADER.pack(MAGIC, VERSION, int(Codec.JPEG), 1, 0, seq, capture_ns, self.width, self.height)

    @property
    def size(self) -> int:
        return HEADER.size + len(self.jpeg)


def jpeg_frames(target_bytes: int, width: int, height: int) -> FrameSource:
    from vigil_common.contract.jpeg import jpeg_dimensions

    data = make_jpeg(target_bytes, width, height)
    w, h = jpeg_dimensions(data)
    return FrameSource(data, w, h)


# --------------------------------------------------------------------------------------------
# baseline consumers (child processes)
# --------------------------------------------------------------------------------------------
def _paho_subscriber(host: str, port: int, topic_filter: str, on_message: Callable[[mqtt.MQTTMessage], None],
                     ready: Any, stop: Any, max_s: float) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-bare-{os.getpid()}",
                         protocol=mqtt.MQTTv311)
    client.on_connect = lambda c, _u, _f, _r, _p: c.subscribe(topic_filter, 0)
    client.on_subscribe = lambda _c, _u, _m, _r, _p: ready.set()
    client.on_message = lambda _c, _u, msg: on_message(msg)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    stop.wait(max_s)
    client.disconnect()
    client.loop_stop()


def bare_counter_main(host: str, port: int, topic_filter: str, counter: Synchronized[int], ready: Any,
                      stop: Any, max_s: float) -> None:
    """Baseline for throughput: a bare paho subscriber that only counts messages."""

    def on_message(_msg: mqtt.MQTTMessage) -> None:
        counter.value += 1  # a RawValue: one writer, no lock

    _paho_subscriber(host, port, topic_filter, on_message, ready, stop, max_s)


def bare_xadd_main(host: str, port: int, topic_filter: str, redis_url: str, stream_prefix: str, ready: Any,
                   stop: Any, max_s: float) -> None:
    """Baseline for latency: a bare paho subscriber doing one (synchronous) XADD per message."""
    client = redis.Redis.from_url(redis_url)

    def on_message(msg: mqtt.MQTTMessage) -> None:
        payload = msg.payload
        capture_ns = HEADER.unpack_from(payload)[6]
        camera = msg.topic.split("/")[2]
        client.xadd(f"{stream_prefix}{camera}", {b"t": capture_ns, b"data": payload[HEADER.size:]})

    _paho_subscriber(host, port, topic_filter, on_message, ready, stop, max_s)
    client.close()


def bare_pipeline_main(host: str, port: int, topic_filter: str, redis_url: str, stream_prefix: str, buffer_ms: int,
                       counter: Synchronized[int], ready: Any, stop: Any, max_s: float) -> None:
    """Second throughput baseline: paho subscriber -> queue -> one thread XADDing in pipelined
    batches of up to 128 (ingest's shape without validation, registry, metrics or windows).
    ``counter`` counts frames acknowledged by Redis."""
    import queue as queue_mod

    client = redis.Redis.from_url(redis_url)
    pending: queue_mod.SimpleQueue[tuple[str, bytes]] = queue_mod.SimpleQueue()
    done = threading.Event()

    def writer() -> None:
        while not done.is_set():
            try:
                batch = [pending.get(timeout=0.2)]
            except queue_mod.Empty:
                continue
            while len(batch) < 128:
                try:
                    batch.append(pending.get_nowait())
                except queue_mod.Empty:
                    break
            pipe = client.pipeline(transaction=False)
            min_id = str(int(time.time() * 1000) - buffer_ms)  # trimmed by time, like ingest
            for topic, payload in batch:
                pipe.xadd(f"{stream_prefix}{topic.split('/')[2]}",
                          {b"t": HEADER.unpack_from(payload)[6], b"data": payload[HEADER.size:]},
                          minid=min_id, approximate=True)
            pipe.execute()
            counter.value += len(batch)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()

    def on_message(msg: mqtt.MQTTMessage) -> None:
        pending.put((msg.topic, bytes(msg.payload)))

    _paho_subscriber(host, port, topic_filter, on_message, ready, stop, max_s)
    done.set()
    thread.join(5)
    client.close()


# --------------------------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------------------------
@dataclass
class RoundResult:
    kind: str
    fps: float
    published: int
    consumed: int
    lost: int
    seconds: float
    cpu: dict[str, float]
    redis_usec: dict[str, tuple[int, int]] = field(default_factory=dict)  # command -> (calls, usec)


def wait_settled(count: Callable[[], int], target: int, timeout: float, settle: float = 1.0) -> int:
    """Poll ``count`` until it reaches ``target`` or stops changing for ``settle`` s (bounded)."""
    deadline = time.monotonic() + timeout
    last, changed = count(), time.monotonic()
    while time.monotonic() < deadline and last < target:
        time.sleep(0.05)
        value = count()
        if value != last:
            last, changed = value, time.monotonic()
        elif time.monotonic() - changed >= settle:
            break
    return last


def closed_loop(pub: RawPublisher, topics: Sequence[bytes], frames: FrameSource, consumed: Callable[[], int],
                *, window: int, warmup_s: float, seconds: float, probe: CpuProbe,
                on_measure: Callable[[], object] | None = None) -> tuple[float, int, float, dict[str, float]]:
    """Publish as fast as the consumer takes frames, at most ``window`` outstanding.

    Returns (consumer frames/s over the measured interval, frames published, interval s, CPU
    use over the interval).
    """
    published = 0
    start = time.monotonic()
    t0, t1 = start + warmup_s, start + warmup_s + seconds
    seen = consumed()
    polled = start
    c0 = -1
    m0 = m1 = 0.0
    c1 = 0
    cpu: dict[str, float] = {}
    while True:
        now = time.monotonic()
        if c0 < 0 and now >= t0:
            if on_measure is not None:
                on_measure()
            c0, m0 = consumed(), now
            probe.start()
        if now >= t1:
            c1, m1 = consumed(), now
            cpu = probe.stop()
            break
        if now - polled >= POLL_S:  # the same polling cadence whatever the consumer
            seen, polled = consumed(), now
        if published - seen >= window:
            time.sleep(POLL_S / 2)
            continue
        pub.publish(topics[published % len(topics)], frames.header(published, time.time_ns()), frames.jpeg)
        published += 1
    return (c1 - c0) / (m1 - m0), published, m1 - m0, cpu


def paced(pub: RawPublisher, topics: Sequence[bytes], frames: FrameSource, rate: float, seconds: float,
          tick: float = 0.01) -> tuple[int, float]:
    """Open loop: publish at ``rate`` frames/s in bursts every ``tick`` s; (published, achieved rate)."""
    published = 0
    start = time.monotonic()
    end = start + seconds
    next_tick = start
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = min(int(rate * (now - start)) + 1, int(rate * seconds))
        while published < due:
            pub.publish(topics[published % len(topics)], frames.header(published, time.time_ns()), frames.jpeg)
            published += 1
        next_tick += tick
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return published, published / (time.monotonic() - start)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


# Reads only (id, t) of stream entries, server side: the payloads never cross the socket.
_IDS_AND_TIMES = """
local out = {}
local entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
for _, e in ipairs(entries) do
  local f = e[2]
  for j = 1, #f, 2 do
    if f[j] == 't' then out[#out + 1] = e[1]; out[#out + 1] = f[j + 1]; break end
  end
end
return {out, #entries}
"""


def stream_latencies_ms(client: redis.Redis, key: str, page: int = 2000) -> list[float]:
    """Arrival (entry id ms) - capture time (field ``t``), in ms, for every entry of ``key``."""
    script = client.register_script(_IDS_AND_TIMES)
    out: list[float] = []
    low = "-"
    while True:
        pairs, n = script(keys=[key], args=[low, page])
        for i in range(0, len(pairs), 2):
            entry_id = pairs[i].decode()
            out.append(int(entry_id.split("-", 1)[0]) - int(pairs[i + 1]) / 1e6)
        if n < page:
            return out
        last = pairs[-2].decode() if pairs else None
        if last is None:
            return out
        low = f"({last}"


def latency_load(host: str, port: int, prefix: str, cameras: int, fps: float, seconds: float,
                 frames: FrameSource) -> dict[str, int]:
    """``cameras`` threads, one connection each, publishing at ``fps`` on an absolute schedule."""
    topics = Topics(prefix)
    counts: dict[str, int] = {}
    errors: list[str] = []
    start = time.monotonic() + 0.2
    period = 1.0 / fps

    def camera(idx: int) -> None:
        cam = f"lat-{idx:02d}"
        topic = topics.frame(cam).encode()
        try:
            pub = RawPublisher(host, port, f"bench-{cam}-{os.getpid()}")
        except OSError as exc:
            errors.append(f"{cam}: {exc}")
            return
        phase = idx * period / cameras  # cameras spread over the frame period
        n = 0
        total = int(seconds * fps)
        try:
            while n < total:
                delay = start + phase + n * period - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pub.publish(topic, frames.header(n, time.time_ns()), frames.jpeg)
                n += 1
        except OSError as exc:
            errors.append(f"{cam}: {exc}")
        finally:
            counts[cam] = n
            pub.close()

    threads = [threading.Thread(target=camera, args=(i,), name=f"cam-{i}", daemon=True) for i in range(cameras)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    if errors:
        print(f"  publisher errors: {errors[:3]}", file=sys.stderr)
    return counts


def latency_summary(latencies: list[float], published: int) -> dict[str, Any]:
    values = sorted(latencies)
    return {
        "published": published,
        "landed": len(values),
        "lost": published - len(values),
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "p99_ms": round(percentile(values, 99), 1),
        "max_ms": round(values[-1], 1) if values else float("nan"),
        "mean_ms": round(statistics.fmean(values), 2) if values else float("nan"),
    }


# --------------------------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------------------------
def _unlink_streams(client: redis.Redis, patterns: Sequence[str]) -> None:
    for pattern in patterns:
        names = list(client.scan_iter(match=pattern, count=1000))
        if names:
            client.unlink(*names)


def _ingest_metric(client: redis.Redis, metric: str) -> int:
    """The sum of one ingest counter over its labels."""
    total = 0
    for name, value in client.hgetall(keys.metrics_hash("ingest")).items():
        sample = parse_field(name.decode() if isinstance(name, bytes) else str(name))
        if sample is not None and sample.metric.name == metric:
            total += int(value)
    return total


class _Bare:
    """A baseline child process with its ready/stop events."""

    def __init__(self, target: Callable[..., None], *args: Any, max_s: float) -> None:
        self.ready = _CTX.Event()
        self.stop_event = _CTX.Event()
        self.proc = _CTX.Process(target=target, args=(*args, self.ready, self.stop_event, max_s), daemon=True)

    def start(self, timeout: float = 20.0) -> None:
        self.proc.start()
        if not self.ready.wait(timeout):
            self.stop()
            raise RuntimeError("baseline subscriber did not subscribe in time")
        time.sleep(0.1)

    @property
    def pid(self) -> int:
        return int(self.proc.pid or 0)

    def stop(self) -> None:
        self.stop_event.set()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


def run(
    *,
    frame_kb: int = 100,
    rounds: int = 3,
    seconds: float = 5.0,
    warmup_s: float = 1.0,
    store_warmup_s: float | None = None,
    window: int = 500,
    throughput_cameras: int = 4,
    loss_fraction: float = 0.5,
    loss_seconds: float = 10.0,
    cameras: int = 16,
    fps: float = 30.0,
    latency_seconds: float = 20.0,
    latency_frame_kb: int = 40,
    keep: bool = False,
    verbose: bool = True,
    processes: int = 1,
) -> dict[str, Any]:
    """Run the three phases on private infrastructure; returns every figure (see :func:`main`).
    With ``processes`` > 1, that many ingest processes share the frames (VIGIL_INGEST_SHARE_GROUP)."""

    def say(msg: str) -> None:
        if verbose:
            print(msg, flush=True)

    say(f"preparing frames ({frame_kb} KB and {latency_frame_kb} KB JPEGs) ...")
    big = jpeg_frames(frame_kb * 1024, 1280, 720)
    small = jpeg_frames(latency_frame_kb * 1024, 1280, 720)
    result: dict[str, Any] = {
        "benchmark": "ingest",
        "cpus": os.cpu_count() or 0,
        "loadavg_1m_before": round(os.getloadavg()[0], 2),
        "frame_bytes": big.size,
        "frame_size": f"{big.width}x{big.height}",
        "latency_frame_bytes": small.size,
        "ingest_processes": processes,
    }
    # Enough room for the closed loop's window; QoS 0 beyond it is dropped by the broker.
    max_queued = max(1000, 2 * window)
    with private_infra("vigil-bench-ingest-", max_queued_messages=max_queued, keep=keep) as infra:
        result["versions"] = dict(infra.versions)
        rc = redis.Redis.from_url(infra.redis_url)
        log_path = infra.run_dir / "ingest.log"
        pids = {"mosquitto": infra.pid("mosquitto"), "redis": infra.pid("redis"), "bench": os.getpid()}
        host, port = "127.0.0.1", infra.mqtt_port
        codes: list[int | None] = []
        ingest: IngestGroup | None = None
        try:
            # Throughput and loss: the shortest Redis buffer ingest allows (10 s), so Redis memory
            # stays bounded at these rates (phases are counted by entries-added).
            ingest = IngestGroup.start(infra, log_path, buffer_s=BUFFER_S, processes=processes)
            say(f"private mosquitto :{infra.mqtt_port}, redis :{infra.redis_port}, ingest pids {ingest.pids}")
            result["throughput"] = _throughput(
                host, port, infra, rc, ingest.pids, pids, big, rounds=rounds, seconds=seconds, warmup_s=warmup_s,
                store_warmup_s=BUFFER_S + 1.0 if store_warmup_s is None else store_warmup_s,
                window=window, cameras=throughput_cameras, say=say)
            # As asked: a fraction of the bare rate; and the same fraction of ingest's own measured
            # rate, which is "below saturation" whatever the ratio turned out to be.
            result["loss"] = [
                _loss(host, port, infra, rc, ingest.pids, pids, big, rate=loss_fraction * result["throughput"][key],
                      fraction=loss_fraction, of=of, seconds=loss_seconds, cameras=throughput_cameras, say=say)
                for of, key in (("bare", "bare_fps_median"), ("ingest", "ingest_fps_median"))
            ]
            codes += ingest.stop()
            ingest = None
            # Latency: entries are read after the run, so the buffer must outlast it.
            ingest = IngestGroup.start(infra, log_path, buffer_s=max(60, int(latency_seconds) + 40),
                                       processes=processes)
            result["latency"] = _latency(host, port, infra, rc, ingest.pids, pids, small, cameras=cameras, fps=fps,
                                         seconds=latency_seconds, say=say)
            info = rc.info("memory")
            result["redis_used_memory_peak_mb"] = round(int(info["used_memory_peak"]) / 2**20)
        finally:
            if ingest is not None:
                codes += ingest.stop()
            result["ingest_exit_codes"] = codes
            result["ingest_log_problems"], result["ingest_log_sample"] = log_problems(log_path)
            rc.close()
    result["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    tp, loss, lat = result["throughput"], result["loss"], result["latency"]
    result.update(
        bare_fps=tp["bare_fps_median"],
        ingest_fps=tp["ingest_fps_median"],
        ratio=tp["ratio_median"],
        loss_published=loss[0]["published"],
        loss_lost=loss[0]["lost"],
        loss_lost_below_ingest_saturation=loss[1]["lost"],
        latency_p99_ms=lat["ingest"]["p99_ms"],
        baseline_latency_p99_ms=lat["bare"]["p99_ms"],
    )
    return result


KINDS = ("bare", "ingest", "bare_xadd")
KIND_LABELS = {
    "bare": "bare paho subscriber (count only)",
    "ingest": "vigil ingest -> Redis",
    "bare_xadd": "paho + pipelined XADD (diagnostic)",
}


@dataclass
class IngestGroup:
    """``vigil ingest`` process(es) on the private servers; several share the frames through
    ``VIGIL_INGEST_SHARE_GROUP``. All write to one log (lines carry no pid: fine for counting)."""

    procs: list[subprocess.Popen[bytes]]

    @property
    def pids(self) -> dict[str, int]:
        return {("ingest" if i == 0 else f"ingest{i + 1}"): p.pid for i, p in enumerate(self.procs)}

    @classmethod
    def start(cls, infra: Infra, log_path: Path, *, buffer_s: int, processes: int = 1) -> IngestGroup:
        """Returns once every process is connected (each says "MQTT connected" in the log)."""
        extra = {"ingest_share_group": "bench"} if processes > 1 else {}
        env = service_env(infra, topic_prefix=INGEST_PREFIX, stream_buffer_s=str(buffer_s), segment_seconds="10",
                          **extra)
        before = log_path.read_bytes().count(b"MQTT connected") if log_path.exists() else 0
        group = cls([spawn_vigil(["ingest"], env, log_path, infra.run_dir) for _ in range(processes)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            connected = log_path.read_bytes().count(b"MQTT connected") - before if log_path.exists() else 0
            if connected >= processes or any(p.poll() is not None for p in group.procs):
                break
            time.sleep(0.1)
        if any(p.poll() is not None for p in group.procs) or time.monotonic() >= deadline:
            group.stop()
            raise RuntimeError(f"vigil ingest did not come online; see {log_path}")
        time.sleep(0.3)  # subscriptions acknowledged
        return group

    def stop(self) -> list[int | None]:
        return [stop_process(p, timeout=15) for p in self.procs]


# Counting entries while streams are trimmed, cheaply enough to poll every few ms: a consumer
# group that never reads, created at id 0 with 0 entries read, has lag = entries-added (Redis >= 7;
# trimming does not invalidate it, only XDEL would). XINFO GROUPS replies are a few bytes.
COUNT_GROUP = "bench-count"


def start_counting(client: redis.Redis, stream_keys: Sequence[str]) -> None:
    for key in stream_keys:
        client.xgroup_create(key, COUNT_GROUP, id="0", mkstream=True, entries_read=0)


def added_by_groups(client: redis.Redis, stream_keys: Sequence[str]) -> int:
    pipe = client.pipeline(transaction=False)
    for key in stream_keys:
        pipe.xinfo_groups(key)
    total = 0
    for groups in pipe.execute():
        lag = next((g["lag"] for g in groups if g["name"] in (COUNT_GROUP, COUNT_GROUP.encode())), None)
        if lag is None:
            raise RuntimeError("stream count unavailable (lag of the counting group is unknown)")
        total += int(lag)
    return total


def _throughput(host: str, port: int, infra: Infra, rc: redis.Redis, ingest_pids: dict[str, int], pids: dict[str, int],
                frames: FrameSource, *, rounds: int, seconds: float, warmup_s: float, store_warmup_s: float,
                window: int, cameras: int,
                say: Callable[[str], None]) -> dict[str, Any]:
    cams = [f"tp-{i}" for i in range(cameras)]
    ingest_topics = [Topics(INGEST_PREFIX).frame(c).encode() for c in cams]
    bare_topics = [Topics(BARE_PREFIX).frame(c).encode() for c in cams]
    bare_filter = f"{BARE_PREFIX}/cameras/+/frame"
    bare_streams = "bench:bare:"

    def landed() -> int:
        return added_by_groups(rc, [keys.frames_stream(c) for c in cams])

    def one_round(kind: str, label: str, measure_s: float) -> RoundResult:
        pub = RawPublisher(host, port, f"bench-{label}-{os.getpid()}")
        bare: _Bare | None = None
        try:
            if kind == "ingest":
                _unlink_streams(rc, [f"{keys.PREFIX}:frames:tp-*"])
                start_counting(rc, [keys.frames_stream(c) for c in cams])
                probe = CpuProbe({**pids, **ingest_pids})
                topics, consumed = ingest_topics, landed
            else:
                counter = _CTX.RawValue("q", 0)
                if kind == "bare":
                    bare = _Bare(bare_counter_main, host, port, bare_filter, counter, max_s=measure_s + 90)
                else:
                    bare = _Bare(bare_pipeline_main, host, port, bare_filter, infra.redis_url, bare_streams,
                                 int(BUFFER_S * 1000), counter, max_s=measure_s + 90)
                bare.start()
                probe = CpuProbe({**pids, "subscriber": bare.pid})
                topics = bare_topics

                def consumed(counter: Any = counter) -> int:
                    return int(counter.value)

            # Consumers that store run until their streams trim as fast as they grow (Redis has
            # stopped growing its heap): the steady state of a running system.
            warm = store_warmup_s if kind in ("ingest", "bare_xadd") and label != "warmup" else warmup_s
            rate, published, interval, cpu = closed_loop(
                pub, topics, frames, consumed, window=window, warmup_s=warm, seconds=measure_s, probe=probe,
                on_measure=rc.config_resetstat)  # Redis time per command over the measured interval only
            total = wait_settled(consumed, published, timeout=20)
            cmds = {name.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"]))
                    for name, v in rc.info("commandstats").items()}
        finally:
            pub.close()
            if bare is not None:
                bare.stop()
            _unlink_streams(rc, [f"{keys.PREFIX}:frames:tp-*", f"{bare_streams}*"])
        return RoundResult(kind, round(rate, 1), published, total, published - total, round(interval, 2), cpu,
                           cmds)

    # Unmeasured: Redis faults in its memory and every process warms up once before the rounds.
    say("  warm-up round (ingest, not counted) ...")
    one_round("ingest", "warmup", min(seconds, 3.0))
    results: list[RoundResult] = []
    order = [k for r in range(rounds) for k in (KINDS if r % 2 == 0 else tuple(reversed(KINDS)))]
    for i, kind in enumerate(order):
        r = one_round(kind, f"tp{i}", seconds)
        results.append(r)
        say(f"  throughput round {i + 1}/{len(order)} {kind:<9} {r.fps:8.1f} frames/s  "
            f"(published {r.published}, lost {r.lost}; CPU% {_fmt_cpu(r.cpu)})")
    by_kind = {k: [r for r in results if r.kind == k] for k in KINDS}
    # Rounds are consecutive in time per round index: ratios of neighbours share the noise.
    pair_ratios = [i.fps / b.fps for b, i in zip(by_kind["bare"], by_kind["ingest"], strict=True) if b.fps > 0]
    xadd_ratios = [i.fps / x.fps for x, i in zip(by_kind["bare_xadd"], by_kind["ingest"], strict=True) if x.fps > 0]
    med = {k: statistics.median(r.fps for r in v) for k, v in by_kind.items()}
    best = {k: max(r.fps for r in v) for k, v in by_kind.items()}
    ratio_med = statistics.median(pair_ratios) if pair_ratios else 0.0
    return {
        "rounds": [r.__dict__ for r in results],
        "rounds_per_kind": rounds,
        "window": window,
        "seconds_per_round": seconds,
        "bare_fps_median": round(med["bare"], 1),
        "ingest_fps_median": round(med["ingest"], 1),
        "bare_xadd_fps_median": round(med["bare_xadd"], 1),
        "bare_fps_best": round(best["bare"], 1),
        "ingest_fps_best": round(best["ingest"], 1),
        "bare_xadd_fps_best": round(best["bare_xadd"], 1),
        "ratio_median": round(ratio_med, 3),
        "ratio_best": round(best["ingest"] / best["bare"], 3) if best["bare"] else 0.0,
        "ratio_range": [round(min(pair_ratios), 3), round(max(pair_ratios), 3)] if pair_ratios else [],
        "ratio_vs_bare_xadd_median": round(statistics.median(xadd_ratios), 3) if xadd_ratios else 0.0,
        "lost": {k: sum(r.lost for r in v) for k, v in by_kind.items()},
        "goal": THROUGHPUT_GOAL,
        "pass": ratio_med >= THROUGHPUT_GOAL,
        "cpu": {k: _median_cpu([r.cpu for r in v]) for k, v in by_kind.items()},
        "cpu_ms_per_frame": {k: _cpu_per_frame(v) for k, v in by_kind.items()},
        "redis_us_per_frame": {k: _redis_per_frame(v) for k, v in by_kind.items() if k != "bare"},
    }


def _redis_per_frame(rounds: list[RoundResult], top: int = 4) -> dict[str, dict[str, float]]:
    """Redis server time by command over all rounds (INFO commandstats): per frame and per call."""
    calls: dict[str, int] = defaultdict(int)
    usec: dict[str, int] = defaultdict(int)
    for r in rounds:
        for name, (n, us) in r.redis_usec.items():
            calls[name] += n
            usec[name] += us
    frames = max(1, sum(r.consumed for r in rounds))
    names = sorted(usec, key=lambda n: -usec[n])[:top]
    return {n: {"us_per_frame": round(usec[n] / frames, 1), "us_per_call": round(usec[n] / max(1, calls[n]), 1),
                "calls_per_frame": round(calls[n] / frames, 2)} for n in names}


def _cpu_per_frame(rounds: list[RoundResult]) -> dict[str, float]:
    """Median CPU milliseconds per frame, per process and in total (machine-wide figures excluded)."""
    per: dict[str, list[float]] = {}
    for r in rounds:
        if r.fps <= 0:
            continue
        mine = {n: v for n, v in r.cpu.items() if n not in ("machine", "others")}
        for n, v in {**mine, "total": sum(mine.values())}.items():
            per.setdefault(n, []).append(v * 10 / r.fps)
    return {n: round(statistics.median(v), 3) for n, v in per.items()}


def _median_cpu(samples: list[dict[str, float]]) -> dict[str, float]:
    names = {n for s in samples for n in s}
    return {n: round(statistics.median(s.get(n, 0.0) for s in samples), 1) for n in sorted(names)}


def _fmt_cpu(cpu: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.0f}" for k, v in cpu.items())


def _loss(host: str, port: int, infra: Infra, rc: redis.Redis, ingest_pids: dict[str, int], pids: dict[str, int],
          frames: FrameSource, *, rate: float, fraction: float, of: str, seconds: float, cameras: int,
          say: Callable[[str], None]) -> dict[str, Any]:
    """Open-loop publishing at ``rate`` (= ``fraction`` of the ``of`` rate): published vs landed."""
    topics = [Topics(INGEST_PREFIX).frame(f"ls-{i}").encode() for i in range(cameras)]
    streams = [keys.frames_stream(f"ls-{i}") for i in range(cameras)]

    def landed() -> int:  # only polled after publishing
        return added_by_groups(rc, streams)

    _unlink_streams(rc, [f"{keys.PREFIX}:frames:ls-*"])
    start_counting(rc, streams)

    sys_names = ("publish/messages/dropped",)
    time.sleep(2.5)  # let ingest flush its counters, then take the "before" values
    drops0 = _ingest_metric(rc, "vigil_ingest_dropped_total")
    broker0 = broker_sys(infra.mqtt_url, sys_names).get(sys_names[0], 0)
    probe = CpuProbe({**pids, **ingest_pids})
    pub = RawPublisher(host, port, f"bench-loss-{os.getpid()}")
    probe.start()
    try:
        published, achieved = paced(pub, topics, frames, rate, seconds)
    finally:
        pub.close()
    cpu = probe.stop()
    total = wait_settled(landed, published, timeout=20)
    time.sleep(2.5)  # a metrics flush and a $SYS update
    drops = _ingest_metric(rc, "vigil_ingest_dropped_total") - drops0
    broker = broker_sys(infra.mqtt_url, sys_names).get(sys_names[0], 0) - broker0
    _unlink_streams(rc, [f"{keys.PREFIX}:frames:ls-*"])
    out = {
        "of": of,
        "fraction": fraction,
        "rate_target": round(rate, 1),
        "rate_achieved": round(achieved, 1),
        "seconds": seconds,
        "published": published,
        "landed": total,
        "lost": published - total,
        "ingest_dropped": drops,
        "broker_dropped": broker,
        "cpu": cpu,
        "goal_lost": 0,
        "pass": published == total,
    }
    say(f"  loss at {fraction:.0%} of {of}: {achieved:.0f} frames/s x {seconds:g} s: published {published}, "
        f"landed {total}, lost {published - total} (ingest dropped {drops}, broker dropped {broker}); "
        f"CPU% {_fmt_cpu(cpu)}")
    return out


def _latency(host: str, port: int, infra: Infra, rc: redis.Redis, ingest_pids: dict[str, int], pids: dict[str, int],
             frames: FrameSource, *, cameras: int, fps: float, seconds: float,
             say: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {"cameras": cameras, "fps": fps, "seconds": seconds, "frame_bytes": frames.size}
    # ingest
    probe = CpuProbe({**pids, **ingest_pids})
    probe.start()
    counts = latency_load(host, port, INGEST_PREFIX, cameras, fps, seconds, frames)
    cpu = probe.stop()
    published = sum(counts.values())
    cams = sorted(counts)

    def landed_ingest() -> int:
        pipe = rc.pipeline(transaction=False)
        for cam in cams:
            pipe.xlen(keys.frames_stream(cam))
        return int(sum(pipe.execute()))

    wait_settled(landed_ingest, published, timeout=15)
    lat: list[float] = []
    for cam in cams:
        lat += stream_latencies_ms(rc, keys.frames_stream(cam))
    _unlink_streams(rc, [f"{keys.PREFIX}:frames:lat-*"])
    out["ingest"] = {**latency_summary(lat, published), "cpu": cpu}
    say(f"  latency ingest: {_fmt_lat(out['ingest'])}; CPU% {_fmt_cpu(cpu)}")

    # baseline: bare paho subscriber, one XADD per message
    stream_prefix = "bench:bare:"
    bare = _Bare(bare_xadd_main, host, port, f"{BARE_PREFIX}/cameras/+/frame", infra.redis_url, stream_prefix,
                 max_s=seconds + 90)
    bare.start()
    try:
        probe = CpuProbe({**pids, "subscriber": bare.pid})
        probe.start()
        counts = latency_load(host, port, BARE_PREFIX, cameras, fps, seconds, frames)
        cpu = probe.stop()
        published = sum(counts.values())

        def landed_bare() -> int:
            pipe = rc.pipeline(transaction=False)
            for cam in cams:
                pipe.xlen(f"{stream_prefix}{cam}")
            return int(sum(pipe.execute()))

        wait_settled(landed_bare, published, timeout=15)
    finally:
        bare.stop()
    lat = []
    for cam in cams:
        lat += stream_latencies_ms(rc, f"{stream_prefix}{cam}")
    _unlink_streams(rc, [f"{stream_prefix}*"])
    out["bare"] = {**latency_summary(lat, published), "cpu": cpu}
    say(f"  latency bare:   {_fmt_lat(out['bare'])}; CPU% {_fmt_cpu(cpu)}")
    p99, bare_p99 = out["ingest"]["p99_ms"], out["bare"]["p99_ms"]
    out["ratio_p99"] = round(p99 / bare_p99, 2) if bare_p99 > 0 else None
    out["goal_p99_ms"] = LATENCY_GOAL_P99_MS
    out["pass"] = p99 <= LATENCY_GOAL_P99_MS and out["ingest"]["lost"] == 0
    return out


def _fmt_lat(s: dict[str, Any]) -> str:
    return (f"p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms "
            f"({s['landed']}/{s['published']} landed)")


def format_table(r: dict[str, Any]) -> str:
    tp, loss, lat = r["throughput"], r["loss"], r["latency"]

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    lines = [
        "",
        f"ingest benchmark: {r['cpus']} CPUs, load {r['loadavg_1m_before']} -> {r['loadavg_1m_after']}; "
        f"mosquitto {r['versions'].get('mosquitto')}, redis-server {r['versions'].get('redis-server')}",
        "",
        f"1. throughput, {r['frame_bytes'] / 1024:.0f} KB frames ({r['frame_size']} JPEG in VGF1), closed loop "
        f"(window {tp['window']}), {tp['rounds_per_kind']} rounds of {tp['seconds_per_round']:g} s per consumer",
        f"  {'frames/s':<40}{'median':>9}{'best':>9}{'lost':>7}{'CPU ms/frame':>14}",
    ]
    for kind in KINDS:
        per = tp["cpu_ms_per_frame"].get(kind, {})
        lines.append(f"  {KIND_LABELS[kind]:<40}{tp[kind + '_fps_median']:>9.1f}{tp[kind + '_fps_best']:>9.1f}"
                     f"{tp['lost'][kind]:>7}{per.get('total', float('nan')):>14.3f}")
    lines += [
        f"  {'ratio ingest / bare (goal >= 0.7)':<40}{tp['ratio_median']:>9.3f}{tp['ratio_best']:>9.3f}"
        f"{'':>7}  {verdict(tp['pass'])}   (per-round range {tp['ratio_range']})",
        f"  {'ratio ingest / paho+pipelined XADD':<40}{tp['ratio_vs_bare_xadd_median']:>9.3f}",
        "  CPU % of one core (median of rounds; machine = all processes, others = not ours):",
    ]
    for kind in KINDS:
        lines.append(f"    {kind:<10} {_fmt_cpu(tp['cpu'][kind])}")
    lines.append("  CPU ms per frame by process:")
    for kind in KINDS:
        lines.append(f"    {kind:<10} {' '.join(f'{k}={v:.3f}' for k, v in tp['cpu_ms_per_frame'][kind].items())}")
    lines.append("  Redis server time per frame by command (INFO commandstats, all rounds):")
    for kind, per_cmd in tp["redis_us_per_frame"].items():
        text = ", ".join(f"{n} {v['us_per_frame']:.0f} us/frame ({v['us_per_call']:.0f} us/call)"
                         for n, v in per_cmd.items())
        lines.append(f"    {kind:<10} {text}")
    lines += [
        "",
        f"2. loss below saturation: open loop, 10 ms bursts, {loss[0]['seconds']:g} s per point, 100 KB frames",
        f"  {'rate':<34}{'target':>8}{'achieved':>10}{'published':>11}{'landed':>9}{'lost':>7}"
        f"{'ingest drop':>13}{'broker drop':>13}",
    ]
    for pt in loss:
        label = f"{pt['fraction']:.0%} of the {pt['of']} rate (goal 0 lost)"
        lines.append(f"  {label:<34}{pt['rate_target']:>8.0f}{pt['rate_achieved']:>10.0f}{pt['published']:>11}"
                     f"{pt['landed']:>9}{pt['lost']:>7}{pt['ingest_dropped']:>13}{pt['broker_dropped']:>13}"
                     f"  {verdict(pt['pass'])}")
    for pt in loss:
        lines.append(f"  CPU% at {pt['fraction']:.0%} of {pt['of']}: {_fmt_cpu(pt['cpu'])}")
    lines += [
        "",
        f"3. latency publish -> Redis, {lat['cameras']} cameras x {lat['fps']:g} fps x {lat['seconds']:g} s, "
        f"{lat['frame_bytes'] / 1024:.0f} KB frames (1 ms resolution)",
        f"  {'':<34}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'landed':>14}",
    ]
    for label, key in (("bare paho + 1 XADD/msg (ms)", "bare"), ("vigil ingest (ms)", "ingest")):
        s = lat[key]
        lines.append(f"  {label:<34}{s['p50_ms']:>8}{s['p95_ms']:>8}{s['p99_ms']:>8}{s['max_ms']:>8}"
                     f"{s['landed']:>8}/{s['published']}")
    lines += [
        f"  p99 ratio ingest / bare: {lat['ratio_p99']}; goal p99 <= {lat['goal_p99_ms']:g} ms  "
        f"{verdict(lat['pass'])}",
        f"  CPU% bare: {_fmt_cpu(lat['bare']['cpu'])}",
        f"  CPU% ingest: {_fmt_cpu(lat['ingest']['cpu'])}",
        "",
        f"ingest log: {r['ingest_log_problems']} warning/error lines; Redis peak memory "
        f"{r['redis_used_memory_peak_mb']} MB",
    ]
    lines += [f"  {ln}" for ln in r["ingest_log_sample"]]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="vigil bench ingest",
        description="Ingest throughput vs a bare paho subscriber, loss below saturation, and publish -> Redis "
                    "latency, on a private mosquitto + redis-server (see the module docstring).")
    p.add_argument("--frame-kb", type=int, default=100, help="throughput frame size (JPEG), KB")
    p.add_argument("--rounds", type=int, default=3, help="throughput rounds per consumer (alternating)")
    p.add_argument("--seconds", type=float, default=5.0, help="measured length of each throughput round")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured start of each round, s")
    p.add_argument("--store-warmup", type=float, default=None,
                   help="unmeasured start of the rounds that store into Redis (default: ingest's 10 s buffer"
                        " + 1 s, so the streams trim as fast as they grow); 1 measures a cold Redis")
    p.add_argument("--window", type=int, default=500, help="closed loop: most frames outstanding")
    p.add_argument("--loss-fraction", type=float, default=0.5,
                   help="loss test: this fraction of the bare and of the ingest rate")
    p.add_argument("--loss-seconds", type=float, default=10.0)
    p.add_argument("--cameras", type=int, default=16, help="latency test cameras")
    p.add_argument("--fps", type=float, default=30.0, help="latency test frames/s per camera")
    p.add_argument("--latency-seconds", type=float, default=20.0)
    p.add_argument("--latency-frame-kb", type=int, default=40)
    p.add_argument("--processes", type=int, default=1,
                   help="ingest processes sharing the frames (VIGIL_INGEST_SHARE_GROUP); the bar is for 1")
    p.add_argument("--keep", action="store_true", help="keep the run directory (logs, database)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    for name in ("rounds", "cameras", "window", "processes"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    if min(args.seconds, args.loss_seconds, args.latency_seconds, args.fps, args.frame_kb,
           args.latency_frame_kb) <= 0:
        p.error("sizes, rates and durations must be positive")
    # SIGTERM -> KeyboardInterrupt, so the private servers and ingest are stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    result = run(frame_kb=args.frame_kb, rounds=args.rounds, seconds=args.seconds, warmup_s=args.warmup,
                 store_warmup_s=args.store_warmup,
                 window=args.window, loss_fraction=args.loss_fraction, loss_seconds=args.loss_seconds,
                 cameras=args.cameras, fps=args.fps, latency_seconds=args.latency_seconds,
                 latency_frame_kb=args.latency_frame_kb, keep=args.keep, verbose=not args.json,
                 processes=args.processes)
    print(json.dumps(result, indent=2, default=str) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
