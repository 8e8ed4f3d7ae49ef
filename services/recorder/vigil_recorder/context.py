"""Per-process resources for jobs: Settings, the database engine and a Redis client.

Jobs run in RQ work-horse processes forked from the worker. Everything here is built lazily
on first use and cached per PID: a forked child never reuses its parent's connection pool
(sharing a socket between processes corrupts both sessions) and opens its own. The worker
builds the context once, before it forks, without connecting (:func:`prepare`): each work
horse then reuses the settings (reading them is a third of a short job's own work), the engine
(its pool forgotten with ``dispose(close=False)``, SQLAlchemy's way across a fork) and the
Redis client (whose pool starts afresh in a child), and only connects.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.runtime.settings import Settings

REDIS_SOCKET_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Context:
    pid: int
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis


_lock = threading.Lock()
_current: Context | None = None


def redis_client(url: str) -> redis.Redis:
    """A binary-safe client (stream payloads are bytes) with bounded waits."""
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_SOCKET_TIMEOUT_S,
        socket_connect_timeout=5.0,
        health_check_interval=30,
    )


def build_context(settings: Settings) -> Context:
    # A work horse runs one job and exits: a small pool is plenty.
    engine = make_engine(settings.effective_database_url(), pool_size=2, max_overflow=2)
    return Context(os.getpid(), settings, engine, make_sessionmaker(engine), redis_client(settings.redis_url))


def prepare(settings: Settings) -> None:
    """Build the context for the processes this one forks (it opens no connection here)."""
    global _current
    with _lock:
        _current = build_context(settings)


def get_context() -> Context:
    """This process's context: the one :func:`prepare` built before the fork, or built from the
    environment on first use."""
    global _current
    with _lock:
        ctx = _current
        if ctx is None:
            ctx = _current = build_context(Settings())
        elif ctx.pid != os.getpid():
            # Inherited from the parent: forget its pool without closing the parent's sockets.
            # redis-py's pool notices the new pid and never hands out a parent's connection.
            ctx.engine.dispose(close=False)
            ctx = _current = replace(ctx, pid=os.getpid())
        return ctx


def reset_context() -> None:
    """Drop (and close, if it is this process's) the cached context; tests use it."""
    global _current
    with _lock:
        ctx, _current = _current, None
    if ctx is not None and ctx.pid == os.getpid():
        ctx.engine.dispose()
        ctx.redis.close()
