"""The ``ip_cameras`` table: what the API's IP camera routes and ``vigil ipcams`` read and write.

A camera added here also gets its registry row (name and location locked, as ``vigil camera
add`` does), so it is listed before its first frame; deleting the IP camera stops its capture
and keeps the camera's recordings (delete the camera itself for those)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil_common.db.models import Camera, IpCamera
from vigil_ipcams.secretbox import Credentials, CredentialsKeyError, SecretBox
from vigil_ipcams.streams import Profile, with_credentials


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What one capture process is started with; ``url`` carries the credentials."""

    camera_id: str
    name: str = field(compare=False)  # a rename needs no restart (the registry's name wins)
    location: str = field(compare=False)
    url: str = ""

    def __repr__(self) -> str:
        return f"RunSpec(camera_id={self.camera_id!r}, name={self.name!r})"


def profile_json(profile: Profile | None) -> str | None:
    if profile is None:
        return None
    return json.dumps({"name": profile.name, "encoding": profile.encoding, "width": profile.width,
                       "height": profile.height, "fps": profile.fps})


def profile_of(row: IpCamera) -> dict[str, Any] | None:
    if not row.profile:
        return None
    try:
        value = json.loads(row.profile)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def all_rows(db: Session) -> list[IpCamera]:
    return list(db.scalars(select(IpCamera).order_by(IpCamera.camera_id)))


def get(db: Session, camera_id: str) -> IpCamera | None:
    return db.get(IpCamera, camera_id)


def by_urn(db: Session) -> dict[str, str]:
    """WS-Discovery endpoint -> camera id, for "Find cameras" to show what is already added."""
    return {urn: cam for urn, cam in db.execute(select(IpCamera.onvif_urn, IpCamera.camera_id))
            if urn is not None}


def add(db: Session, *, camera_id: str, name: str, location: str, stream_uri: str, sealed: str | None,
        onvif_xaddr: str | None = None, onvif_urn: str | None = None, profile: Profile | None = None,
        manufacturer: str = "", model: str = "", created_by: str | None = None) -> IpCamera:
    """Insert the IP camera (the caller checked the id is free) and its registry row."""
    row = IpCamera(camera_id=camera_id, stream_uri=stream_uri, credentials=sealed, onvif_xaddr=onvif_xaddr,
                   onvif_urn=onvif_urn, profile_token=profile.token if profile else None,
                   profile=profile_json(profile), manufacturer=manufacturer[:128], model=model[:128],
                   enabled=True, created_by=created_by)
    db.add(row)
    cam = db.get(Camera, camera_id)
    if cam is None:
        db.add(Camera(id=camera_id, name=name or camera_id, location=location, name_locked=True, enabled=True,
                      source="rtsp"))
    else:
        cam.name, cam.location, cam.name_locked = name or cam.name, location, True
    return row


def desired(db: Session, box: SecretBox) -> tuple[dict[str, RunSpec], dict[str, str]]:
    """(camera id -> what to run) for every enabled IP camera whose registry camera exists and is enabled,
    and (camera id -> why not) for those whose credentials cannot be opened."""
    specs: dict[str, RunSpec] = {}
    problems: dict[str, str] = {}
    rows = db.execute(select(IpCamera, Camera).outerjoin(Camera, Camera.id == IpCamera.camera_id)
                      .where(IpCamera.enabled.is_(True)))
    for ip, cam in rows:
        if cam is None or not cam.enabled:  # the camera deleted or disabled under Cameras
            continue
        creds = Credentials("", "")
        if ip.credentials:
            try:
                creds = box.open(ip.credentials)
            except CredentialsKeyError as exc:  # say so, run the others
                problems[ip.camera_id] = str(exc)
                continue
        specs[ip.camera_id] = RunSpec(ip.camera_id, cam.name, cam.location,
                                      with_credentials(creds.url or ip.stream_uri, creds.username, creds.password))
    return specs, problems
