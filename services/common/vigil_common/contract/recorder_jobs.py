"""The recorder's jobs: one place for their names, the queues' serializer, and how a segment job
is enqueued (its id, retries and timeouts; used by ingest's window closer and by the recorder
when a motion-only window must wait).

Every queue and job is read and written with RQ's JSON serializer, never pickle: unpickling a
job is running code, and whatever can write to Redis could write a job. The recorder's worker
then refuses any job that is not one of :data:`ENTRY_POINTS` (vigil_recorder.main).

Server side only (needs ``rq``, imported when called)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from vigil_common.contract import keys
from vigil_common.contract.days import parse_day
from vigil_common.contract.exports import require_export_id
from vigil_common.contract.ids import require_camera_id
from vigil_common.contract.windows import Window

if TYPE_CHECKING:
    import redis
    from rq import Queue
    from rq.job import Job
    from rq.serializers import Serializer

RECORD_JOB = "vigil_recorder.jobs.record_segment"
DAY_JOB = "vigil_recorder.days.assemble_day"
EXPORT_JOB = "vigil_recorder.exports.run_export"
DELETE_FOOTAGE_JOB = "vigil_recorder.jobs.delete_footage"
# The only functions a recorder worker runs, whatever a job in Redis names.
ENTRY_POINTS = frozenset({RECORD_JOB, DAY_JOB, EXPORT_JOB, DELETE_FOOTAGE_JOB})
FOOTAGE_JOB_TIMEOUT_S = 600
RETRY_INTERVALS = [2, 10, 30]
# How long RQ keeps a finished job's result, and a failed job (for `vigil health`, the watchdog).
RESULT_TTL_S = 3600
FAILURE_TTL_S = 7 * 24 * 3600
# Day videos and exports: long remuxes on the slow queue.
SLOW_JOB_TIMEOUT_S = 3 * 3600
# A slow job's temporary file older than this was left by a killed job (none runs that long).
SLOW_PARTIAL_STALE_S = SLOW_JOB_TIMEOUT_S + 600
# A job in one of these states will run (or is running): do not enqueue it again.
ACTIVE_STATUSES = frozenset({"queued", "started", "deferred", "scheduled"})


def serializer() -> Serializer:
    from rq.serializers import JSONSerializer

    return JSONSerializer


def queue(client: redis.Redis, name: str = keys.RECORDER_QUEUE) -> Queue:
    """A recorder queue (``keys.RECORDER_QUEUE`` or ``keys.RECORDER_SLOW_QUEUE``), JSON jobs."""
    from rq import Queue

    return Queue(name, connection=client, serializer=serializer())


def fetch(client: redis.Redis, job_id: str) -> Job:
    """A recorder job by id (raises rq's NoSuchJobError)."""
    from rq.job import Job

    return Job.fetch(job_id, connection=client, serializer=serializer())


def _retry() -> Any:
    from rq import Retry

    return Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS)


def job_timeout_s(segment_seconds: int) -> int:
    """A hung job is killed well before the Redis buffer (default 120 s) trims its frames."""
    return max(60, 6 * segment_seconds)


def enqueue_segment(
    client: redis.Redis,
    camera_id: str,
    start_ms: int,
    end_ms: int,
    *,
    segment_seconds: int,
    waits: int = 0,
    delay: timedelta | None = None,
) -> Any:
    """Enqueue ``record_segment(camera_id, start_ms, end_ms[, waits])``; with ``delay`` it is
    scheduled (the recorder workers run RQ's scheduler). Re-enqueues for a waiting window get
    their own job id so they never overwrite the job that is running."""
    segments = queue(client)
    job_id = Window(camera_id, start_ms, end_ms).job_id
    args: tuple[Any, ...] = (camera_id, start_ms, end_ms)
    description = f"segment {camera_id} @ {start_ms}"
    if waits:
        job_id += f"-w{waits}"
        args += (waits,)
        description += f" (motion wait {waits})"
    options: dict[str, Any] = {
        "job_id": job_id,
        "retry": _retry(),
        "job_timeout": job_timeout_s(segment_seconds),
        "result_ttl": RESULT_TTL_S,
        "failure_ttl": FAILURE_TTL_S,
        "description": description,
    }
    if delay is not None:
        return segments.enqueue_in(delay, RECORD_JOB, *args, **options)
    return segments.enqueue(RECORD_JOB, *args, **options)


def day_job_id(camera_id: str, day: str) -> str:
    """The job id of a camera-day's video (one id per camera-day, so enqueueing is idempotent)."""
    return f"day-{require_camera_id(camera_id)}-{parse_day(day).isoformat()}"


def export_job_id(export_id: str) -> str:
    return f"export-{require_export_id(export_id)}"


def status(client: redis.Redis, job_id: str) -> str | None:
    """The job's status (an ``rq.job.JobStatus``, a ``str``), or None if there is no such job
    (never enqueued, or expired)."""
    from rq.exceptions import NoSuchJobError

    try:
        return fetch(client, job_id).get_status(refresh=False)
    except NoSuchJobError:
        return None


def is_active(client: redis.Redis, job_id: str) -> bool:
    return status(client, job_id) in ACTIVE_STATUSES


def _enqueue_slow(client: redis.Redis, func: str, args: tuple[str, ...], job_id: str, description: str) -> Job:
    return queue(client, keys.RECORDER_SLOW_QUEUE).enqueue(
        func, args=args, job_id=job_id, job_timeout=SLOW_JOB_TIMEOUT_S, result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S, description=description)


def enqueue_day(client: redis.Redis, camera_id: str, day: str, *, checked: bool = False) -> bool:
    """Enqueue the day video's assembly (``assemble_day(camera_id, day)``) unless that
    camera-day's job is already queued or running (RQ would queue a second copy under the same
    id; ``checked``: the caller has just seen it is not). Returns whether it enqueued. Two
    callers racing may still both enqueue; the job's lock and currency check make the second
    run cheap."""
    job_id = day_job_id(camera_id, day)
    if not checked and is_active(client, job_id):
        return False
    _enqueue_slow(client, DAY_JOB, (require_camera_id(camera_id), parse_day(day).isoformat()), job_id,
                  f"day video {camera_id} {day}")
    return True


def enqueue_export(client: redis.Redis, export_id: str, camera_id: str) -> Job:
    """Enqueue ``run_export(export_id)`` (its row is written first)."""
    return _enqueue_slow(client, EXPORT_JOB, (require_export_id(export_id),), export_job_id(export_id),
                         f"export {camera_id}")


def cancel_if_queued(client: redis.Redis, job_id: str) -> None:
    """Cancel a job that has not started yet (a running one finds its row gone and stops)."""
    from rq.exceptions import NoSuchJobError

    try:
        job = fetch(client, job_id)
    except NoSuchJobError:
        return
    if job.get_status(refresh=False) == "queued":
        job.cancel()


def enqueue_footage_deletion(client: redis.Redis, camera_id: str) -> Job:
    """Enqueue ``delete_footage(camera_id)`` on the fast queue (each job deletes a chunk and
    enqueues the next; the recorder owns every deletion of footage). Each job has its own id:
    a second request, or a continuation, never overwrites a job that is running."""
    return queue(client).enqueue(
        DELETE_FOOTAGE_JOB, args=(require_camera_id(camera_id),), job_timeout=FOOTAGE_JOB_TIMEOUT_S,
        retry=_retry(), result_ttl=RESULT_TTL_S, failure_ttl=FAILURE_TTL_S, description=f"delete footage {camera_id}")
