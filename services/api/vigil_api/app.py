"""Composition root: ``create_app(settings)`` wires the database, Redis, MQTT, live hub,
middleware and routes. Connections are opened in the lifespan and closed in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis
from fastapi import FastAPI
from redis import Redis as SyncRedis
from starlette.middleware.trustedhost import TrustedHostMiddleware

from vigil_api import __version__
from vigil_api.deps import API_PREFIX
from vigil_api.errors import CatchAllMiddleware, install_handlers
from vigil_api.headers import SecurityHeadersMiddleware
from vigil_api.health import HealthProbe
from vigil_api.limits import DEFAULT_LIMIT, LOGIN_LIMIT, BodyLimitMiddleware
from vigil_api.live import LiveHub
from vigil_api.metrics import RequestMetrics, RequestMetricsMiddleware
from vigil_api.routes import (
    auth,
    cameras,
    days,
    events,
    exports,
    ipcams,
    notifications,
    recordings,
    snapshots,
    storage,
    system,
    users,
    webhooks,
)
from vigil_api.routes import (
    settings as settings_routes,
)
from vigil_api.schemas.common import COMMON_ERRORS
from vigil_api.state import AppState
from vigil_common.bus.presence import Presence
from vigil_common.contract.recording_watch import WatchReport
from vigil_common.contract.topics import Topics
from vigil_common.db import recording_probe
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.users import bootstrap_admin
from vigil_common.runtime.lifecycle import backoff_delays
from vigil_common.runtime.settings import Settings

log = logging.getLogger(__name__)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")

SERVICE_NAME = "api"
MAX_LIVE_VIEWERS = 64

def _print_generated_password(password: str) -> None:
    print(  # shown once to the operator, on purpose
        f"\n  Vigil admin account created.\n  username: admin\n  password: {password}\n"
        "  (shown once; set VIGIL_ADMIN_PASSWORD or use `vigil user passwd admin` to change it)\n",
        flush=True,
    )


def _bootstrap_once(state: AppState, on_password: Callable[[str], None]) -> None:
    secret = state.settings.admin_password
    generated = bootstrap_admin(state.writes, secret.get_secret_value() if secret else None)
    if generated:
        on_password(generated)


async def _bootstrap_until_done(state: AppState, on_password: Callable[[str], None]) -> None:
    """Create/reset the admin; if the database is not up yet, keep trying with backoff."""
    delays = backoff_delays(1.0, 30.0)
    while True:
        try:
            await asyncio.to_thread(_bootstrap_once, state, on_password)
            return
        except Exception as exc:  # noqa: BLE001 - any failure: retry, the API stays up (degraded)
            delay = delays()
            log.warning("admin bootstrap failed (%s); retrying in %.0fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)


def _build_state(settings: Settings) -> AppState:
    topics = Topics(settings.topic_prefix)
    engine = make_engine(settings.effective_database_url())
    redis = aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=3, socket_timeout=10, health_check_interval=30
    )
    presence = Presence(settings, SERVICE_NAME, client_id=f"vigil-api-{secrets.token_hex(4)}", max_queued=1000)
    factory = make_sessionmaker(engine)
    write_engine = (make_engine(settings.effective_database_url(), sqlite_immediate=True)
                    if engine.dialect.name == "sqlite" else engine)
    sync_redis = SyncRedis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=5)

    def recording() -> WatchReport:
        with factory() as db:
            return recording_probe.check(settings, db, sync_redis)

    return AppState(
        settings=settings,
        topics=topics,
        engine=engine,
        factory=factory,
        write_engine=write_engine,
        writes=factory if write_engine is engine else make_sessionmaker(write_engine),
        redis=redis,
        sync_redis=sync_redis,
        presence=presence,
        hub=LiveHub(redis, max_viewers=MAX_LIVE_VIEWERS, max_per_user=settings.live_max_per_user,
                    admin_reserve=settings.live_admin_reserve),
        health=HealthProbe(engine, redis, presence.bus.connected.is_set, recording),
    )


def create_app(
    settings: Settings,
    *,
    frontend_dir: Path | None = None,
    bootstrap: bool = True,
    on_generated_password: Callable[[str], None] = _print_generated_password,
) -> FastAPI:
    """Build the API. ``frontend_dir`` (the web app, if it has an ``index.html``) is served at
    ``/``; without one only the API is served. ``bootstrap`` creates or resets the admin account
    at startup.
    """
    request_metrics = RequestMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = _build_state(settings)
        state.request_metrics = request_metrics
        app.state.vigil = state
        # For the server's signal handler (main thread, outside the loop): end live streams.
        loop = asyncio.get_running_loop()
        app.state.begin_shutdown = lambda: loop.call_soon_threadsafe(state.hub.end_streams)
        state.presence.start()
        background: asyncio.Task[None] | None = None
        if bootstrap:
            try:  # usually the database is up: be ready before serving the first login
                await asyncio.to_thread(_bootstrap_once, state, on_generated_password)
            except Exception as exc:  # noqa: BLE001
                log.warning("database not ready (%s); admin bootstrap continues in the background", exc)
                background = asyncio.create_task(_bootstrap_until_done(state, on_generated_password))
        log.info("api ready (version %s)", __version__)
        try:
            yield
        finally:
            if background is not None:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
            await state.hub.close()
            await asyncio.to_thread(state.presence.stop)
            await state.redis.aclose()
            state.sync_redis.close()
            state.engine.dispose()
            state.write_engine.dispose()
            log.info("api stopped")

    app = FastAPI(
        title="Vigil API",
        version=__version__,
        description="Self-hosted CCTV / NVR. Authenticate with the session cookie from "
        "POST /api/v1/auth/login (send X-CSRF-Token on writes) or an API token as "
        "`Authorization: Bearer <token>`.",
        openapi_url="/openapi.json",
        docs_url=None,  # Swagger UI loads scripts from a CDN: incompatible with our CSP
        redoc_url=None,
        lifespan=lifespan,
        # No "add a trailing slash" redirect: its Location was built from the request's Host
        # header, so a forged Host made the API redirect to any site (issue 12).
        redirect_slashes=False,
    )
    install_handlers(app)
    # Added innermost first: metrics sees every response, including the catch-all's 500s.
    app.add_middleware(BodyLimitMiddleware, default=DEFAULT_LIMIT, per_path={f"{API_PREFIX}/auth/login": LOGIN_LIMIT})
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestMetricsMiddleware, metrics=request_metrics)
    if "*" not in settings.allowed_hosts:  # outermost: a foreign Host gets 400 before anything runs
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=[*settings.allowed_hosts, *LOOPBACK_HOSTS])

    # Routers carry their full paths, so route templates (metrics labels) are absolute.
    routers = (system.public, auth.public, auth.router, cameras.router, snapshots.router, days.router,
               recordings.router, exports.router, events.router, notifications.router, users.router, storage.router,
               settings_routes.router, webhooks.router, ipcams.router, system.metrics_router)
    for router in routers:
        app.include_router(router, responses=COMMON_ERRORS)

    if frontend_dir is not None and (frontend_dir / "index.html").is_file():
        # Low priority: checked only when no API route matched.
        app.frontend("/", directory=frontend_dir)
    return app


def find_frontend_dir(*candidates: Path) -> Path | None:
    """The web app (``frontend/``: plain ES modules, no build step) of the first candidate
    directory that has one."""
    for base in candidates:
        path = base / "frontend"
        if (path / "index.html").is_file():
            return path
    return None
