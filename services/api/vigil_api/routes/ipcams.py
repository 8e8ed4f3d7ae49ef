"""/api/v1/ip-cameras: IP cameras the server captures itself (admins).

``POST /discover`` searches the network (WS-Discovery); ``POST /onvif`` asks one device for its
profiles with the user's credentials; ``POST /`` adds a camera by its ONVIF address (the stream
URL is asked of the camera) or by its RTSP URL; ``vigil ipcams`` then captures it. Credentials
are sealed before they are stored (vigil_ipcams.secretbox), never returned and never logged.
A camera that refuses the credentials is a 400 (not 401: that would mean *our* login failed);
one that cannot be reached or does not speak ONVIF is a 502.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from vigil_ipcams import records
from vigil_ipcams.onvif_device import DeviceInfo, OnvifAddressError, OnvifAuthError, OnvifError, lookup
from vigil_ipcams.probe import discover
from vigil_ipcams.secretbox import Credentials, CredentialsKeyError, SecretBox
from vigil_ipcams.streams import (
    RECORDABLE,
    Profile,
    StreamError,
    check_rtsp_url,
    choose_profile,
    has_secret_params,
    masked,
)

from vigil_api.deps import API_PREFIX, Admin, CameraId, State, require_admin
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.ipcams import (
    DeviceOut,
    DiscoverIn,
    DiscoverOut,
    FoundOut,
    IpCameraIn,
    IpCameraList,
    IpCameraOut,
    IpCameraPatch,
    OnvifIn,
    ProfileOut,
)
from vigil_common.contract.broker_acl import RESERVED_IDS
from vigil_common.contract.onvif import parse_probe_targets
from vigil_common.db.models import Camera, IpCamera

router = APIRouter(prefix=f"{API_PREFIX}/ip-cameras", tags=["ip-cameras"], dependencies=[Depends(require_admin)])

_errors: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The camera refused the credentials, or has no H.264 stream"},
    401: {"model": ErrorOut, "description": "Not authenticated"},
    403: {"model": ErrorOut, "description": "Admin only"},
    404: {"model": ErrorOut, "description": "No such IP camera"},
    409: {"model": ErrorOut, "description": "The camera id is taken"},
    502: {"model": ErrorOut, "description": "The camera could not be reached or did not answer as ONVIF does"},
    503: {"model": ErrorOut, "description": "The network search could not be sent"},
}


def _box(state: State) -> SecretBox:
    try:
        return SecretBox.from_settings(state.settings)
    except (CredentialsKeyError, OSError) as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"credentials key unavailable: {exc}") from None


def _onvif_failure(exc: OnvifError) -> HTTPException:
    if isinstance(exc, OnvifAddressError):
        return HTTPException(422, str(exc))
    code = status.HTTP_400_BAD_REQUEST if isinstance(exc, OnvifAuthError) else status.HTTP_502_BAD_GATEWAY
    return HTTPException(code, str(exc))


async def _lookup(state: State, xaddr: str, username: str, password: str) -> DeviceInfo:
    try:
        return await lookup(xaddr, username, password, timeout_s=state.settings.onvif_probe_timeout_s + 12)
    except OnvifError as exc:
        raise _onvif_failure(exc) from None


def _out(row: IpCamera, cam: Camera | None) -> IpCameraOut:
    return IpCameraOut(
        camera_id=row.camera_id, name=cam.name if cam else row.camera_id, location=cam.location if cam else "",
        stream_uri=row.stream_uri, has_credentials=bool(row.credentials),
        source="onvif" if row.onvif_xaddr else "rtsp", onvif_xaddr=row.onvif_xaddr, onvif_urn=row.onvif_urn,
        profile_token=row.profile_token, profile=records.profile_of(row), manufacturer=row.manufacturer,
        model=row.model, enabled=row.enabled, status=cam.status if cam else "offline", created_at=row.created_at,
        updated_at=row.updated_at)


def _known_urns(state: State) -> dict[str, str]:
    with state.factory() as db:
        return records.by_urn(db)


def _why_in_use(db: Session, camera_id: str, urn: str | None) -> str | None:
    """Why ``camera_id`` (or the device ``urn``) cannot be added, or None."""
    if db.get(Camera, camera_id) is not None or records.get(db, camera_id) is not None:
        return (f"camera id {camera_id!r} is in use (a camera removed from IP cameras keeps its id "
                "until it is deleted under Cameras)")
    if urn is not None and (known := records.by_urn(db).get(urn)) is not None:
        return f"this camera is already added, as {known!r}"
    return None


def _id_in_use(state: State, camera_id: str, urn: str | None) -> str | None:
    with state.factory() as db:
        return _why_in_use(db, camera_id, urn)


def _insert(state: State, body: IpCameraIn, stream_uri: str, sealed: str | None, profile: Profile | None,
            manufacturer: str, model: str, created_by: str) -> IpCameraOut:
    try:
        with state.writes.begin() as db:
            if (why := _why_in_use(db, body.camera_id, body.urn)) is not None:  # again, in this transaction
                raise HTTPException(status.HTTP_409_CONFLICT, why)
            row = records.add(db, camera_id=body.camera_id, name=body.name, location=body.location,
                              stream_uri=stream_uri, sealed=sealed, onvif_xaddr=body.xaddr, onvif_urn=body.urn,
                              profile=profile, manufacturer=manufacturer, model=model, created_by=created_by)
            db.flush()
            return _out(row, db.get(Camera, body.camera_id))
    except IntegrityError:  # another request added the same id meanwhile
        raise HTTPException(status.HTTP_409_CONFLICT, f"camera id {body.camera_id!r} is in use") from None


@router.post("/discover", response_model=DiscoverOut, responses=_errors)
async def discover_cameras(state: State, _admin: Admin, body: DiscoverIn | None = None) -> DiscoverOut:
    """Search the network for ONVIF cameras (a WS-Discovery probe to ``VIGIL_ONVIF_PROBE_TARGETS``,
    answers gathered for ``timeout_s``). Needs no credentials; says which are already added."""
    settings = state.settings
    timeout = body.timeout_s if body and body.timeout_s else settings.onvif_probe_timeout_s
    targets = parse_probe_targets(settings.onvif_probe_targets)
    try:
        devices = await run_in_threadpool(discover, targets, timeout_s=timeout,
                                          interface=settings.onvif_probe_interface)
    except OSError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    known = await run_in_threadpool(_known_urns, state)
    return DiscoverOut(targets=settings.onvif_probe_targets, items=[
        FoundOut(urn=d.urn, xaddr=d.xaddrs[0], xaddrs=list(d.xaddrs), address=d.address, name=d.name,
                 hardware=d.hardware, location=d.location, camera_id=known.get(d.urn)) for d in devices])


@router.post("/onvif", response_model=DeviceOut, responses=_errors)
async def onvif_profiles(state: State, _admin: Admin, body: OnvifIn) -> DeviceOut:
    """Ask an ONVIF camera for its identity and profiles (``GetProfiles``, ``GetStreamUri``) with
    the given credentials; nothing is stored."""
    info = await _lookup(state, body.xaddr, body.username, body.password)
    try:
        chosen: str | None = choose_profile(list(info.profiles)).token
    except StreamError:
        chosen = None
    return DeviceOut(manufacturer=info.manufacturer, model=info.model, firmware=info.firmware, chosen=chosen,
                     profiles=[ProfileOut(token=p.token, name=p.name, encoding=p.encoding, width=p.width,
                                          height=p.height, fps=p.fps, uri=masked(p.uri),
                                          recordable=p.encoding.upper() in RECORDABLE and bool(p.uri))
                               for p in info.profiles])


@router.get("", response_model=IpCameraList, responses=_errors)
def list_ip_cameras(state: State, _admin: Admin) -> IpCameraList:
    with state.factory() as db:
        rows = records.all_rows(db)
        cams = {c.id: c for c in db.query(Camera).filter(Camera.id.in_([r.camera_id for r in rows]))}
        return IpCameraList(items=[_out(r, cams.get(r.camera_id)) for r in rows])


@router.get("/{camera_id}", response_model=IpCameraOut, responses=_errors)
def get_ip_camera(state: State, _admin: Admin, camera_id: CameraId) -> IpCameraOut:
    with state.factory() as db:
        row = records.get(db, camera_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such IP camera")
        return _out(row, db.get(Camera, camera_id))


@router.post("", response_model=IpCameraOut, status_code=status.HTTP_201_CREATED, responses=_errors)
async def add_ip_camera(state: State, admin: Admin, body: IpCameraIn) -> IpCameraOut:
    """Add an IP camera: by ``xaddr`` (ONVIF: its stream URL is asked of the camera with the
    credentials, profile ``profile_token`` or the largest H.264 one) or by ``rtsp_url``."""
    if (body.xaddr is None) == (body.rtsp_url is None):
        raise HTTPException(422, "give exactly one of xaddr (ONVIF) and rtsp_url")
    if body.camera_id in RESERVED_IDS:
        raise HTTPException(422, f"{body.camera_id!r} is reserved for a service")
    if body.password and not body.username:
        raise HTTPException(422, "a password needs its user name")
    box = await run_in_threadpool(_box, state)
    if (why := await run_in_threadpool(_id_in_use, state, body.camera_id, body.urn)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, why)
    profile: Profile | None = None
    manufacturer = model = ""
    try:
        if body.xaddr is not None:
            info = await _lookup(state, body.xaddr, body.username, body.password)
            profile = choose_profile(list(info.profiles), body.profile_token)
            stream_uri = check_rtsp_url(profile.uri)
            manufacturer, model = info.manufacturer, info.model
        else:
            stream_uri = check_rtsp_url(body.rtsp_url or "")
    except StreamError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    creds = Credentials(body.username, body.password, stream_uri if has_secret_params(stream_uri) else "")
    sealed = box.seal(creds) if creds else None
    return await run_in_threadpool(_insert, state, body, masked(stream_uri), sealed, profile, manufacturer, model,
                                   admin.username)


@router.patch("/{camera_id}", response_model=IpCameraOut, responses=_errors)
def update_ip_camera(state: State, _admin: Admin, camera_id: CameraId, body: IpCameraPatch) -> IpCameraOut:
    """Enable or disable its capture, replace its credentials (``username`` and ``password``
    together) or its RTSP URL; ``vigil ipcams`` restarts the capture with them."""
    if (body.username is None) != (body.password is None):
        raise HTTPException(422, "give username and password together (an empty username clears them)")
    try:
        rtsp_url = check_rtsp_url(body.rtsp_url) if body.rtsp_url is not None else None
    except StreamError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    if body.password and not body.username:
        raise HTTPException(422, "a password needs its user name")
    box = _box(state) if body.username is not None or rtsp_url is not None else None
    with state.writes.begin() as db:
        row = records.get(db, camera_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such IP camera")
        if body.enabled is not None:
            row.enabled = body.enabled
        if box is not None:
            try:
                old = box.open(row.credentials) if row.credentials else Credentials("", "")
            except CredentialsKeyError:
                old = Credentials("", "")  # unreadable: replaced by what this request gives
            username = body.username if body.username is not None else old.username
            password = (body.password or "") if body.username is not None else old.password
            url = old.url
            if rtsp_url is not None:
                row.stream_uri = masked(rtsp_url)
                url = rtsp_url if has_secret_params(rtsp_url) else ""
            new = Credentials(username, password, url)
            row.credentials = box.seal(new) if new else None
        db.flush()
        return _out(row, db.get(Camera, camera_id))


@router.delete("/{camera_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_errors)
def delete_ip_camera(state: State, _admin: Admin, camera_id: CameraId) -> Response:
    """Stop capturing it and forget its address and credentials; its recordings and registry
    entry stay (``DELETE /cameras/{id}`` removes those)."""
    with state.writes.begin() as db:
        row = records.get(db, camera_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such IP camera")
        db.delete(row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
