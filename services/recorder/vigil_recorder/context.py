"""Per-process resources for jobs: Settings, the database engine and a Redis client.

Jobs run in RQ work-horse processes forked from the worker. Everything here is built lazily
on first use and cached per PID: a forked child never reuses its parent's connection pool
(sharing a socket between processes corrupts both sessions) and builds its own. The settings,
plain data read once from the environment, are the one thing a work horse takes from its
parent (:func:`inherit_settings`): reading them is a third of a short job's own work.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

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
_inherited: Settings | None = None


def inherit_settings(settings: Settings | None) -> None:
    """Let every process forked from this one use ``settings`` instead of reading them again."""
    global _inherited
    _inherited = settings


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


def get_context() -> Context:
    """This process's context, built from the environment on first use (and after a fork)."""
    global _current
    with _lock:
        ctx = _current
        if ctx is None or ctx.pid != os.getpid():
            if ctx is not None:
                # Inherited from the parent: forget its pool without closing the parent's sockets.
                ctx.engine.dispose(close=False)
            ctx = build_context(_inherited if _inherited is not None else Settings())
            _current = ctx
        return ctx


def reset_context() -> None:
    """Drop (and close, if it is this process's) the cached context; tests use it."""
    global _current
    with _lock:
        ctx, _current = _current, None
    if ctx is not None and ctx.pid == os.getpid():
        ctx.engine.dispose()
        ctx.redis.close()
