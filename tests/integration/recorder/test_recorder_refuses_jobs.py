"""Issue 12, point 1: RQ runs whatever function a job in Redis names, and unpickles whatever a
job holds. The recorder reads jobs as JSON only and runs only Vigil's three entry points: the
attack from the issue (``os.system`` enqueued on ``vigil-recorder-slow``), the same as JSON, and
a pickle that runs code while it is loaded all fail as jobs, run nothing, and leave the worker
recording."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from rq import Callback, Queue
from rq.job import JobStatus
from rq.registry import FailedJobRegistry

from tests.integration.support.recorder import add_window, enqueue, env_for, indexed
from vigil_common.contract import keys, recorder_jobs
from vigil_common.runtime.settings import Settings
from vigil_recorder.main import VigilJob

pytestmark = pytest.mark.integration


class RunsOnLoad:
    """Unpickling this runs a shell command (what an attacker would put in a pickled job)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}-unpickled",)


def burst(settings: Settings, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vigil_recorder.main", "--burst", "--no-duties"],
                          env=env_for(settings) | extra, cwd=settings.data_dir.parent, capture_output=True, text=True,
                          timeout=120)


# Each way a segment job can run: lasting work horses (the default), a fork per job, in process.
@pytest.mark.parametrize("mode", [{}, {"VIGIL_RECORDER_HORSE_JOBS": "1"}, {"VIGIL_RECORDER_JOBS_IN_PROCESS": "true"}],
                         ids=["lasting-horse", "fork-per-job", "in-process"])
def test_the_recorder_runs_no_job_but_its_own(settings: Settings, client: redis.Redis,
                                              tmp_path: Path, mode: dict[str, str]) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    marker = tmp_path / "pwned"
    command = f"touch {marker}"
    attacks = []
    for name in (keys.RECORDER_SLOW_QUEUE, keys.RECORDER_QUEUE):
        pickled = Queue(name, connection=client)  # RQ's default serializer: pickle
        attacks.append(pickled.enqueue("os.system", command))
        attacks.append(pickled.enqueue("vigil_recorder.jobs.record_segment", RunsOnLoad(marker)))
        as_json = recorder_jobs.queue(client, name)  # readable, but not one of ours
        attacks.append(as_json.enqueue("os.system", command))
        attacks.append(as_json.enqueue("subprocess.check_call", ["touch", str(marker)]))
    good = enqueue(client, add_window(client, 1_700_000_000_000, 6))  # and a real segment job

    out = burst(settings, **mode)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not list(tmp_path.glob("pwned*")), "an attacker's job ran"
    failed = set()
    for name in (keys.RECORDER_SLOW_QUEUE, keys.RECORDER_QUEUE):
        failed |= set(FailedJobRegistry(queue=Queue(name, connection=client)).get_job_ids())
    assert {job.id for job in attacks} <= failed
    assert recorder_jobs.fetch(client, good.id).get_status() == JobStatus.FINISHED
    assert [r.frames for r in indexed(settings)] == [6]  # the worker went on recording


def test_a_job_of_ours_resolves_no_callback() -> None:
    from rq.job import Job

    conn = redis.Redis()  # never contacted: the job is built in memory
    job = Job.create("vigil_recorder.jobs.record_segment", args=("cam", 0, 1), connection=conn,
                     serializer=recorder_jobs.serializer(), on_failure=Callback("os.system"),
                     on_success=Callback("os.system"), on_stopped=Callback("os.system"))
    ours = VigilJob.create("vigil_recorder.jobs.record_segment", args=("cam", 0, 1), connection=conn,
                           serializer=recorder_jobs.serializer(), on_failure=Callback("os.system"))
    assert job.failure_callback is os.system  # what RQ's own Job would call
    assert ours.failure_callback is None and ours.success_callback is None and ours.stopped_callback is None
    other = VigilJob.create("os.system", args=("true",), connection=conn, serializer=recorder_jobs.serializer())
    with pytest.raises(Exception, match="is not a Vigil job"):
        _ = other.func
