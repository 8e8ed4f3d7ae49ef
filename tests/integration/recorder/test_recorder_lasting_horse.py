"""Lasting work horses (VIGIL_RECORDER_HORSE_JOBS) against the installed RQ: many segment jobs
per fork, and what a fork per job is for still holds: a horse that dies, a job that times out
and RQ's stop-job command each end that job only, and the next job runs in a fresh horse."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from typing import Any

import pytest
import redis
from rq.command import send_stop_job_command
from rq.job import Job, JobStatus

from tests.integration.support.recorder import add_window, enqueue, indexed
from vigil_common.contract import recorder_jobs
from vigil_common.runtime.settings import Settings
from vigil_recorder import jobs
from vigil_recorder.main import RecorderWorker, VigilJob

pytestmark = pytest.mark.integration

T0 = 1_700_000_400_000


def worker(client: redis.Redis, horse_jobs: int) -> RecorderWorker:
    w = RecorderWorker([recorder_jobs.queue(client)], connection=client, serializer=recorder_jobs.serializer(),
                       job_class=VigilJob, job_monitoring_interval=1)
    w.horse_jobs = horse_jobs
    return w


def patch_window(monkeypatch: pytest.MonkeyPatch, start_ms: int, action: Any) -> None:
    """Make the job body do ``action`` (in the horse) for the window starting at ``start_ms``."""
    real = jobs.write_segment

    def body(settings: Settings, client: redis.Redis, sessions: Any, cam: str, s: int, e: int,
             **kw: Any) -> dict[str, Any]:
        if s == start_ms:
            action()
        return real(settings, client, sessions, cam, s, e, **kw)

    monkeypatch.setattr(jobs, "write_segment", body)


def finished(job: Job, frames: int) -> bool:
    job.refresh()
    result = job.return_value()
    return job.get_status() == JobStatus.FINISHED and result is not None and result["frames"] == frames


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_one_horse_runs_many_jobs_then_retires(settings: Settings, client: redis.Redis, forks: list[int]) -> None:
    queued = [enqueue(client, add_window(client, T0 + k * 10_000, 3 + k)) for k in range(5)]
    w = worker(client, horse_jobs=3)
    w.work(burst=True)
    assert all(finished(job, 3 + k) for k, job in enumerate(queued))
    assert [r.frames for r in indexed(settings)] == [3, 4, 5, 6, 7]
    assert len(forks) == 2  # three jobs in the first horse, which retired, two in the second
    assert w.lasting_horse is None and w.horse_pid == 0  # the worker's teardown retired the last one
    assert all(gone(pid) for pid in forks)


def test_fork_per_job_when_horse_jobs_is_one(settings: Settings, client: redis.Redis, forks: list[int]) -> None:
    queued = [enqueue(client, add_window(client, T0 + k * 10_000, 4)) for k in range(3)]
    worker(client, horse_jobs=1).work(burst=True)
    assert all(finished(job, 4) for job in queued)
    assert len(forks) == 3


def test_a_horse_that_dies_mid_job_fails_that_job_only(
    settings: Settings, client: redis.Redis, forks: list[int], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b, c = (enqueue(client, add_window(client, T0 + k * 10_000, 5)) for k in range(3))
    patch_window(monkeypatch, T0 + 10_000, lambda: os.kill(os.getpid(), signal.SIGKILL))  # a crash in libav
    with caplog.at_level(logging.WARNING, logger="rq.worker"):
        worker(client, horse_jobs=10).work(burst=True)
    assert finished(a, 5) and finished(c, 5)
    b.refresh()
    assert b.get_status() in (JobStatus.SCHEDULED, JobStatus.FAILED)  # RQ retries it later
    assert "Work-horse terminated unexpectedly" in caplog.text and "signal 9" in caplog.text
    assert len(forks) == 2  # a and b in the first horse, c in a fresh one
    assert [r.frames for r in indexed(settings)] == [5, 5]


def test_a_job_past_its_timeout_fails_and_the_next_runs_in_a_fresh_horse(
    settings: Settings, client: redis.Redis, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    slow, after = (enqueue(client, add_window(client, T0 + k * 10_000, 4)) for k in range(2))
    slow.timeout = 1
    slow.save()
    patch_window(monkeypatch, T0, lambda: time.sleep(30))
    started = time.monotonic()
    worker(client, horse_jobs=10).work(burst=True)
    assert time.monotonic() - started < 20
    slow.refresh()
    assert slow.get_status() in (JobStatus.SCHEDULED, JobStatus.FAILED)
    assert finished(after, 4)
    # RQ's timeout inside the horse ended the job; the horse then retired (the job was cut off
    # anywhere in its code: no later job runs on what it left behind).
    assert len(forks) == 2


def test_the_stop_job_command_kills_the_lasting_horse(
    settings: Settings, client: redis.Redis, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    hung, after = (enqueue(client, add_window(client, T0 + k * 10_000, 4)) for k in range(2))
    patch_window(monkeypatch, T0, lambda: time.sleep(60))
    w = worker(client, horse_jobs=10)
    seen: dict[str, int] = {}

    def stop_when_started() -> None:
        deadline = time.monotonic() + 30
        while hung.get_status() != JobStatus.STARTED and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        seen["horse_pid"] = w.horse_pid  # what RQ's stop command will kill
        send_stop_job_command(client, hung.id)

    stopper = threading.Thread(target=stop_when_started, daemon=True)
    stopper.start()
    started = time.monotonic()
    w.work(burst=True)
    stopper.join(5)
    assert time.monotonic() - started < 30
    assert seen["horse_pid"] == forks[0]
    hung.refresh()
    assert hung.get_status() == JobStatus.STOPPED
    assert finished(after, 4)
    assert len(forks) == 2 and gone(forks[0])


def test_a_reply_read_just_before_the_monitor_alarm_is_not_lost(
    settings: Settings, client: redis.Redis, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """RQ's monitoring alarm can fire right after the horse's reply was read: RQ then calls
    wait_for_horse again, which must return that reply rather than block until the hard kill."""
    from rq.timeouts import HorseMonitorTimeoutException

    from vigil_recorder.lasting_horse import LastingHorse

    real_wait = LastingHorse.wait
    cut: list[int] = []

    def wait_cut_short(self: LastingHorse) -> Any:
        result = real_wait(self)
        if not cut:
            cut.append(self.pid)
            raise HorseMonitorTimeoutException("the alarm, just after the reply was read")
        return result

    monkeypatch.setattr(LastingHorse, "wait", wait_cut_short)
    queued = [enqueue(client, add_window(client, T0 + k * 10_000, 4)) for k in range(3)]
    started = time.monotonic()
    worker(client, horse_jobs=10).work(burst=True)
    assert time.monotonic() - started < 20  # not the hard kill at the job timeout + 60 s
    assert cut and all(finished(job, 4) for job in queued)
    assert len(forks) == 1  # the same horse ran all three


def test_the_horse_is_retired_even_when_the_worker_teardown_fails(
    settings: Settings, client: redis.Redis, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rq.worker import BaseWorker

    def teardown_without_redis(self: BaseWorker) -> None:
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(BaseWorker, "teardown", teardown_without_redis)
    job = enqueue(client, add_window(client, T0, 4))
    w = worker(client, horse_jobs=10)
    with pytest.raises(redis.ConnectionError):
        w.work(burst=True)
    assert finished(job, 4)
    assert w.lasting_horse is None and len(forks) == 1
    deadline = time.monotonic() + 5
    while not gone(forks[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(forks[0])


def _ended(pid: int) -> bool:
    """Gone, or a zombie nobody reaps (an orphan's new parent may not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_an_idle_horse_exits_when_its_worker_dies_though_another_child_holds_its_pipe(tmp_path: Any) -> None:
    """Other processes the worker forked (RQ's one-off horses, its scheduler) inherit the worker's
    ends of the horse's pipes, so the horse cannot count on end of file: it checks its parent."""
    import subprocess
    import sys

    pidfile = tmp_path / "horse.pid"
    code = f"""
import os, time
from vigil_recorder.lasting_horse import LastingHorse

class Worker:
    name = "w"
    def setup_work_horse_signals(self):
        pass

horse = LastingHorse.fork(Worker(), 10)
if os.fork() == 0:  # another child of the worker: it holds the pipes' worker ends
    time.sleep(60)
    os._exit(0)
open({str(pidfile)!r}, "w").write(str(horse.pid))
time.sleep(60)
"""
    worker = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text()):
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        horse = int(pidfile.read_text())
        time.sleep(0.5)
        assert not _ended(horse)  # idle, waiting for a job
        os.kill(worker.pid, signal.SIGKILL)  # the worker only: its other child lives on
        worker.wait(10)
        deadline = time.monotonic() + 5
        while not _ended(horse) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _ended(horse), "the horse outlived its worker"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
