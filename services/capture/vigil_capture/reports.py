"""Building the contract's heartbeat and retained-state messages (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

from vigil_capture import __version__
from vigil_capture.config import CaptureConfig
from vigil_capture.stats import StatsSnapshot
from vigil_common.contract.messages import CameraState, Heartbeat


def build_heartbeat(
    *,
    camera_id: str,
    seq: int,
    now: datetime,
    streaming: bool,
    measured_fps: float,
    config: CaptureConfig,
    stats: StatsSnapshot,
    source_kind: str,
    uptime_s: float,
    codec: str = "jpeg",
) -> Heartbeat:
    last_frame_at = datetime.fromtimestamp(stats.last_frame_ns / 1e9, UTC) if stats.last_frame_ns is not None else None
    return Heartbeat(
        camera_id=camera_id,
        seq=seq,
        sent_at=now,
        streaming=streaming,
        fps=round(measured_fps, 2),
        fps_target=float(config.fps),
        frames_sent=stats.frames_sent,
        frames_dropped=stats.frames_dropped,
        last_frame_at=last_frame_at,
        width=config.width,
        height=config.height,
        codec=codec,
        source=source_kind,
        name=config.name,
        location=config.location,
        uptime_s=round(max(0.0, uptime_s), 3),
        version=__version__,
    )


def build_state(
    *,
    camera_id: str,
    streaming: bool,
    config: CaptureConfig,
    source_kind: str,
    now: datetime,
    last_request_id: str,
    codec: str = "jpeg",
) -> CameraState:
    return CameraState(
        camera_id=camera_id,
        streaming=streaming,
        fps_target=float(config.fps),
        width=config.width,
        height=config.height,
        quality=config.quality,
        overlay=config.overlay,
        codec=codec,
        source=source_kind,
        name=config.name,
        location=config.location,
        updated_at=now,
        last_request_id=last_request_id,
    )
