"""``vigil recorder``: an RQ worker on the recorder queue (composition root).

Start-up waits, with backoff, until the database and Redis answer (migrations are
``vigil migrate``'s job), removes temporary files left by killed writers, then runs an RQ
``Worker``. Each job runs in a forked work horse, so a crash inside libav kills one job,
not the worker; a horse runs up to ``VIGIL_RECORDER_HORSE_JOBS`` segment jobs before it
retires (:mod:`vigil_recorder.lasting_horse`), and ``VIGIL_RECORDER_JOBS_IN_PROCESS`` runs
segment jobs in the worker itself instead (see :class:`RecorderWorker`). SIGTERM/SIGINT is
RQ's warm shutdown: the current job finishes, then the worker exits; a second signal is a
cold shutdown (the job is killed and retried later). If the worker loop stops on an error
(Redis gone for too long), a new worker is started with backoff.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import sys
import time
from types import FrameType
from typing import Any

import redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.worker import WorkerStatus
from sqlalchemy import text

from vigil_common.bus.presence import Presence
from vigil_common.contract import keys, recorder_jobs
from vigil_common.contract.recorder_jobs import RECORD_JOB
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.runtime.lifecycle import StopSignal, backoff_delays, private_files, retry
from vigil_common.runtime.logsetup import setup_logging
from vigil_common.runtime.settings import Settings
from vigil_recorder import context, days, homeassistant, motion, progress, reconcile, retention, snapshots
from vigil_recorder.duties import FAST_LEADER_KEY, Duty, DutyContext, DutyRunner, split_duties
from vigil_recorder.lasting_horse import LastingHorse, Request
from vigil_recorder.segment.writer import data_dir_writable
from vigil_recorder.storage import paths as storage

log = logging.getLogger(__name__)

# Abandoned jobs (their worker was killed) must run again well within the Redis frame buffer
# (120 s by default). RQ's defaults detect them after ~90 s (heartbeat TTL = monitoring
# interval + a fixed 60 s), clean registries every 10 minutes and retry through a scheduler
# whose lock a dead worker holds for 61 s. So: heartbeat every 5 s with a 10 s margin,
# maintenance every 10 s, and abandoned segment jobs go straight back to the queue front.
MAINTENANCE_INTERVAL_S = 10
JOB_MONITORING_INTERVAL_S = 5
HEARTBEAT_MARGIN_S = 10
# An idle worker blocks in its dequeue for worker_ttl - 15 s (RQ: dequeue_timeout), and runs its
# maintenance only between two dequeues: 25 s keeps maintenance (and the abandoned-job check)
# to the 10 s above even when no job arrives.
WORKER_TTL_S = 25
# Jobs that are idempotent, so running one twice (if its worker was only slow) is harmless.
REQUEUE_ABANDONED = frozenset({RECORD_JOB, recorder_jobs.DELETE_FOOTAGE_JOB})
# job.meta key: how many times the job was found abandoned and requeued.
ABANDONED_META = "vigil_abandoned"
# Temporary files older than this belong to dead writers (well above any job timeout).
STALE_PARTIAL_S = 3600


class RefusedJob(Exception):
    """A job in the recorder's queues that names no Vigil entry point."""


class VigilJob(Job):
    """RQ's job, resolving only Vigil's entry points (recorder_jobs.ENTRY_POINTS) and no
    callbacks. Whatever can write to Redis can write a job; with the JSON serializer reading it
    runs nothing, and this keeps running it to the functions Vigil enqueues. RQ resolves a
    job's function and callbacks through these public properties (tested in
    tests/integration/recorder/test_recorder_rq.py against the installed RQ)."""

    @property
    def func(self) -> Any:
        name = self.func_name
        if name not in recorder_jobs.ENTRY_POINTS:
            raise RefusedJob(f"refused job {self.id}: {str(name)[:100]!r} is not a Vigil job")
        return super().func

    @property
    def success_callback(self) -> None:
        return None

    @property
    def failure_callback(self) -> None:
        return None

    @property
    def stopped_callback(self) -> None:
        return None


def is_segment_job(job: Job) -> bool:
    """A readable segment job. Any job in Redis can be unreadable (another serializer, garbage):
    reading its name raises, and such a job goes to a work horse of its own, where RQ fails it
    (tests/integration/recorder/test_recorder_refuses_jobs.py)."""
    try:
        return job.func_name == RECORD_JOB
    except Exception:  # noqa: BLE001 - RQ's DeserializationError and whatever the serializer raises
        return False


