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

from vigil_common import keys
from vigil_common.windows import Window

if TYPE_CHECKING:
    import redis
    from rq import Queue
    from rq.job import Job
    from rq.serializers import Serializer

RECORD_JOB = "vigil_recorder.jobs.record_segment"
DAY_JOB = "vigil_recorder.days.assemble_day"
EXPORT_JOB = "vigil_recorder.exports.run_export"
# The only functions a recorder worker runs, whatever a job in Redis names.
ENTRY_POINTS = frozenset({RECORD_JOB, DAY_JOB, EXPORT_JOB})
RETRY_INTERVALS = [2, 10, 30]


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
    from rq import Retry

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
        "retry": Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
        "job_timeout": job_timeout_s(segment_seconds),
        "result_ttl": 3600,
        "failure_ttl": 7 * 24 * 3600,
        "description": description,
    }
    if delay is not None:
        return segments.enqueue_in(delay, RECORD_JOB, *args, **options)
    return segments.enqueue(RECORD_JOB, *args, **options)
