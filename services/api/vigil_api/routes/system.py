"""/api/v1/health (public) and /metrics (authenticated, Prometheus text)."""

from __future__ import annotations

import math
import time

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool

from vigil_api import __version__
from vigil_api.deps import API_PREFIX, State, require_user
from vigil_api.metrics import CONTENT_TYPE, Family, exposition, family, read_redis_hashes, redis_families
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.system import HealthOut, RecordingHealthOut
from vigil_api.state import AppState
from vigil_api.storage_counts import published
from vigil_api.store.cameras import all_cameras, camera_out
from vigil_common.contract import keys, storage_figures
from vigil_common.contract.recorder_jobs import queue as recorder_queue
from vigil_common.contract.recording_watch import WatchReport
from vigil_common.db.models import utcnow
from vigil_common.runtime.settings import Settings

public = APIRouter(prefix=API_PREFIX, tags=["system"])
metrics_router = APIRouter(tags=["system"], dependencies=[Depends(require_user)])

# The registry's gauges are refreshed at most this often.
REGISTRY_GAUGE_TTL_S = 15.0


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


def _registry_families(state: AppState) -> list[Family]:
    """The registry's gauges (cameras by status, and each camera's fps, drops and online
    state as it last reported), read at most once per ``REGISTRY_GAUGE_TTL_S``."""
    cached = state.registry_gauges
    if cached is not None and time.monotonic() - cached[0] < REGISTRY_GAUGE_TTL_S:
        return cached[1]
    now = utcnow()
    with state.factory() as db:
        rows = all_cameras(db)
        cams = [(c, camera_out(c, now)) for c in rows]
    online = sum(1 for _, out in cams if out.status == "online")
    families = [
        family("vigil_api_cameras", {("online",): online, ("offline",): len(cams) - online}),
        family("vigil_camera_online", {(c.id,): int(out.status == "online") for c, out in cams}),
        family("vigil_camera_fps", {(c.id,): float(c.fps or 0.0) for c, _ in cams}),
        family("vigil_camera_capture_dropped_frames", {(c.id,): int(c.frames_dropped or 0) for c, _ in cams}),
    ]
    state.registry_gauges = (time.monotonic(), families)
    return families


def recording_families(rec: WatchReport) -> list[Family]:
    """The recording watchdog's gauges: each streaming camera's lag and whether it is stalled."""
    return [
        family("vigil_recording_lag_seconds", {(c.camera_id,): round(c.lag_s, 3) for c in rec.cameras}),
        family("vigil_recording_stalled", {(c.camera_id,): int(c.stalled) for c in rec.cameras}),
        family("vigil_recording_stall_threshold_seconds", {(): rec.threshold_s}),
        family("vigil_recorder_workers_alive", {(): rec.workers_alive}),
    ]


def _redis_families(state: AppState) -> list[Family]:
    """The services' counters and gauges, the recorder queues' depths and the storage figures
    of the last retention pass, unless older than ``storage_figures.FRESH_S`` (the recorder is
    down: no figures rather than old ones). None of it counts the index."""
    client = state.sync_redis
    families = redis_families(read_redis_hashes(client))
    families.append(family("vigil_recorder_queue_jobs", {
        (name,): recorder_queue(client, name).count for name in (keys.RECORDER_QUEUE, keys.RECORDER_SLOW_QUEUE)}))
    counted = published(client)
    now = time.time()
    if counted is not None and now - counted.updated_at.timestamp() <= storage_figures.FRESH_S:
        families.append(family("vigil_storage_bytes", {
            ("segments",): counted.bytes_segments, ("snapshots",): counted.bytes_snapshots,
            ("day_videos",): counted.bytes_day_videos}))
        families.append(family("vigil_storage_camera_bytes", {(c,): b for c, (_, b) in counted.per_camera.items()}))
        families.append(family("vigil_storage_camera_segments",
                               {(c,): n for c, (n, _) in counted.per_camera.items()}))
        # The gauges /metrics had before it stopped counting the index itself, same names.
        segments = client.hget(keys.STORAGE, "segments")
        if segments is not None and segments.isdigit():
            families.append(family("vigil_api_segments", {(): int(segments)}))
        families.append(family("vigil_api_segment_bytes", {(): counted.bytes_segments}))
    free = storage_figures.read(client, now).free  # None when stale, as above
    if free is not None:
        families.append(family("vigil_storage_free_bytes", {(): free}))
    return families


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 401: {"model": ErrorOut}},
)
async def metrics(state: State) -> Response:
    """Prometheus exposition (docs/operations.md#metrics lists every metric): API request
    metrics, live-view gauges, dependency states, registry and storage gauges and every
    service's counters kept in Redis.
    """
    report = await state.health.check()
    families = [
        family("vigil_api_live_viewers", {(): state.hub.viewers}),
        family("vigil_api_live_frames_total", {(): state.hub.frames_out}),
        family("vigil_api_live_readers", {(): state.hub.readers}),
        family("vigil_api_dependency_up", {("database",): int(report.database), ("redis",): int(report.redis),
                                           ("mqtt",): int(report.mqtt)}),
    ]
    if report.recording is not None:
        families += recording_families(report.recording)
    if report.database:
        families += await run_in_threadpool(_registry_families, state)
    if report.redis:
        families += await run_in_threadpool(_redis_families, state)
    return Response(exposition(state.request_metrics, families), media_type=CONTENT_TYPE)