class RecorderWorker(Worker):
    """RQ's worker, telling our stop signal when a shutdown is requested, and recovering the
    jobs of killed workers within seconds rather than minutes.

    RQ offers no setting for the margin it adds to a job's heartbeat (a fixed 60 s) nor a hook
    for "an abandoned job was found": this class overrides two public methods of RQ's
    ``Worker`` (``get_heartbeat_ttl``, ``run_maintenance_tasks``) with RQ 3's signatures, and
    ``request_stop`` (RQ's signal handler). tests/integration/recorder/test_recorder_rq.py checks the
    behaviour each gives (margin, requeue, warm stop) against the installed RQ, so a release
    that changes them fails a test rather than a user's recordings. Lasting work horses override
    ``fork_work_horse``, ``wait_for_horse`` and ``teardown`` and set RQ's ``_horse_pid`` as RQ's
    own fork does (test_recorder_lasting_horse.py: jobs, a crash, a timeout, a stop command).
    """

    stop: StopSignal | None = None
    # VIGIL_RECORDER_JOBS_IN_PROCESS: segment jobs run here rather than in a forked work horse.
    in_process: bool = False
    # VIGIL_RECORDER_HORSE_JOBS: segment jobs one lasting work horse runs before it retires
    # (1: RQ's fork per job). See vigil_recorder.lasting_horse.
    horse_jobs: int = Settings.model_fields["recorder_horse_jobs"].default
    lasting_horse: LastingHorse | None = None

    def runs_in_process(self, job: Job) -> bool:
        """A segment job, in-process mode, and the job never abandoned by a worker that died
        (which may have been this job crashing it: that one runs isolated in a work horse)."""
        return self.in_process and is_segment_job(job) and not job.meta.get(ABANDONED_META)

    def execute_job(self, job: Job, queue: Queue) -> None:
        if not self.runs_in_process(job):
            super().execute_job(job, queue)
            return
        # RQ's SimpleWorker.execute_job, through BaseWorker's public methods.
        execution = self.prepare_execution(job)
        self.perform_job(job, queue, execution)
        self.set_state(WorkerStatus.IDLE)

    def runs_in_lasting_horse(self, job: Job) -> bool:
        return self.horse_jobs > 1 and is_segment_job(job) and not self.runs_in_process(job)

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        """RQ's fork, or handing the job to the lasting horse (forked when there is none).

        RQ's ``monitor_work_horse`` then watches ``horse_pid`` as it watches a horse of its own:
        RQ sets the private ``_horse_pid`` in its own ``fork_work_horse``, and so does this one
        (tests/integration/recorder/test_recorder_lasting_horse.py runs, crashes, times out and
        stops jobs in a lasting horse against the installed RQ). If no horse can be had (the
        fork failed, a new horse refused the job), the job gets RQ's own horse."""
        if not self.runs_in_lasting_horse(job):
            super().fork_work_horse(job, queue)
            return
        execution = self.execution
        if execution is None or execution.job_id != job.id:
            raise RuntimeError(f"no execution prepared for job {job.id}")
        request = Request(job.id, execution.id, queue.name)
        horse = None
        try:
            for _attempt in range(2):  # an idle horse may have died since its last job
                horse = self.lasting_horse
                if horse is None or not horse.alive():
                    horse = self.lasting_horse = LastingHorse.fork(self, self.horse_jobs)
                if horse.send(request):
                    break
            else:
                horse = None
        except OSError as exc:
            log.warning("could not fork a lasting work horse (%s)", exc)
            horse = None
        if horse is None:
            log.warning("job %s: no lasting work horse took it; it runs in a horse of its own", job.id)
            self.lasting_horse = None
            super().fork_work_horse(job, queue)
            return
        self._horse_pid = horse.pid
        self.procline(f"Job {job.id} in lasting horse {horse.pid} at {time.time()}")

    def wait_for_horse(self) -> tuple[int | None, int | None, Any]:
        horse = self.lasting_horse
        if horse is None or self.horse_pid != horse.pid:
            return super().wait_for_horse()
        return horse.wait()  # the same result until the next job is sent, even once it has exited

    def teardown(self) -> None:
        try:
            super().teardown()  # raises when Redis is gone (the horse is retired all the same)
        finally:
            if self.lasting_horse is not None:
                self.lasting_horse.retire()
                self.lasting_horse = None

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        if self.runs_in_process(job):
            # No monitoring loop renews the heartbeat of a job running in this process: it
            # covers the job's whole timeout (as RQ's SimpleWorker does).
            timeout = job.timeout if job.timeout and job.timeout > 0 else Queue.DEFAULT_TIMEOUT
            return int(timeout - working_time) + HEARTBEAT_MARGIN_S
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - working_time
            return int(min(remaining, self.job_monitoring_interval)) + HEARTBEAT_MARGIN_S
        return int(self.job_monitoring_interval) + HEARTBEAT_MARGIN_S

    def run_maintenance_tasks(self) -> None:
        for queue in self.queues:
            try:
                requeue_abandoned(self.connection, queue, self.log)
            except redis.RedisError as exc:
                self.log.warning("could not check for abandoned jobs: %s", exc)
        super().run_maintenance_tasks()

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """RQ's stop-job command kills the horse's process group; with a job running in this
        process there is no horse, and the group would be the worker's own."""
        if not self.horse_pid:
            log.warning("stop requested while no job runs in a work horse (a job in the worker's own process "
                        "runs to its end)")
            return
        super().kill_horse(sig)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("warm shut down requested: finishing the current job, then exiting")
        if self.stop is not None:
            self.stop.set()
        super().request_stop(signum, frame)


