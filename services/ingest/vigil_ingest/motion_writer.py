"""Motion scores measured by the cameras, to Redis: one short stream per camera
(``vigil:motion:{id}``, :func:`vigil_common.contract.keys.motion_stream`) that the recorder's
motion duty reads. Its own thread and bounded queue, so paho's network thread never waits on
Redis; batches are pipelined, and a failed write is retried with backoff, then dropped (a motion
sample is worth nothing a few seconds late)."""

from __future__ import annotations

import logging
import queue
from dataclasses import dataclass

import redis

from vigil_common.contract import keys
from vigil_common.contract.messages import MotionScore
from vigil_common.contract.streams import motion_fields
from vigil_common.runtime.counters import Counters
from vigil_common.runtime.lifecycle import backoff_delays
from vigil_ingest.background import BackgroundLoop

log = logging.getLogger(__name__)

STREAM_MAXLEN = 256  # ~2 min at 2 samples/s: the duty reads every 0.5 s
STREAM_TTL_MS = 120_000  # a camera that stops measuring leaves no key behind
MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class PendingScore:
    camera_id: str
    score: MotionScore


class MotionWriter(BackgroundLoop):
    def __init__(self, client: redis.Redis, counters: Counters, *, max_queue: int = 1024, batch: int = 128) -> None:
        super().__init__("motion-writer")
        self._client = client
        self._counters = counters
        self._queue: queue.Queue[PendingScore] = queue.Queue(maxsize=max_queue)
        self._batch = batch

    def submit(self, camera_id: str, score: MotionScore) -> bool:
        """Queue a sample; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(PendingScore(camera_id, score))
            return True
        except queue.Full:
            self._counters.inc("vigil_ingest_dropped_total", camera=camera_id, reason="motion_overload")
            return False

    def _take_batch(self) -> list[PendingScore]:
        try:
            items = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(items) < self._batch:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _run(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            items = self._take_batch()
            delays = backoff_delays(0.2, 2.0)
            for attempt in range(1, MAX_ATTEMPTS + 1):
                if not items:
                    break
                try:
                    self._write(items)
                    self.healthy = True
                    break
                except redis.RedisError as exc:
                    self.healthy = False
                    if attempt == MAX_ATTEMPTS or self._stop.is_set():
                        for item in items:
                            self._counters.inc("vigil_ingest_dropped_total", camera=item.camera_id,
                                               reason="motion_write_failed")
                        log.warning("Redis write failed (%s); dropped %d motion scores", exc, len(items))
                        break
                    self._stop.wait(delays())

    def _write(self, items: list[PendingScore]) -> None:
        pipe = self._client.pipeline(transaction=False)
        streams: set[str] = set()
        for item in items:
            stream = keys.motion_stream(item.camera_id)
            streams.add(stream)
            s = item.score
            fields = motion_fields(s.seq, s.capture_ns, s.score, s.hot)
            pipe.xadd(stream, fields, maxlen=STREAM_MAXLEN, approximate=True)
        for stream in streams:
            pipe.pexpire(stream, STREAM_TTL_MS)
        pipe.execute()
        for item in items:
            self._counters.inc("vigil_ingest_motion_scores_total", camera=item.camera_id)
