"""Builders shared by the retention, reconciliation and crash tests (no tests here).

Real files in a temporary data directory and real rows in the test PostgreSQL database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract.envelope import Codec, Frame
from vigil_common.db.engine import make_engine, make_sessionmaker, upsert
from vigil_common.db.models import Segment, Snapshot
from vigil_common.runtime.settings import Settings
from vigil_recorder.media.encode import EncoderOptions
from vigil_recorder.segment.index import SegmentRow, insert_segment
from vigil_recorder.segment.writer import build_file, row_from_meta
from vigil_recorder.storage import paths as storage

SEG_S = 2


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.effective_database_url())
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def rclient(settings: Settings) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(settings.redis_url)
    yield c
    c.close()


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def fake_segment(settings: Settings, sessions: sessionmaker[Session], cam: str, start: datetime,
                 size: int = 1000, seconds: float = SEG_S) -> SegmentRow:
    """A file of ``size`` bytes at the segment's real path and its index row."""
    rel = storage.segment_relpath(cam, ms(start), settings.tz)
    path = settings.data_dir / rel
    storage.ensure_dir(path.parent)
    path.write_bytes(b"\0" * size)
    row = SegmentRow(cam, start, start + timedelta(seconds=seconds), seconds, 10, size, 64, 48, "h264", rel.as_posix())
    assert insert_segment(sessions, row)
    return row


def real_segment(settings: Settings, cam: str, start_ms: int, n: int = 6) -> tuple[Path, SegmentRow]:
    """A real, decodable MP4 segment file with its metadata box (not indexed)."""
    import cv2
    import numpy as np

    frames = []
    for i in range(n):
        img = np.full((48, 64, 3), (i * 40) % 256, np.uint8)
        data = cv2.imencode(".jpg", img)[1].tobytes()
        frames.append(Frame(Codec.JPEG, True, i, start_ms * 1_000_000 + i * 100_000_000, 64, 48, data))
    rel = storage.segment_relpath(cam, start_ms, settings.tz)
    final = settings.data_dir / rel
    built = build_file(frames, final, EncoderOptions(preset="ultrafast", crf=30),
                       max_frame_ns=SEG_S * 1_000_000_000,
                       meta={"camera_id": cam, "window_start_ms": start_ms, "window_end_ms": start_ms + SEG_S * 1000})
    assert built is not None
    return final, row_from_meta(cam, rel, built.meta, built.bytes)


def fake_snapshot(settings: Settings, sessions: sessionmaker[Session], cam: str, when: datetime,
                  size: int = 500) -> str:
    local = when.astimezone(settings.tz)
    rel = f"snapshots/{cam}/{local:%Y-%m-%d}/{local:%H_%M_%S}.jpg"
    path = settings.data_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff" * size)
    with sessions.begin() as s:
        upsert(s, Snapshot, {"camera_id": cam, "time": when, "path": rel, "bytes": size, "width": 64, "height": 48},
               conflict=["camera_id", "time"])
    return rel


def segment_rows(sessions: sessionmaker[Session]) -> list[Segment]:
    with sessions() as s:
        return list(s.execute(select(Segment).order_by(Segment.start)).scalars())


def mp4_files(settings: Settings) -> set[str]:
    root = settings.data_dir
    return {p.relative_to(root).as_posix() for p in (root / "recordings").rglob("*.mp4")}


def partial_files(settings: Settings) -> list[Path]:
    return [p for p in (settings.data_dir / "recordings").rglob(".*") if p.name.endswith(storage.PARTIAL_SUFFIX)]


def age_file(path: Path, seconds: float) -> None:
    t = datetime.now(UTC).timestamp() - seconds
    os.utime(path, (t, t))


