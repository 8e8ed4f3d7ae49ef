"""Alerts on conditions other services record in Redis: recorder jobs failing repeatedly (RQ's
failed-job registry), the disk at the free-space floor (``vigil:storage``), ingest dropping a
camera's frames for a sustained time (``vigil_ingest_dropped_total``)."""


from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import redis
from rq import Queue, SimpleWorker

from tests.conftest import free_port
from tests.helpers import private_redis, wait_for
from tests.integration.support.notifier import CaptureServer, Running, notifier_settings
from vigil_common.contract import keys
from vigil_common.runtime.counters import sample_name
from vigil_common.runtime.settings import Settings

pytestmark = pytest.mark.integration


def test_recorder_failing_disk_low_and_ingest_dropping(settings: Settings, capture: CaptureServer,
                                                       redis_url: str) -> None:
    rds = redis.Redis.from_url(redis_url)
    svc = Running(notifier_settings(settings, capture, recorder_fail_threshold=3, min_free_bytes=10_000_000,
                                    ingest_drop_sustain_s=2.0))
    try:
        time.sleep(1.5)  # the notifier takes its baseline
        queue = Queue(keys.RECORDER_QUEUE, connection=rds)
        for _ in range(3):
            queue.enqueue("builtins.int", "not a number")
        SimpleWorker([queue], connection=rds).work(burst=True)
        wait_for(lambda: "[Vigil] Recorder jobs are failing repeatedly" in capture.subjects(), 10, "recorder alert")

        rds.hset("vigil:storage", mapping={"bytes_free": 1_000_000, "updated_at": f"{time.time():.3f}"})
        wait_for(lambda: "[Vigil] Disk space is at the free-space floor" in capture.subjects(), 10, "disk alert")

        dropped = keys.metrics_hash("ingest")
        field = sample_name("vigil_ingest_dropped_total", camera="cam1", reason="overload")
        ignored = sample_name("vigil_ingest_dropped_total", camera="cam2", reason="disabled")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any("cam1" in s for s in capture.subjects()):
            rds.hincrby(dropped, field, 5)
            rds.hincrby(dropped, ignored, 5)
            time.sleep(0.3)
        assert '[Vigil] Ingest is dropping frames of camera "cam1"' in capture.subjects()
        time.sleep(1)
        subjects = capture.subjects()
        assert len(subjects) == 3 and not any("cam2" in s for s in subjects)  # once each
    finally:
        svc.stop()
        rds.close()


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_redis_near_its_maxmemory_is_alerted_once_and_cleared(settings: Settings, capture: CaptureServer,
                                                              tmp_path: Path) -> None:
    """Before Redis is full (when every frame would be refused), the admin hears of it."""
    port = free_port()
    server = private_redis(port, tmp_path, "--maxmemory", "64mb", "--maxmemory-policy", "noeviction")
    url = f"redis://127.0.0.1:{port}/0"
    rds = redis.Redis.from_url(url)
    svc = Running(notifier_settings(settings, capture, redis_url=url, notify_redis_memory_pct=80))
    try:
        time.sleep(1.5)
        assert not any("Redis" in s for s in capture.subjects())  # a nearly empty Redis
        blob = b"x" * 1_000_000
        for i in range(56):  # ~56 MB of 64: above 80 %, below the limit
            rds.set(f"fill:{i}", blob)
        wait_for(lambda: "[Vigil] Redis memory is near its limit" in capture.subjects(), 10, "memory alert")
        time.sleep(1.5)
        assert capture.subjects().count("[Vigil] Redis memory is near its limit") == 1  # once, not per sample
        mail = next(m for m in capture.mails() if m.body["subject"] == "[Vigil] Redis memory is near its limit")
        text = next(c["value"] for c in mail.body["content"] if c["type"] == "text/plain")
        assert "64.0 MiB" in text and "VIGIL_STREAM_BUFFER_S" in text
    finally:
        svc.stop()
        rds.close()
        server.terminate()
        server.wait(10)
