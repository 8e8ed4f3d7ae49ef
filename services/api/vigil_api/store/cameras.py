"""Cameras as the API shows them: which exist, their effective status, the row as served."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from vigil_api.schemas.cameras import CameraOut
from vigil_common.contract import object_alerts, object_zones
from vigil_common.contract.messages import OFFLINE, ONLINE
from vigil_common.db.models import Camera, Segment, Snapshot

# A camera whose last message is older than this is shown offline whatever its row says.
HEARTBEAT_INTERVAL_S = 5.0  # the cameras' default
STALE_AFTER = timedelta(seconds=3 * HEARTBEAT_INTERVAL_S)


def camera_known(db: Session, camera_id: str) -> bool:
    """In the registry, or has footage (deleting a camera from the registry keeps its footage)."""
    return bool(db.scalar(select(or_(
        exists().where(Camera.id == camera_id),
        exists().where(Segment.camera_id == camera_id),
    ))))


def camera_has_snapshots_or_row(db: Session, camera_id: str) -> bool:
    """In the registry, or deleted from it but with snapshots left (footage outlives the row)."""
    registered = select(Camera.id).where(Camera.id == camera_id)
    has_snapshots = select(Snapshot.id).where(Snapshot.camera_id == camera_id)
    return bool(db.scalar(select(exists(registered) | exists(has_snapshots))))


def camera_out(cam: Camera, now: datetime) -> CameraOut:
    heard = max((t for t in (cam.last_seen, cam.last_heartbeat_at) if t is not None), default=None)
    return CameraOut(
        id=cam.id,
        name=cam.name,
        location=cam.location,
        status="online" if effective_status(cam.status, heard, now) == ONLINE else "offline",
        enabled=cam.enabled,
        streaming=cam.streaming,
        fps=cam.fps,
        fps_target=cam.fps_target,
        width=cam.width,
        height=cam.height,
        codec=cam.codec,
        source=cam.source,
        version=cam.version,
        frames_sent=cam.frames_sent,
        frames_dropped=cam.frames_dropped,
        first_seen=cam.first_seen,
        last_seen=cam.last_seen,
        last_heartbeat_at=cam.last_heartbeat_at,
        name_locked=cam.name_locked,
        record_mode="motion" if cam.record_mode == "motion" else "continuous",
        motion_sensitivity=cam.motion_sensitivity,
        motion_mask=_mask_of(cam.motion_mask),
        object_zones=object_zones.parse(cam.object_zones),
        notify_objects=object_alerts.parse(cam.notify_objects),
        detect_faces=bool(cam.detect_faces),
    )


def _mask_of(text: str | None) -> list[list[float]]:
    try:
        doc = json.loads(text) if text else []
    except ValueError:
        return []
    return [[float(v) for v in r] for r in doc if isinstance(r, list) and len(r) == 4] if isinstance(doc, list) else []




def effective_status(row_status: str, last_seen: datetime | None, now: datetime) -> str:
    """``online`` only if the registry says so and the camera was heard from recently."""
    if row_status != ONLINE or last_seen is None:
        return OFFLINE
    return ONLINE if now - last_seen <= STALE_AFTER else OFFLINE


def all_cameras(db: Session) -> Sequence[Camera]:
    return db.scalars(select(Camera)).all()


def camera_row(db: Session, camera_id: str, *, for_update: bool = False) -> Camera | None:
    return db.get(Camera, camera_id, with_for_update=for_update)


def cameras_by_id(db: Session) -> Sequence[Camera]:
    return db.scalars(select(Camera).order_by(Camera.id)).all()


def hide_footage(db: Session, camera_id: str) -> None:
    """Mark the camera's segments deleting: gone from listings now; the recorder's deletion
    job (or retention, after a crash) removes them."""
    db.execute(update(Segment).where(Segment.camera_id == camera_id).values(deleting=True))


def forget_camera(db: Session, camera_id: str) -> None:
    """The registry row (footage stays unless deleted apart)."""
    cam = db.get(Camera, camera_id)
    if cam is not None:
        db.delete(cam)