def warn_if_in_process_recovery_outlives_buffer(settings: Settings) -> bool:
    """With jobs in the worker's process, a killed worker's job runs again only once its
    heartbeat (the job's timeout + margin) has expired and a maintenance pass finds it: say so
    when that comes after Redis has trimmed the window (docs/operations.md#recovery)."""
    timeout = recorder_jobs.job_timeout_s(settings.segment_seconds)
    rerun_s = settings.segment_seconds + timeout + HEARTBEAT_MARGIN_S + MAINTENANCE_INTERVAL_S
    if rerun_s <= settings.stream_buffer_s:
        return False
    log.warning("VIGIL_RECORDER_JOBS_IN_PROCESS: a killed worker's job runs again up to %d s after its window "
                "began, after VIGIL_STREAM_BUFFER_S (%d s) has trimmed it: footage would be lost; raise the "
                "buffer or run jobs in work horses", rerun_s, settings.stream_buffer_s)
    return True


def requeue_abandoned(connection: redis.Redis, queue: Queue, logger: logging.Logger) -> list[str]:
    """Put segment jobs whose worker stopped heartbeating back at the front of the queue.

    Only RQ's public registry API: the expired job ids, the (job, execution) pairs of the started
    registry and :class:`rq.executions.Execution` for the member name. Removing that member is
    the claim: of several workers checking at once, only the one whose ZREM removed it requeues.
    """
    registry = StartedJobRegistry(queue=queue)
    expired = set(registry.get_expired_job_ids(time.time()))
    if not expired:
        return []
    requeued = []
    pairs = registry.get_job_and_execution_ids(cleanup=False)
    for job_id in sorted(expired):
        try:
            job = recorder_jobs.fetch(connection, job_id)
            name = job.func_name
        except NoSuchJobError:
            continue
        except Exception as exc:  # noqa: BLE001 - not a JSON job of ours: RQ's own handling applies
            logger.warning("abandoned job %s is unreadable (%s): left to RQ", job_id, type(exc).__name__)
            continue
        if name not in REQUEUE_ABANDONED:
            continue  # RQ's own handling (failed registry, retries) applies
        members = [Execution(id=ex, job_id=jid, connection=connection).composite_key
                   for jid, ex in pairs if jid == job_id]
        if not members or not connection.zrem(registry.key, *members):
            continue  # another worker took it first
        logger.warning("requeueing abandoned job %s (its worker stopped)", job_id)
        # Counted on the job: its worker may have died of it, so it never runs in-process again.
        job.meta[ABANDONED_META] = int(job.meta.get(ABANDONED_META, 0)) + 1
        job.save_meta()
        queue.enqueue_job(job, at_front=True)
        requeued.append(job_id)
    return requeued


def worker_name(prefix: str | None = None) -> str:
    """Unique per process and start: ``prefix`` (default ``recorder-{host}``), pid, random."""
    if prefix is None:
        prefix = f"recorder-{socket.gethostname().split('.')[0] or 'host'}"
    return f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vigil recorder", description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    parser.add_argument("--name", default=None, help="worker name prefix (made unique per start)")
    parser.add_argument("--no-duties", action="store_true",
                        help="never run the periodic duties (snapshots, motion, retention, reconciliation)")
    parser.add_argument(
        "--no-scheduler",
        action="store_true",
        help="do not run RQ's scheduler (retries with an interval need one somewhere)",
    )
    return parser.parse_args(argv)


def wait_for_database(settings: Settings, stop: StopSignal) -> None:
    """Block until ``SELECT 1`` succeeds. The engine is disposed before the worker forks."""
    engine = make_engine(settings.effective_database_url())
    try:

        def _ping() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        retry(_ping, what="database connection", stop=stop)
    finally:
        engine.dispose()


def wait_for_redis(url: str, stop: StopSignal) -> redis.Redis:
    client = redis.Redis.from_url(url, socket_connect_timeout=5.0)
    retry(client.ping, what="redis connection", stop=stop)
    return client


