"""How a segment job is enqueued: one place for its name, id, retries and timeouts (used by
ingest's window closer and by the recorder when a motion-only window must wait).

Server side only (needs ``rq``, imported when called)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from vigil_common import keys
from vigil_common.windows import Window

if TYPE_CHECKING:
    import redis

RECORD_JOB = "vigil_recorder.jobs.record_segment"
RETRY_INTERVALS = [2, 10, 30]


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
    from rq import Queue, Retry

    queue = Queue(keys.RECORDER_QUEUE, connection=client)
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
        return queue.enqueue_in(delay, RECORD_JOB, *args, **options)
    return queue.enqueue(RECORD_JOB, *args, **options)
