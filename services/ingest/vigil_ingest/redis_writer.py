"""Writes accepted frames to the per-camera Redis streams, pipelined, trimmed by time.

The MQTT network thread hands frames over through a bounded queue (``submit``); one writer
thread drains it in batches and sends each batch as one pipeline on one connection: first a
``ZADD NX`` marking the batch's segment window(s) pending, then the XADDs (``MINID ~``
trimming), then a PEXPIRE per camera so a quiet camera's stream goes away. Redis runs one
connection's commands in order, and AOF and RDB keep them in that order, so no frame can land
in Redis without its window having been marked first, even across Redis restarts or batches
cut off half way (a retried batch may add an entry twice: the recorder drops repeats).

Redis assigns the entry ids (its clock decides the window); the writer predicts the window
from a sampled Redis clock and, within ``BOUNDARY_MARGIN_MS`` of a window edge, marks both
neighbours. A spare mark only yields an empty job. (A Lua script doing XADD+ZADD per frame
was exact but copied every payload through Lua: a third of the throughput lost. MULTI/EXEC
added a QUEUED reply per command and bought nothing the command order does not give.)
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass

import redis

from vigil_common.contract import keys, streams
from vigil_common.contract.envelope import Frame
from vigil_common.runtime.counters import Counters
from vigil_common.runtime.lifecycle import backoff_delays
from vigil_ingest.background import BackgroundLoop
from vigil_ingest.resp import CommandPacker
from vigil_ingest.validate import AcceptedFrame

log = logging.getLogger(__name__)


# Clock error allowed for when predicting which window Redis will put an entry in.
BOUNDARY_MARGIN_MS = 1000


def windows_to_mark(now_ms: int, segment_ms: int, margin_ms: int = BOUNDARY_MARGIN_MS) -> list[int]:
    """Window starts an entry written at about ``now_ms`` may fall into (1, or 2 near an edge)."""
    start = now_ms - now_ms % segment_ms
    starts = [start]
    if now_ms - start < margin_ms:
        starts.insert(0, start - segment_ms)
    if start + segment_ms - now_ms <= margin_ms:
        starts.append(start + segment_ms)
    return starts


@dataclass(frozen=True, slots=True)
class PendingFrame:
    camera_id: str
    frame: Frame | AcceptedFrame  # AcceptedFrame: the image is a view into the MQTT message


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


class StreamWriter(BackgroundLoop):
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
        super().__init__("stream-writer")
        self._client = client
        self._counters = counters
        self._segment_seconds = segment_seconds
        self._buffer_ms = buffer_s * 1000
        self._queue: queue.Queue[PendingFrame] = queue.Queue(maxsize=max_queue)
        self._batch = batch
        self._segment_ms = segment_seconds * 1000
        self._clock = RedisClock(client)
        self._declared: set[str] = set()  # cameras whose drop counter exists (at 0 if nothing dropped)

    @property
    def queued(self) -> int:
        """Frames waiting to be written (approximate, as ``Queue.qsize`` is)."""
        return self._queue.qsize()

    def submit(self, camera_id: str, frame: Frame | AcceptedFrame) -> bool:
        """Queue a frame for writing; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(PendingFrame(camera_id, frame))
            return True
        except queue.Full:
            self._counters.inc("vigil_ingest_dropped_total", camera=camera_id, reason="overload")
            return False

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
            while items:
                try:
                    self._write(items)
                    self.healthy = True
                    delays = backoff_delays(0.2, 10.0)
                    items = []
                except Exception as exc:  # noqa: BLE001 - the writer thread must outlive any failure
                    self.healthy = False
                    if self._stop.is_set():
                        self._drop(items, "shutdown")
                        items = []
                        break
                    delay = delays()
                    log.warning("Redis write failed (%s); retrying %d frames in %.1fs", exc, len(items), delay)
                    self._stop.wait(delay)
        leftover: list[PendingFrame] = []
        while not self._queue.empty():
            leftover.append(self._queue.get_nowait())
        self._drop(leftover, "shutdown")

    def _drop(self, items: list[PendingFrame], reason: str) -> None:
        for item in items:
            self._counters.inc("vigil_ingest_dropped_total", camera=item.camera_id, reason=reason)
        if items:
            log.error("dropped %d frames that could not be written (%s)", len(items), reason)

    def _write(self, items: list[PendingFrame]) -> None:
        now_ms = self._clock.now_ms()
        min_id = b"%d" % max(0, now_ms - self._buffer_ms)
        # A stream outlives its last frame by the buffer plus a segment, then expires.
        expire_ms = self._buffer_ms + 2 * self._segment_ms
        starts = windows_to_mark(now_ms, self._segment_ms)
        per_camera: dict[str, list[int]] = {}
        stream_of: dict[str, bytes] = {}  # key names checked once per camera, not per frame
        for item in items:
            counts = per_camera.get(item.camera_id)
            if counts is None:
                counts = per_camera[item.camera_id] = [0, 0]
                if item.camera_id not in self._declared and len(self._declared) < 100_000:
                    self._declared.add(item.camera_id)
                    self._counters.inc("vigil_ingest_dropped_total", 0, camera=item.camera_id, reason="overload")
                stream_of[item.camera_id] = keys.frames_stream(item.camera_id).encode()
            counts[0] += 1
            counts[1] += len(item.frame.payload)
        batch = CommandPacker()
        marks: list[bytes | str | int] = [b"ZADD", keys.PENDING_WINDOWS, b"NX"]
        for camera_id in per_camera:
            for start in starts:
                marks += [start + self._segment_ms, keys.window_member(camera_id, start)]
        batch.add(marks)  # before the frames: see the module's docstring
        for item in items:
            frame = item.frame
            batch.add_bytes([b"XADD", stream_of[item.camera_id], b"MINID", b"~", min_id, b"*",
                             *streams.entry_fields(frame, frame.payload)])
        for stream in stream_of.values():
            batch.add([b"PEXPIRE", stream, expire_ms])
        self._send(batch)
        for camera_id, (frames, nbytes) in per_camera.items():
            self._counters.inc("vigil_ingest_frames_total", frames, camera=camera_id)
            self._counters.inc("vigil_ingest_bytes_total", nbytes, camera=camera_id)

    def _send(self, batch: CommandPacker) -> None:
        """Send a packed batch and read every reply; an error reply raises ``ResponseError``.

        On any failure the connection is dropped, so a retry starts on a clean one (never
        reading the replies of an earlier attempt).
        """
        pool = self._client.connection_pool
        conn = pool.get_connection()
        try:
            conn.send_packed_command(batch.packed())
            failure: redis.ResponseError | None = None
            for _ in range(batch.commands):
                try:
                    conn.read_response()
                except redis.ResponseError as exc:  # the other replies still have to be read
                    failure = failure or exc
            if failure is not None:
                raise failure
        except BaseException:
            conn.disconnect()
            raise
        finally:
            pool.release(conn)
