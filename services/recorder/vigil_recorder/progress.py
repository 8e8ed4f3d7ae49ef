"""What the recorder tells the recording watchdog (vigil_common.contract.recording_watch) through Redis:
how far each camera is recorded, when its worker loop fails, and when the disk is full.
Best effort: a Redis hiccup here must not fail a segment that is already safe on disk."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import redis

from vigil_common.contract import keys
from vigil_common.contract.ids import require_camera_id

log = logging.getLogger(__name__)

# A window is finished when its footage is indexed (or there was none to keep). "expired" is not:
# its frames were trimmed before it was recorded, and a recorder that only expires windows is
# recording nothing. "waiting" (motion-only) is decided later.
FINISHED = frozenset({"written", "exists", "empty", "skipped", "conflict"})
CRASH_HISTORY_S = 3600
DISK_FULL_TTL_S = 3600
ALIVE_EVERY_S = 1.0
ALIVE_TTL_S = 5


def mark_finished(client: redis.Redis, summary: Mapping[str, Any]) -> bool:
    """Advance the camera's recorded-through mark to the window's end (never backwards)."""
    if summary.get("status") not in FINISHED:
        return False
    try:
        cam = require_camera_id(str(summary["camera_id"]))
        client.zadd(keys.RECORDED_THROUGH, {cam: int(summary["end_ms"])}, gt=True)
        return True
    except redis.RedisError as exc:
        log.warning("could not publish recording progress: %s", exc)
        return False


def mark_disk_full(client: redis.Redis) -> None:
    try:
        client.set(keys.RECORDER_DISK_FULL, repr(time.time()), ex=DISK_FULL_TTL_S)
    except redis.RedisError as exc:
        log.warning("could not publish the disk-full mark: %s", exc)


def record_crash(client: redis.Redis, instance: str, error: str) -> None:
    """One failure of a worker loop (``error``: the exception's type, or a short phrase)."""
    now = time.time()
    try:
        pipe = client.pipeline(transaction=False)
        pipe.zadd(keys.RECORDER_CRASHES, {f"{instance}:{now:.3f}": now})
        pipe.zremrangebyscore(keys.RECORDER_CRASHES, "-inf", now - CRASH_HISTORY_S)
        pipe.set(keys.RECORDER_LAST_CRASH, error[:80], ex=CRASH_HISTORY_S)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not publish the worker failure: %s", exc)


class Liveness(threading.Thread):
    """This recorder process is running: ``keys.recorder_alive(instance)`` refreshed every second
    (TTL 5 s) from its own thread and its own Redis connection, named so the watchdog can see it
    in CLIENT LIST. A SIGSTOPped process keeps the connection and loses the key; a dead one loses
    both. Independent of RQ's heartbeats, which come only between jobs or every few seconds."""

    def __init__(self, redis_url: str, instance: str) -> None:
        super().__init__(name="liveness", daemon=True)
        self.instance = instance
        self.key = keys.recorder_alive(instance)
        self.client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=3,
                                           client_name=f"{keys.RECORDER_CLIENT_PREFIX}{instance}")
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.client.set(self.key, repr(time.time()), ex=ALIVE_TTL_S)
            except redis.RedisError:
                pass  # Redis away: the watchdog cannot read anything either
            self._stop_event.wait(ALIVE_EVERY_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)
        try:
            self.client.delete(self.key)
        except redis.RedisError:
            pass
        self.client.close()
