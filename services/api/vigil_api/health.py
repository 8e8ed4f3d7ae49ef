"""Dependency probes and the recording watchdog for /health and /metrics (cached briefly:
/health is public)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlalchemy import Engine, text

from vigil_common.contract.recording_watch import WatchReport

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0
CACHE_S = 1.0
# The recording watchdog reads the registry and a few Redis keys per camera: at most this often.
RECORDING_CACHE_S = 2.0
RECORDING_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class HealthReport:
    database: bool
    redis: bool
    mqtt: bool
    # None: not assessed (the database or Redis is down, or the check failed).
    recording: WatchReport | None = None

    @property
    def ok(self) -> bool:
        return self.database and self.redis and self.mqtt and (self.recording is None or self.recording.ok)


class HealthProbe:
    """Checks the database (SELECT 1), Redis (PING), the MQTT connection and, when the first two
    answer, whether every streaming camera is being recorded (``recording``: a blocking call
    such as :func:`vigil_common.db.recording_probe.check`, run in a thread)."""

    def __init__(self, engine: Engine, redis: aioredis.Redis, mqtt_connected: Callable[[], bool],
                 recording: Callable[[], WatchReport] | None = None) -> None:
        self._engine = engine
        self._redis = redis
        self._mqtt_connected = mqtt_connected
        self._recording = recording
        self._cached: tuple[float, HealthReport] | None = None
        self._recording_cached: tuple[float, WatchReport | None] | None = None
        self._lock = asyncio.Lock()

    def _ping_database(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    async def _database_ok(self) -> bool:
        try:
            await asyncio.wait_for(asyncio.to_thread(self._ping_database), PROBE_TIMEOUT_S)
            return True
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
            log.warning("database health check failed: %s", type(exc).__name__)
            return False

    async def _redis_ok(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), PROBE_TIMEOUT_S))
        except Exception as exc:  # noqa: BLE001
            log.warning("redis health check failed: %s", type(exc).__name__)
            return False

    async def check(self) -> HealthReport:
        async with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < CACHE_S:
                return self._cached[1]
            database, redis_ok = await asyncio.gather(self._database_ok(), self._redis_ok())
            recording = await self._recording_report() if database and redis_ok else None
            report = HealthReport(database=database, redis=redis_ok, mqtt=self._mqtt_connected(), recording=recording)
            self._cached = (time.monotonic(), report)
            return report

    async def _recording_report(self) -> WatchReport | None:
        if self._recording is None:
            return None
        now = time.monotonic()
        if self._recording_cached is not None and now - self._recording_cached[0] < RECORDING_CACHE_S:
            return self._recording_cached[1]
        try:
            report: WatchReport | None = await asyncio.wait_for(asyncio.to_thread(self._recording),
                                                                RECORDING_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - unknown, not a crash of /health
            log.warning("recording watchdog check failed: %s: %s", type(exc).__name__, exc)
            report = None
        self._recording_cached = (time.monotonic(), report)
        return report
