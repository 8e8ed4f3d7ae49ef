"""``vigil recorder`` as a process: a real RQ worker runs enqueued segment jobs."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
import redis
from rq import Queue, Worker
from rq.job import JobStatus
from sqlalchemy import select

from tests.conftest import free_port
from tests.helpers import private_redis
from tests.integration.support.recorder import add_window, enqueue, env_for, indexed
from vigil_common.contract import keys, recorder_jobs
from vigil_common.db.models import Segment
from vigil_common.runtime.settings import Settings
from vigil_recorder.main import VigilJob

pytestmark = pytest.mark.integration


def start_worker(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vigil_recorder.main", *args],
        env=env_for(settings),
        cwd=settings.data_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_burst_worker_runs_enqueued_jobs(settings: Settings, client: redis.Redis) -> None:
    windows = [add_window(client, 1_700_000_000_000 + k * 10_000, 8 + k) for k in range(2)]
    jobs = [enqueue(client, w) for w in windows]
    proc = start_worker(settings, "--burst")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode(errors="replace")
    for job, n in zip(jobs, (8, 9), strict=True):
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED, out.decode(errors="replace")
        result = job.return_value()
        assert result is not None
        assert result["status"] == "written" and result["frames"] == n
    rows = indexed(settings)
    assert [r.frames for r in rows] == [8, 9]
    for row in rows:
        with av.open(str(settings.data_dir / row.path)) as c:
            assert sum(1 for _ in c.decode(video=0)) == row.frames
    # The same windows again (a duplicate enqueue): nothing new is written or indexed.
    for w in windows:
        enqueue(client, w)
    proc = start_worker(settings, "--burst")
    proc.communicate(timeout=60)
    assert len(indexed(settings)) == 2
    assert len(list(settings.data_dir.rglob("*.mp4"))) == 2


def test_in_process_worker_forks_a_horse_with_its_own_context(
    settings: Settings, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in env_for(settings).items():
        if k.startswith("VIGIL_"):
            monkeypatch.setenv(k, v)
    monkeypatch.chdir(settings.data_dir.parent)
    from vigil_recorder import context

    context.reset_context()
    parent = context.get_context()  # the parent holds a pooled connection: the horse must not reuse it
    with parent.sessions() as s:
        s.execute(select(Segment.id)).all()
    try:
        job = enqueue(client, add_window(client, 1_700_000_100_000, 6))
        Worker([recorder_jobs.queue(client)], connection=client, serializer=recorder_jobs.serializer(),
               job_class=VigilJob).work(burst=True)
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED
        with parent.sessions() as s:  # the parent's pool still works after the fork
            assert len(list(s.execute(select(Segment)).scalars())) == 1
    finally:
        context.reset_context()


def test_in_process_mode_runs_segment_jobs_in_the_worker_and_an_abandoned_one_in_a_horse(
    settings: Settings, client: redis.Redis, forks: list[int]
) -> None:
    """VIGIL_RECORDER_JOBS_IN_PROCESS: no fork per segment job, except for a job a dead worker
    abandoned (its worker may have died of it), and the heartbeat covers the whole job."""
    from vigil_recorder.main import ABANDONED_META, HEARTBEAT_MARGIN_S, RecorderWorker

    plain = enqueue(client, add_window(client, 1_700_000_300_000, 7))
    abandoned = enqueue(client, add_window(client, 1_700_000_310_000, 8))
    abandoned.meta[ABANDONED_META] = 1
    abandoned.save_meta()
    worker = RecorderWorker([recorder_jobs.queue(client)], connection=client,
                            serializer=recorder_jobs.serializer(), job_class=VigilJob)
    worker.in_process = True
    assert worker.runs_in_process(plain) and not worker.runs_in_process(abandoned)
    assert plain.timeout is not None
    assert worker.get_heartbeat_ttl(plain) == plain.timeout + HEARTBEAT_MARGIN_S
    assert worker.get_heartbeat_ttl(abandoned) < plain.timeout
    worker.work(burst=True)
    for job, frames in ((plain, 7), (abandoned, 8)):
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED
        result = job.return_value()
        assert result is not None and result["status"] == "written" and result["frames"] == frames
    assert len(forks) == 1  # the abandoned job's work horse, and no other
    assert [r.frames for r in indexed(settings)] == [7, 8]


def test_sigterm_is_a_warm_shutdown(settings: Settings, client: redis.Redis) -> None:
    proc = start_worker(settings)
    try:
        deadline = time.monotonic() + 30
        queue = Queue(keys.RECORDER_QUEUE, connection=client)
        while not Worker.all(queue=queue):
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "worker did not register"
            time.sleep(0.05)
        job = enqueue(client, add_window(client, 1_700_000_200_000, 60, (640, 480)))
        while job.get_status() == JobStatus.QUEUED and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "warm shut down requested" in text
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED, text  # the running job was allowed to finish
    assert [r.frames for r in indexed(settings)] == [60]
    assert not [p for p in Path(settings.data_dir).rglob(".*partial")]


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_worker_survives_a_redis_restart(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    server = private_redis(port, tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    local = settings.model_copy(update={"redis_url": url})
    proc = start_worker(local)
    try:
        client = redis.Redis.from_url(url)
        queue = Queue(keys.RECORDER_QUEUE, connection=client)
        deadline = time.monotonic() + 30
        while not Worker.all(queue=queue):
            assert proc.poll() is None and time.monotonic() < deadline, "worker did not start"
            time.sleep(0.05)
        server.terminate()
        server.wait(10)
        time.sleep(0.5)
        server = private_redis(port, tmp_path)  # empty again: nothing persisted
        job = enqueue(client, add_window(client, 1_700_000_300_000, 5))
        deadline = time.monotonic() + 60
        while job.get_status() != JobStatus.FINISHED:
            assert proc.poll() is None, "worker exited"
            assert time.monotonic() < deadline, "job not run after the Redis restart"
            time.sleep(0.1)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        server.terminate()
        server.wait(10)
    assert proc.returncode == 0, out.decode(errors="replace")
    assert [r.frames for r in indexed(settings)] == [5]
