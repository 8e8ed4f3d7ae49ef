"""What the recorder needs from RQ and RQ has no public setting for (see RecorderWorker): these
tests check the behaviour against the installed RQ, so a release that changes it fails here.

- the heartbeat margin: a running job's entry in RQ's started registry expires within seconds of
  its worker's last heartbeat (RQ's own margin is a fixed 60 s);
- the abandoned-job requeue: a record job whose worker died goes back to the *front* of the
  queue, once, whichever of several workers looks first (public registry API only);
- an idle worker runs its maintenance (where the requeue happens) every few seconds.
The warm shutdown is test_recorder_worker.py::test_sigterm_is_a_warm_shutdown; recovery from a
real kill -9 mid-segment, test_crash_recorder_kill.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from tests.helpers import wait_for
from tests.integration.recorder.test_recorder_worker import add_window, enqueue, env_for
from tests.integration.support.retention import work_horse
from vigil_common.contract import keys, recorder_jobs
from vigil_common.runtime.settings import Settings
from vigil_recorder.main import (
    ABANDONED_META,
    HEARTBEAT_MARGIN_S,
    JOB_MONITORING_INTERVAL_S,
    MAINTENANCE_INTERVAL_S,
    requeue_abandoned,
)

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(settings.redis_url)
    yield c
    c.close()


def start(settings: Settings, tmp: Path) -> subprocess.Popen[bytes]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "vigil_recorder.main", "--no-duties"], env=env_for(settings),
                            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def registry_expiry(client: redis.Redis, queue: Queue, job_id: str) -> float | None:
    registry = StartedJobRegistry(queue=queue)
    for jid, ex in registry.get_job_and_execution_ids(cleanup=False):
        if jid == job_id:
            score = client.zscore(registry.key, Execution(id=ex, job_id=jid, connection=client).composite_key)
            return None if score is None else float(score)
    return None


def test_a_running_jobs_heartbeat_expires_within_our_margin(settings: Settings, client: redis.Redis,
                                                            tmp_path: Path) -> None:
    queue = recorder_jobs.queue(client)
    job = enqueue(client, add_window(client, 1_700_000_000_000, 240, (960, 540)))  # a long segment job
    proc = start(settings, tmp_path)
    horse = None
    try:
        # the started registry's score is the execution's first heartbeat TTL from now: ours is
        # the monitoring interval + our margin, where RQ's own margin would put it a minute out
        expiry = wait_for(lambda: registry_expiry(client, queue, job.id), 30, "the job to start", poll=0.02)
        assert float(expiry) - time.time() <= JOB_MONITORING_INTERVAL_S + HEARTBEAT_MARGIN_S + 1  # type: ignore[arg-type]
        horse = work_horse(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if horse is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(horse, signal.SIGKILL)


def kill_mid_job(settings: Settings, client: redis.Redis, queue: Queue, tmp: Path) -> Job:
    """A long segment job (many large frames) whose worker is killed with -9 while it runs."""
    job = enqueue(client, add_window(client, 1_700_000_000_000, 240, (960, 540)))
    proc = start(settings, tmp)
    try:
        wait_for(lambda: registry_expiry(client, queue, job.id), 30, "the job to start")
        horse = wait_for(lambda: work_horse(proc.pid), 10, "the work horse")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    os.kill(int(horse), signal.SIGKILL)  # in a process group of its own (RQ's setpgrp)
    return job


def test_an_abandoned_record_job_is_requeued_at_the_front_once(settings: Settings, client: redis.Redis,
                                                               tmp_path: Path) -> None:
    queue = Queue(keys.RECORDER_QUEUE, connection=client)
    job = kill_mid_job(settings, client, queue, tmp_path)
    other = queue.enqueue("time.sleep", 0, job_id="other")  # waiting in the queue meanwhile
    expiry = registry_expiry(client, queue, job.id)
    assert expiry is not None and expiry - time.time() <= JOB_MONITORING_INTERVAL_S + HEARTBEAT_MARGIN_S + 1
    assert requeue_abandoned(client, queue, log) == []  # not yet expired: its worker may be slow
    time.sleep(max(0.0, expiry - time.time()) + 0.5)
    first = requeue_abandoned(client, queue, log)
    second = requeue_abandoned(client, queue, log)  # a second worker looking at the same moment
    assert first == [job.id] and second == []
    assert queue.get_job_ids()[:2] == [job.id, other.id]  # at the front
    requeued = recorder_jobs.fetch(client, job.id)
    assert requeued.get_status() == JobStatus.QUEUED
    assert requeued.meta[ABANDONED_META] == 1  # so it never runs in a worker's own process again


def test_an_idle_worker_requeues_a_dead_workers_job_within_seconds(settings: Settings, client: redis.Redis,
                                                                   tmp_path: Path) -> None:
    """With no job arriving a worker only wakes at its dequeue timeout; the survivor of a
    kill -9 must still find the abandoned job and run it again well inside the frame buffer."""
    queue = Queue(keys.RECORDER_QUEUE, connection=client)
    job = kill_mid_job(settings, client, queue, tmp_path)
    killed = time.monotonic()
    survivor = start(settings, tmp_path)
    try:
        wait_for(lambda: Job.fetch(job.id, connection=client).get_status() == JobStatus.FINISHED, 90,
                 "the abandoned job to run again", poll=0.2)
        took = time.monotonic() - killed
        # heartbeat margin + one maintenance interval + the job itself (RQ's defaults: minutes)
        assert took <= JOB_MONITORING_INTERVAL_S + HEARTBEAT_MARGIN_S + MAINTENANCE_INTERVAL_S + 25, took
    finally:
        os.killpg(survivor.pid, signal.SIGKILL)
        survivor.wait(10)
