"""Dependency probes for /health and /metrics (cached briefly: /health is public)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0
CACHE_S = 1.0


@dataclass(frozen=True, slots=True)
class HealthReport:
    database: bool
    redis: bool
    mqtt: bool

    @property
    def ok(self) -> bool:
        return self.database and self.redis and self.mqtt


class HealthProbe:
    """Checks the database (SELECT 1), Redis (PING) and the MQTT connection."""

    def __init__(self, engine: Engine, redis: aioredis.Redis, mqtt_connected: Callable[[], bool]) -> None:
        self._engine = engine
        self._redis = redis
        self._mqtt_connected = mqtt_connected
        self._cached: tuple[float, HealthReport] | None = None
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
            report = HealthReport(database=database, redis=redis_ok, mqtt=self._mqtt_connected())
            self._cached = (time.monotonic(), report)
            return report
