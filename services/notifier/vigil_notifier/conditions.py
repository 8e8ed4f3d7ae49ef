"""Reading the system conditions the notifier alerts on, from what the services already write
to Redis: the recorder's RQ failed-job registries, ``vigil:storage`` (free bytes, written by
the recorder's retention) and ingest's ``vigil_ingest_dropped_total`` counters; and Redis's own
memory use against its ``maxmemory`` (INFO memory)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from vigil_common.contract import keys, storage_figures
from vigil_common.contract.metrics import parse_field

DROPPED = "vigil_ingest_dropped_total"


@dataclass(frozen=True, slots=True)
class Sample:
    failed_jobs: int | None  # total in the recorder queues' failed registries
    bytes_free: int | None
    dropped: dict[str, int]  # camera -> frames dropped by ingest (not counting disabled cameras)
    redis_used: int | None = None  # bytes (INFO memory used_memory)
    redis_max: int | None = None  # bytes (maxmemory; 0 = no limit)


def failed_job_count(client: redis.Redis) -> int:
    from rq import Queue
    from rq.registry import FailedJobRegistry

    total = 0
    for name in (keys.RECORDER_QUEUE, keys.RECORDER_SLOW_QUEUE):
        total += FailedJobRegistry(queue=Queue(name, connection=client)).count
    return total


def parse_dropped(fields: Mapping[Any, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for raw, value in fields.items():
        name = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        parsed = parse_field(name)
        if parsed is None or parsed.metric.name != DROPPED:
            continue
        labels = dict(parsed.labels)
        camera = labels.get("camera")
        if not camera or labels.get("reason") == "disabled":
            continue
        try:
            out[camera] = out.get(camera, 0) + int(value)
        except ValueError:
            continue
    return out


def sample(client: redis.Redis, now: float) -> Sample:
    failed = failed_job_count(client)
    bytes_free = storage_figures.read(client, now).free
    dropped = parse_dropped(client.hgetall(keys.metrics_hash("ingest")))
    memory = client.info("memory")
    used, limit = memory.get("used_memory"), memory.get("maxmemory")
    return Sample(failed, bytes_free, dropped, used if isinstance(used, int) else None,
                  limit if isinstance(limit, int) else None)


def redis_memory_high(used: int | None, limit: int | None, percent: float) -> bool:
    """Redis near its maxmemory: once full, every XADD is refused and ingest drops frames.
    Without a limit (0) Redis grows until the machine runs out; nothing to compare against."""
    if used is None or not limit:
        return False
    return used >= limit * percent / 100


def disk_low(bytes_free: int | None, floor: int | None) -> bool:
    """At the floor: retention is deleting footage to stay above it (5 % margin)."""
    if bytes_free is None or not floor:
        return False
    return bytes_free < floor * 1.05
