"""What the composition root builds once per app and hands to routes (``app.state.vigil``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis import Redis as SyncRedis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vigil_api.health import HealthProbe
from vigil_api.live import LiveHub
from vigil_api.metrics import Family, RequestMetrics
from vigil_common.bus.mqtt import MqttBus
from vigil_common.bus.presence import Presence
from vigil_common.contract.topics import Topics
from vigil_common.runtime.settings import Settings


@dataclass
class AppState:
    settings: Settings
    topics: Topics
    engine: Engine
    factory: sessionmaker[Session]  # reads
    # Transactions that write. On SQLite they begin IMMEDIATE (the write lock first): SQLite
    # ignores SELECT ... FOR UPDATE, so a read-then-write (the last-admin check, the failed-login
    # counter) would race another request's without it. On PostgreSQL: the same as ``factory``.
    writes: sessionmaker[Session]
    write_engine: Engine  # the engine of ``writes`` (``engine`` itself on PostgreSQL)
    redis: aioredis.Redis
    sync_redis: SyncRedis  # for work done in worker threads (the login throttle)
    presence: Presence  # the MQTT connection (publishing commands) with the service's presence
    hub: LiveHub
    health: HealthProbe
    request_metrics: RequestMetrics = field(default_factory=RequestMetrics)
    # (monotonic time, exposition lines) of the registry/index gauges, refreshed lazily.
    registry_gauges: tuple[float, list[Family]] | None = None

    @property
    def bus(self) -> MqttBus:
        return self.presence.bus
