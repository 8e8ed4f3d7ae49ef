"""Writes accepted frames to the per-camera Redis streams, pipelined, trimmed by time.

The MQTT network thread hands frames over through a bounded queue (``submit``); one writer
thread drains it in batches, XADDs them in one pipeline with ``MINID ~`` trimming, then marks
the segment windows the new entries fall into as pending (``ZADD NX``, once per window).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import redis

from vigil_common import keys, streams
from vigil_common.counters import Counters
from vigil_common.envelope import Frame
from vigil_common.lifecycle import backoff_delays
from vigil_common.windows import stream_id_ms, window_for

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PendingFrame:
    camera_id: str
    frame: Frame


class RedisClock:
    """The Redis server's clock, sampled now and then: stream ids and windows use it."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._offset_ms = 0
        self._sampled = 0.0

    def now_ms(self) -> int:
        mono = time.monotonic()
        if mono - self._sampled > 10:
            sec, usec = self._client.time()
            self._offset_ms = int(sec) * 1000 + int(usec) // 1000 - int(time.time() * 1000)
            self._sampled = mono
        return int(time.time() * 1000) + self._offset_ms


class StreamWriter:
    def __init__(
        self,
        client: redis.Redis,
        counters: Counters,
        *,
        segment_seconds: int,
        buffer_s: int,
        max_queue: int = 4096,
        batch: int = 128,
    ) -> None:
        self._client = client
        self._counters = counters
        self._segment_seconds = segment_seconds
        self._buffer_ms = buffer_s * 1000
        self._queue: queue.Queue[PendingFrame] = queue.Queue(maxsize=max_queue)
        self._batch = batch
        self._marked: dict[str, int] = {}  # camera -> last window start already marked pending
        self._clock = RedisClock(client)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-writer", daemon=True)
        self.healthy = True

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after writing what is queued (bounded by ``timeout``)."""
        self._stop.set()
        self._thread.join(timeout)

    def submit(self, camera_id: str, frame: Frame) -> bool:
        """Queue a frame for writing; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(PendingFrame(camera_id, frame))
            return True
        except queue.Full:
            self._counters.inc("vigil_ingest_dropped_total", camera=camera_id, reason="overload")
            return False

    def queued(self) -> int:
        return self._queue.qsize()

    # writer thread ----------------------------------------------------------------------
    def _take_batch(self) -> list[PendingFrame]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        items = [first]
        while len(items) < self._batch:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _run(self) -> None:
        delays = backoff_delays(0.2, 10.0)
        while not (self._stop.is_set() and self._queue.empty()):
            items = self._take_batch()
            if not items:
                continue
            while True:
                try:
                    self._write(items)
                    self.healthy = True
                    delays = backoff_delays(0.2, 10.0)
                    break
                except redis.RedisError as exc:
                    self.healthy = False
                    delay = delays()
                    log.warning("Redis write failed (%s); retrying %d frames in %.1fs", exc, len(items), delay)
                    if self._stop.wait(delay) and self._stop.is_set() and delay >= 5:
                        log.error("stopping with %d frames unwritten", len(items))
                        return

    def _write(self, items: list[PendingFrame]) -> None:
        min_id = max(0, self._clock.now_ms() - self._buffer_ms)
        pipe = self._client.pipeline(transaction=False)
        for item in items:
            pipe.xadd(
                keys.frames_stream(item.camera_id),
                streams.to_fields(item.frame),
                minid=str(min_id),
                approximate=True,
            )
        ids = pipe.execute()
        new_windows: dict[tuple[str, int], int] = {}
        for item, entry_id in zip(items, ids, strict=True):
            window = window_for(item.camera_id, stream_id_ms(entry_id), self._segment_seconds)
            if self._marked.get(item.camera_id) != window.start_ms:
                new_windows[(item.camera_id, window.start_ms)] = window.end_ms
        if new_windows:
            # If this fails the whole batch is retried: duplicate entries are harmless (the
            # recorder drops repeated seq/time pairs) but an unmarked window would be a gap.
            pipe = self._client.pipeline(transaction=False)
            for (camera_id, start_ms), end_ms in new_windows.items():
                pipe.zadd(keys.PENDING_WINDOWS, {keys.window_member(camera_id, start_ms): end_ms}, nx=True)
            pipe.execute()
            for camera_id, start_ms in new_windows:
                self._marked[camera_id] = max(start_ms, self._marked.get(camera_id, 0))
        for item in items:
            self._counters.inc("vigil_ingest_frames_total", camera=item.camera_id)
            self._counters.inc("vigil_ingest_bytes_total", len(item.frame.payload), camera=item.camera_id)
