"""/api/v1/health (public) and /metrics (authenticated, Prometheus text)."""

from __future__ import annotations

import math
import time

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool

from vigil_api import __version__
from vigil_api.deps import API_PREFIX, State, require_user
from vigil_api.metrics import CONTENT_TYPE, collect_redis_hashes, gauge, labels, render_redis_samples
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.system import HealthOut, RecordingHealthOut
from vigil_api.state import AppState
from vigil_api.store.cameras import all_cameras, camera_out, index_totals
from vigil_common.contract.recording_watch import WatchReport
from vigil_common.db.models import utcnow
from vigil_common.runtime.settings import Settings

public = APIRouter(prefix=API_PREFIX, tags=["system"])
metrics_router = APIRouter(tags=["system"], dependencies=[Depends(require_user)])

# Counting a large segments table is not free: refresh the index gauges at most this often.
INDEX_GAUGE_TTL_S = 15.0


def recording_out(rec: WatchReport | None, settings: Settings) -> RecordingHealthOut:
    if rec is None:
        threshold = settings.recording_stall_segments * settings.segment_seconds
        return RecordingHealthOut(status="unknown", threshold_s=threshold, streaming=0, workers_alive=0)
    return RecordingHealthOut.model_validate({
        "status": "ok" if rec.ok else "stalled",
        "threshold_s": rec.threshold_s,
        "streaming": len(rec.cameras),
        "workers_alive": rec.workers_alive,
        "reason": rec.reason,
        "detail": rec.detail,
        "stalled": [{"camera_id": c.camera_id, "lag_s": lag_shown(c.lag_s), "reason": rec.reason}
                    for c in rec.stalled],
    })


def lag_shown(lag_s: float) -> float:
    """A lag to a tenth of a second, rounded up: a stalled camera's lag is over the threshold,
    so it must never read as the threshold itself (12.04 s shown as 12.0 against 12 s)."""
    return math.ceil(lag_s * 10 - 1e-9) / 10


@public.get("/health", response_model=HealthOut)
async def health(state: State, response: Response) -> HealthOut:
    """Each dependency's state and the recording watchdog's. Always 200 while the process
    serves (usable as a liveness probe); ``status`` is ``degraded`` when any dependency is down
    or a streaming camera's recording has stalled (``recording.stalled`` names the cameras).
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
            "recording": recording_out(report.recording, state.settings),
            "version": __version__,
        }
    )


def _registry_and_index_lines(state: AppState) -> list[str]:
    cached = state.index_gauges
    if cached is not None and time.monotonic() - cached[0] < INDEX_GAUGE_TTL_S:
        return cached[1]
    now = utcnow()
    with state.factory() as db:
        cams = [camera_out(c, now) for c in all_cameras(db)]
        count, total_bytes = index_totals(db)
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


def recording_lines(rec: WatchReport) -> list[str]:
    """The recording watchdog's gauges: each streaming camera's lag and whether it is stalled."""
    lines = gauge("vigil_recording_lag_seconds",
                  "Age of the oldest frame of a streaming camera that is not yet recorded.",
                  {labels(camera=c.camera_id): round(c.lag_s, 3) for c in rec.cameras})
    lines += gauge("vigil_recording_stalled",
                   "1 while a streaming camera's recording lag exceeds the watchdog's threshold.",
                   {labels(camera=c.camera_id): int(c.stalled) for c in rec.cameras})
    lines += gauge("vigil_recording_stall_threshold_seconds", "The watchdog's lag threshold.",
                   {"": rec.threshold_s})
    lines += gauge("vigil_recorder_workers_alive", "Recorder workers that sent a heartbeat recently.",
                   {"": rec.workers_alive})
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
    if report.recording is not None:
        lines += recording_lines(report.recording)
    if report.database:
        lines += await run_in_threadpool(_registry_and_index_lines, state)
    if report.redis:
        lines += render_redis_samples(await collect_redis_hashes(state.redis))
    return Response("\n".join(lines) + "\n", media_type=CONTENT_TYPE)
