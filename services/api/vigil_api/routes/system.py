"""/api/v1/health (public) and /metrics (authenticated, Prometheus text)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select

from vigil_api import __version__
from vigil_api.deps import API_PREFIX, State, require_user
from vigil_api.metrics import CONTENT_TYPE, collect_redis_hashes, gauge, labels, render_redis_samples
from vigil_api.routes.cameras import camera_out
from vigil_api.schemas import ErrorOut, HealthOut
from vigil_api.state import AppState
from vigil_common.db.models import Camera, Segment, utcnow

public = APIRouter(prefix=API_PREFIX, tags=["system"])
metrics_router = APIRouter(tags=["system"], dependencies=[Depends(require_user)])

# Counting a large segments table is not free: refresh the index gauges at most this often.
INDEX_GAUGE_TTL_S = 15.0


@public.get("/health", response_model=HealthOut)
async def health(state: State, response: Response) -> HealthOut:
    """Each dependency's state. Always 200 while the process serves (usable as a liveness
    probe); ``status`` is ``degraded`` when any dependency is down.
    """
    report = await state.health.check()
    response.headers["Cache-Control"] = "no-store"

    def word(ok: bool) -> str:
        return "ok" if ok else "error"

    return HealthOut.model_validate(
        {
            "status": "ok" if report.ok else "degraded",
            "database": word(report.database),
            "redis": word(report.redis),
            "mqtt": word(report.mqtt),
            "version": __version__,
        }
    )


def _registry_and_index_lines(state: AppState) -> list[str]:
    cached = state.index_gauges
    if cached is not None and time.monotonic() - cached[0] < INDEX_GAUGE_TTL_S:
        return cached[1]
    now = utcnow()
    with state.factory() as db:
        cams = [camera_out(c, now) for c in db.scalars(select(Camera))]
        count, total_bytes = db.execute(select(func.count(), func.coalesce(func.sum(Segment.bytes), 0))).one()
    online = sum(1 for c in cams if c.status == "online")
    lines = gauge(
        "vigil_api_cameras",
        "Cameras in the registry by effective status.",
        {labels(status="online"): online, labels(status="offline"): len(cams) - online},
    )
    lines += gauge("vigil_api_segments", "Segments in the recording index.", {"": int(count)})
    lines += gauge("vigil_api_segment_bytes", "Bytes of indexed segments.", {"": int(total_bytes)})
    state.index_gauges = (time.monotonic(), lines)
    return lines


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 401: {"model": ErrorOut}},
)
async def metrics(state: State) -> Response:
    """Prometheus exposition: API request metrics, live-view gauges, dependency states,
    registry/index gauges and every service's counters kept in Redis.
    """
    report = await state.health.check()
    lines = state.request_metrics.render()
    lines += gauge("vigil_api_live_viewers", "Connected live.mjpeg viewers.", {"": state.hub.viewers})
    lines += [
        "# HELP vigil_api_live_frames_total JPEG frames handed to live viewers.",
        "# TYPE vigil_api_live_frames_total counter",
        f"vigil_api_live_frames_total {state.hub.frames_out}",
    ]
    lines += gauge("vigil_api_live_readers", "Redis stream readers serving live viewers.", {"": state.hub.readers})
    lines += gauge(
        "vigil_api_dependency_up",
        "1 if the dependency answered its health check.",
        {
            labels(dependency="database"): int(report.database),
            labels(dependency="redis"): int(report.redis),
            labels(dependency="mqtt"): int(report.mqtt),
        },
    )
    if report.database:
        lines += await run_in_threadpool(_registry_and_index_lines, state)
    if report.redis:
        lines += render_redis_samples(await collect_redis_hashes(state.redis))
    return Response("\n".join(lines) + "\n", media_type=CONTENT_TYPE)