# --- the real pipeline: ingest in this process, `vigil recorder` workers, a frame publisher ---


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(
        VIGIL_REDIS_URL=settings.redis_url,
        VIGIL_DATABASE_URL=settings.database_url,
        VIGIL_DATA_DIR=str(settings.data_dir),
        VIGIL_SEGMENT_SECONDS=str(settings.segment_seconds),
        VIGIL_SEGMENT_GRACE_S=str(settings.segment_grace_s),
        VIGIL_STREAM_BUFFER_S=str(settings.stream_buffer_s),
        VIGIL_MQTT_URL=settings.mqtt_url,
        VIGIL_TOPIC_PREFIX=settings.topic_prefix,
        VIGIL_LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


def start_worker(settings: Settings, log_path: Path, **extra: str) -> subprocess.Popen[bytes]:
    """``vigil recorder`` in its own session (so its process group can be killed at once)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    out = open(log_path, "ab")  # the child keeps its own descriptor
    try:
        return subprocess.Popen([sys.executable, "-m", "vigil_recorder.main"], env=worker_env(settings, **extra),
                                cwd=settings.data_dir.parent, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        out.close()


def wait_registered(settings: Settings, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    from rq import Queue, Worker

    from tests.helpers import wait_for
    from vigil_common.contract import keys

    client = redis.Redis.from_url(settings.redis_url)
    queue = Queue(keys.RECORDER_QUEUE, connection=client)

    def ready() -> bool:
        assert proc.poll() is None, "worker exited"
        return any(w.pid == proc.pid for w in Worker.all(queue=queue))

    wait_for(ready, timeout, "the recorder worker to register")
    client.close()


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":  # alive (a zombie is already dead)
            out.append(int(entry.name))
    return out


def work_horse(worker_pid: int) -> int | None:
    """The worker's work horse: the child that made itself a process group leader."""
    for child in children(worker_pid):
        try:
            if os.getpgid(child) == child:
                return child
        except ProcessLookupError:
            continue
    return None


class FramePublisher(threading.Thread):
    """A camera: VGF1 JPEG frames at ``fps`` over MQTT until stopped."""

    def __init__(self, settings: Settings, camera_id: str, fps: float = 15, size: tuple[int, int] = (320, 240)) -> None:
        super().__init__(daemon=True, name=f"publisher-{camera_id}")
        import cv2
        import numpy as np
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from vigil_common.bus.mqtt import parse_mqtt_url
        from vigil_common.contract.topics import Topics

        w, h = size
        self.jpegs = []
        for i in range(15):
            img = np.zeros((h, w, 3), np.uint8)
            img[:, : (i * 21) % w] = 200
            img[(i * 13) % h :, :, 2] = 90
            self.jpegs.append(cv2.imencode(".jpg", img)[1].tobytes())
        self.size = size
        self.topic = Topics(settings.topic_prefix).frame(camera_id)
        self.fps = fps
        self.sent = 0
        self.stop_event = threading.Event()
        addr = parse_mqtt_url(settings.mqtt_url)
        client_id = f"pub-{camera_id}-{os.getpid()}-{time.time_ns()}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.connect(addr.host, addr.port)
        self.client.loop_start()

    def run(self) -> None:
        from vigil_common.contract import envelope

        period = 1.0 / self.fps
        nxt = time.monotonic()
        while not self.stop_event.is_set():
            w, h = self.size
            payload = envelope.pack(Frame(Codec.JPEG, True, self.sent, time.time_ns(), w, h,
                                          self.jpegs[self.sent % len(self.jpegs)]))
            self.client.publish(self.topic, payload, qos=0)
            self.sent += 1
            nxt += period
            self.stop_event.wait(max(0.0, nxt - time.monotonic()))

    def stop(self) -> None:
        self.stop_event.set()
        self.join(5)
        self.client.loop_stop()
        self.client.disconnect()


def window_start_ms(path: str) -> int:
    """The window start encoded in a segment file name (``..._{start_ms}.mp4``)."""
    return int(Path(path).stem.rsplit("_", 1)[1])


def decoded_frames(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def coverage_gap_s(rows: list[Segment]) -> float:
    """Seconds between the first segment's start and the last one's end that no segment covers."""
    gap = 0.0
    covered_until = None
    for r in sorted(rows, key=lambda x: x.start):
        if covered_until is not None and r.start > covered_until:
            gap += (r.start - covered_until).total_seconds()
        covered_until = r.end if covered_until is None else max(covered_until, r.end)
    return gap


def drained(client: redis.Redis, worker: subprocess.Popen[bytes]) -> bool:
    """Every closed window enqueued, the queue empty, no retry scheduled, the worker idle."""
    from rq import Queue, Worker
    from rq.registry import ScheduledJobRegistry

    from vigil_common.contract import keys

    queue = Queue(keys.RECORDER_QUEUE, connection=client)
    if client.zcard(keys.PENDING_WINDOWS) or queue.count or ScheduledJobRegistry(queue=queue).count:
        return False
    mine = [w for w in Worker.all(queue=queue) if w.pid == worker.pid]
    return bool(mine) and mine[0].get_state() == "idle"
