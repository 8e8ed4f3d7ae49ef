"""Enqueues exactly one recorder job per camera per closed segment window.

Windows are marked pending by the stream writer (sorted set scored by window end). Any
number of ingest processes run this loop; each due window is claimed with a short
``SET NX EX`` before it is enqueued and only then removed from the pending set, so a window
is enqueued once. A failed enqueue releases the claim at once; a crash between claim and
enqueue delays the window only by the claim's few seconds.
"""

from __future__ import annotations

import logging
from typing import cast

import redis

from vigil_common.contract import keys
from vigil_common.contract.recorder_jobs import enqueue_segment
from vigil_common.contract.windows import Window
from vigil_common.runtime.counters import Counters
from vigil_ingest.background import BackgroundLoop

log = logging.getLogger(__name__)

CLAIM_TTL_S = 10


class WindowCloser(BackgroundLoop):
    def __init__(
        self,
        client: redis.Redis,
        counters: Counters,
        *,
        segment_seconds: int,
        grace_s: float,
        interval_s: float = 0.5,
    ) -> None:
        super().__init__("window-closer")
        self._client = client
        self._counters = counters
        self._grace_ms = int(grace_s * 1000)
        self._interval = interval_s
        self._segment_seconds = segment_seconds


    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.close_due()
                self.healthy = True
            except Exception as exc:  # noqa: BLE001 - the closer must outlive any failure
                self.healthy = False
                log.warning("window closer failed (%s); will retry", exc)
                self._stop.wait(2.0)

    def _now_ms(self) -> int:
        sec, usec = self._client.time()
        return int(sec) * 1000 + int(usec) // 1000

    def close_due(self) -> list[Window]:
        """Enqueue every pending window whose end + grace has passed; returns those enqueued."""
        cutoff = self._now_ms() - self._grace_ms
        due = cast(
            "list[tuple[bytes, float]]",
            self._client.zrangebyscore(keys.PENDING_WINDOWS, "-inf", cutoff, start=0, num=500, withscores=True),
        )
        enqueued: list[Window] = []
        for raw, end_score in due:
            member = raw.decode() if isinstance(raw, bytes) else str(raw)
            try:
                camera_id, start_ms = keys.parse_window_member(member)
            except ValueError:
                self._client.zrem(keys.PENDING_WINDOWS, member)
                continue
            claim = keys.window_claim(member)
            if not self._client.set(claim, b"1", nx=True, ex=CLAIM_TTL_S):
                continue  # another ingest process has it
            # The end stored with the window, not this process's setting: a changed
            # VIGIL_SEGMENT_SECONDS never truncates or overlaps windows already marked.
            window = Window(camera_id, start_ms, int(end_score))
            try:
                enqueue_segment(self._client, camera_id, window.start_ms, window.end_ms,
                                segment_seconds=self._segment_seconds)
            except Exception:
                self._client.delete(claim)
                raise
            self._client.zrem(keys.PENDING_WINDOWS, member)
            self._counters.inc("vigil_ingest_jobs_enqueued_total", camera=camera_id)
            enqueued.append(window)
        return enqueued