class LastError(logging.Handler):
    """Remembers the exception type of the last ERROR RQ logs: its work loop swallows the
    exception that ends it (logs it and returns), and the watchdog wants to name it."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.error = ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[0] is not None:
            self.error = record.exc_info[0].__name__


def run_worker(settings: Settings, args: argparse.Namespace, stop: StopSignal) -> int:
    """Run workers until stopped (or, with ``--burst``, until the queue is empty)."""
    delays = backoff_delays(initial=1.0, maximum=30.0)
    last_error = LastError()
    logging.getLogger("rq.worker").addHandler(last_error)
    while not stop.is_set():
        name = worker_name(args.name)
        try:
            connection = wait_for_redis(settings.redis_url, stop)
        except Exception:  # noqa: BLE001 - only reached when stopping during the wait
            return 0
        worker = RecorderWorker(
            # Order is priority: segment jobs first, long jobs only when none is waiting.
            [recorder_jobs.queue(connection), recorder_jobs.queue(connection, keys.RECORDER_SLOW_QUEUE)],
            connection=connection,
            serializer=recorder_jobs.serializer(),
            job_class=VigilJob,
            name=name,
            maintenance_interval=MAINTENANCE_INTERVAL_S,
            job_monitoring_interval=JOB_MONITORING_INTERVAL_S,
            worker_ttl=WORKER_TTL_S,
        )
        worker.stop = stop
        worker.in_process = settings.recorder_jobs_in_process
        worker.horse_jobs = settings.recorder_horse_jobs
        if worker.in_process:
            warn_if_in_process_recovery_outlives_buffer(settings)
        log.info("recorder worker %s on queues %s, %s", worker.name, keys.RECORDER_QUEUE, keys.RECORDER_SLOW_QUEUE)
        last_error.error = ""
        try:
            worker.work(
                burst=args.burst,
                with_scheduler=not args.no_scheduler,
                # RQ's own INFO lines (five per job) only at DEBUG; segments are logged by us.
                logging_level="DEBUG" if settings.log_level.upper() == "DEBUG" else "WARNING",
            )
        except Exception as exc:  # any failure of the loop: log, back off, start a new worker
            last_error.error = type(exc).__name__
            log.exception("worker %s failed", worker.name)
        finally:
            if not (args.burst or stop.is_set()):
                progress.record_crash(connection, worker.name, last_error.error or "the worker loop ended")
            connection.close()
            stop.install()  # RQ's handlers raise outside its loop; ours only set the event
        if args.burst or stop.is_set():
            return 0
        delay = delays()
        log.warning("worker loop ended unexpectedly%s; starting a new worker in %.1fs",
                    f" ({last_error.error})" if last_error.error else "", delay)
        stop.wait(delay)
    return 0


def main(argv: list[str]) -> int:
    private_files()
    args = parse_args(argv)
    settings = Settings()
    context.prepare(settings)  # built once here, reused by every work horse
    setup_logging("recorder", settings.log_level, settings.log_format)
    stop = StopSignal().install()
    try:
        wait_for_database(settings, stop)
    except Exception:  # noqa: BLE001 - the retry only gives up when we are stopping
        log.info("stopped while waiting for the database")
        return 0
    if not data_dir_writable(settings):
        log.error("recordings directory %s is not writable; jobs will fail", settings.recordings_dir)
    storage.sweep_partials(settings.recordings_dir, STALE_PARTIAL_S)
    presence = Presence(settings, "recorder")
    presence.start()
    liveness = progress.Liveness(settings.redis_url, worker_name(args.name))
    liveness.start()
    runners = [] if args.burst or args.no_duties else start_duties(settings, presence)
    try:
        return run_worker(settings, args, stop)
    finally:
        for runner in runners:
            runner.stop()
        liveness.stop()
        presence.stop()


def build_duties(settings: Settings) -> list[Duty]:
    """Every feature's periodic duties for these settings (the one place that lists them)."""
    duties: list[Duty] = []
    for feature in (reconcile, retention, snapshots, motion, days, homeassistant):
        duties.extend(feature.duties(settings))
    return duties


def start_duties(settings: Settings, presence: Presence) -> list[DutyRunner]:
    """The periodic duties threads (each runs its duties only while it holds its lease): one for
    steady-paced duties (motion), one for the rest (snapshots, retention, reconcile, days)."""
    engine = make_engine(settings.effective_database_url())
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=30, socket_connect_timeout=5)
    sessions = make_sessionmaker(engine)

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        presence.bus.publish(topic, payload, qos=qos, retain=retain)

    fast, slow = split_duties(build_duties(settings))
    runners = [
        DutyRunner(DutyContext(settings, client, sessions, publish), fast, lease_key=FAST_LEADER_KEY,
                   name="duties-fast"),
        DutyRunner(DutyContext(settings, client, sessions, publish), slow),
    ]
    for runner in runners:
        runner.start()
    return runners


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
