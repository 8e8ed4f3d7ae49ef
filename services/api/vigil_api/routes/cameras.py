"""/api/v1/cameras: the registry, commands, snapshot and the live views (MJPEG, fragmented MP4)."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Annotated

import redis
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from vigil_api.deps import API_PREFIX, Admin, CameraId, State, User, require_user
from vigil_api.errors import describe_validation_errors
from vigil_api.files import SNAPSHOTS_DIR, jpeg_file
from vigil_api.live import MEDIA_TYPE, MP4_MEDIA_TYPE, HubFullError, MjpegResponse, Mp4Response
from vigil_api.schemas.cameras import CameraOut, CameraPatch, CommandAccepted, CommandIn
from vigil_api.schemas.common import ErrorOut
from vigil_api.store import cameras as store
from vigil_api.store.cameras import camera_out
from vigil_api.store.footage import snapshot_page, snapshot_path
from vigil_common.bus.mqtt import MqttBus
from vigil_common.contract import keys, object_alerts, object_zones, recorder_jobs, streams
from vigil_common.contract.envelope import Codec
from vigil_common.contract.messages import Command, CommandAction, ConfigureParams
from vigil_common.db.models import utcnow

log = logging.getLogger(__name__)

router = APIRouter(prefix=f"{API_PREFIX}/cameras", tags=["cameras"], dependencies=[Depends(require_user)])

# Actions a viewer may send; everything else needs the admin role.
VIEWER_ACTIONS = frozenset({CommandAction.START, CommandAction.SNAPSHOT})

_errors: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "Not authenticated"},
    404: {"model": ErrorOut, "description": "Unknown camera"},
    422: {"model": ErrorOut, "description": "Invalid camera id or body"},
}


def _not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "unknown camera")


def _camera_exists(state: State, camera_id: str) -> bool:
    with state.factory() as db:
        return store.camera_row(db, camera_id) is not None


def publish_command(bus: MqttBus, topic: str, command: Command) -> None:
    """Publish QoS 1; raises 503 when the broker is not reachable right now."""
    if not bus.connected.is_set():
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "MQTT broker not connected; try again shortly")
    info = bus.publish(topic, command.model_dump_json(), qos=1)
    if info.rc != 0:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "MQTT publish failed; try again shortly")


@router.get("", response_model=list[CameraOut], responses={401: _errors[401]})
def list_cameras(state: State) -> list[CameraOut]:
    now = utcnow()
    with state.factory() as db:
        return [camera_out(c, now) for c in store.cameras_by_id(db)]


@router.get("/{camera_id}", response_model=CameraOut, responses=_errors)
def get_camera(camera_id: CameraId, state: State) -> CameraOut:
    with state.factory() as db:
        cam = store.camera_row(db, camera_id)
        if cam is None:
            raise _not_found()
        return camera_out(cam, utcnow())


@router.patch("/{camera_id}", response_model=CameraOut, responses={**_errors, 403: {"model": ErrorOut}})
def patch_camera(camera_id: CameraId, body: CameraPatch, _admin: Admin, state: State) -> CameraOut:
    """Rename, relocate, enable or disable; recording mode and motion settings (admin).

    A new name or location sets ``name_locked`` so the camera's heartbeats no longer overwrite
    it, and is pushed to the camera (best effort) as a ``configure`` command for its overlay.
    """
    changes = body.model_dump(exclude_unset=True)
    if not changes or any(v is None for k, v in changes.items() if k != "motion_sensitivity"):
        raise HTTPException(422, "give at least one of name, location, enabled, record_mode, motion_sensitivity, "
                                 "motion_mask, object_zones, notify_objects, detect_faces (not null; "
                                 "motion_sensitivity null = the server default)")
    if "motion_mask" in changes:
        mask = changes["motion_mask"]
        if any(r[2] <= 0 or r[3] <= 0 for r in mask):
            raise HTTPException(422, "motion_mask rectangles need a positive width and height")
        changes["motion_mask"] = json.dumps(mask)
    if "object_zones" in changes:
        zones = body.object_zones or []
        names = [z.name for z in zones]
        if len(set(names)) != len(names):
            raise HTTPException(422, "object_zones need distinct names")
        changes["object_zones"] = object_zones.dump(zones) if zones else None
    if "notify_objects" in changes:
        changes["notify_objects"] = object_alerts.dump(body.notify_objects or [])
    with state.writes.begin() as db:
        cam = store.camera_row(db, camera_id, for_update=True)
        if cam is None:
            raise _not_found()
        for key, value in changes.items():
            setattr(cam, key, value)
        if "name" in changes or "location" in changes:
            cam.name_locked = True
        db.flush()
        out = camera_out(cam, utcnow())
    overlay = {k: changes[k] for k in ("name", "location") if k in changes}
    if overlay and state.bus.connected.is_set():
        cmd = Command(action=CommandAction.CONFIGURE, params=overlay, request_id=uuid.uuid4().hex)
        state.bus.publish(state.topics.command(camera_id), cmd.model_dump_json(), qos=1)
    return out


@router.delete("/{camera_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**_errors, 403: {"model": ErrorOut}})
def delete_camera(
    camera_id: CameraId,
    _admin: Admin,
    state: State,
    footage: Annotated[bool, Query(description="also delete its recordings, snapshots, motion events and day "
                                               "videos (files and index rows); exports are kept")] = False,
) -> Response:
    """Remove the registry row; recordings stay unless ``footage=true``. A camera still sending
    heartbeats re-registers (disable it to silence it)."""
    # With footage=true its recordings leave the listings at once and the recorder deletes the
    # files and rows in the background (a recorder job: the recorder owns every deletion); 503
    # if its queue cannot be reached (nothing is changed then). See docs/protocol.md.
    with state.factory() as db:
        if store.camera_row(db, camera_id) is None and not (footage and store.camera_known(db, camera_id)):
            raise _not_found()
    if footage:  # (Redis before the write transaction: never while holding SQLite's lock)
        try:
            recorder_jobs.enqueue_footage_deletion(state.sync_redis, camera_id)
        except redis.RedisError as exc:
            log.warning("cannot enqueue the deletion of %s's footage: %s", camera_id, exc)
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                "the recorder's queue is unreachable; nothing was deleted") from None
    with state.writes.begin() as db:
        if footage:
            store.hide_footage(db, camera_id)
        store.forget_camera(db, camera_id)
    if footage:
        log.info("camera %s deleted; the recorder deletes its footage", camera_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{camera_id}/commands",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CommandAccepted,
    responses={**_errors, 403: {"model": ErrorOut}, 503: {"model": ErrorOut}},
)
def send_command(camera_id: CameraId, body: CommandIn, principal: User, state: State) -> CommandAccepted:
    """Forward a command over MQTT (QoS 1). Viewers may send start and snapshot; admins all."""
    if body.action not in VIEWER_ACTIONS and not principal.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"admin role required for '{body.action.value}'")
    params = body.params
    if body.action == CommandAction.CONFIGURE:
        try:
            params = ConfigureParams.model_validate(params).model_dump(exclude_none=True)
        except ValidationError as exc:
            detail, _ = describe_validation_errors([{**e, "loc": ("body", "params", *e["loc"])} for e in exc.errors()])
            raise HTTPException(422, detail) from None
        if not params:
            raise HTTPException(422, "configure needs at least one parameter")
    elif params:
        raise HTTPException(422, f"'{body.action.value}' takes no params")
    if not _camera_exists(state, camera_id):
        raise _not_found()
    command = Command(action=body.action, params=params, request_id=uuid.uuid4().hex)
    publish_command(state.bus, state.topics.command(camera_id), command)
    log.info("command %s sent to %s by %s", command.action.value, camera_id, principal.username)
    return CommandAccepted(request_id=command.request_id, action=command.action)


@router.get(
    "/{camera_id}/snapshot.jpg",
    response_class=Response,
    responses={**_errors, 200: {"content": {"image/jpeg": {}}, "description": "The newest JPEG frame"}},
)
async def snapshot(camera_id: CameraId, state: State) -> Response:
    """The newest frame in the camera's live buffer (a JPEG camera), or the newest still taken
    from a keyframe (an H.264 camera)."""
    if not await run_in_threadpool(_camera_exists, state, camera_id):
        raise _not_found()
    entries = await state.redis.xrevrange(keys.frames_stream(camera_id), count=1)
    if not entries:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no recent frame for this camera")
    try:
        frame = streams.from_fields(entries[0][1])
    except (KeyError, ValueError):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the newest frame is unreadable") from None
    if frame.codec != Codec.JPEG:
        # An H.264 frame is not a picture on its own: serve the newest still the recorder took
        # from a keyframe (every VIGIL_SNAPSHOT_INTERVAL_S), decoding nothing here.
        return await run_in_threadpool(_newest_still, state, camera_id)
    return Response(frame.payload, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _newest_still(state: State, camera_id: str) -> Response:
    with state.factory() as db:
        rows, _, _ = snapshot_page(db, camera_id, None, None, "desc", 1, 0)
        relative = snapshot_path(db, camera_id, rows[0].id) if rows else None
    if relative is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the camera sends H.264 and no still has been taken yet")
    return jpeg_file(state.settings.data_dir, SNAPSHOTS_DIR, relative, "no-store")


def _registry_codec(state: State, camera_id: str) -> str | None:
    """The codec the registry has for the camera (its heartbeats'), or None: unknown camera."""
    with state.factory() as db:
        cam = store.camera_row(db, camera_id)
        return None if cam is None else cam.codec


async def _live_codec(state: State, camera_id: str) -> Codec:
    """What the camera sends now: the newest frame's codec, else (no frame buffered) the
    registry's. 404 for an unknown camera."""
    registered = await run_in_threadpool(_registry_codec, state, camera_id)
    if registered is None:
        raise _not_found()
    entries = await state.redis.xrevrange(keys.frames_stream(camera_id), count=1)
    if entries:
        try:
            return Codec(int(entries[0][1][keys.F_CODEC]))
        except (KeyError, ValueError):
            pass
    return Codec.H264 if registered == "h264" else Codec.JPEG


_LIVE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
_live_errors: dict[int | str, dict[str, object]] = {
    **_errors,
    409: {"model": ErrorOut, "description": "The camera sends the other codec (the detail names the route to use)"},
    503: {"model": ErrorOut, "description": "Too many viewers (server-wide, the admins' reserve, or per user)"},
}


@router.get(
    "/{camera_id}/live.mjpeg",
    response_class=Response,
    responses={
        **_live_errors,
        200: {"content": {MEDIA_TYPE: {}}, "description": "Endless multipart JPEG stream"},
    },
)
async def live(camera_id: CameraId, state: State, principal: User) -> Response:
    """A ``multipart/x-mixed-replace`` stream of the camera's JPEG frames as they arrive (at most
    VIGIL_LIVE_MAX_PER_USER streams per user; the last VIGIL_LIVE_ADMIN_RESERVE of the server's
    slots are for admins). 409 for a camera that sends H.264 (use ``live.mp4``)."""
    if await _live_codec(state, camera_id) != Codec.JPEG:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            "the camera sends H.264: no MJPEG stream; use live.mp4 (Media Source Extensions)")
    try:
        viewer = state.hub.join(camera_id, principal.user_id, admin=principal.is_admin)
    except HubFullError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "10"}) from None
    return MjpegResponse(state.hub, viewer, headers=_LIVE_HEADERS)


@router.get(
    "/{camera_id}/live.mp4",
    response_class=Response,
    responses={
        **_live_errors,
        200: {"content": {MP4_MEDIA_TYPE: {}},
              "description": "Endless fragmented MP4 (chunked): the init segment (ftyp, moov), then one "
                             "moof+mdat fragment per frame from the newest keyframe on. Ends when the camera "
                             "changes its parameter sets (e.g. its size) or codec: reconnect for the new init."},
    },
)
async def live_mp4(camera_id: CameraId, state: State, principal: User) -> Response:
    """Live H.264 as fragmented MP4 for Media Source Extensions (H.264 cameras only; 409 for a
    JPEG camera: use ``live.mjpeg``). The same viewer limits as ``live.mjpeg``, counted together.
    The codec string for ``SourceBuffer`` is in the init segment's ``avcC`` (``avc1.PPCCLL``)."""
    if await _live_codec(state, camera_id) != Codec.H264:
        raise HTTPException(status.HTTP_409_CONFLICT, "the camera sends JPEG: no MP4 stream; use live.mjpeg")
    try:
        viewer = state.hub.join_mp4(camera_id, principal.user_id, admin=principal.is_admin)
    except HubFullError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "10"}) from None
    return Mp4Response(state.hub, viewer, headers=_LIVE_HEADERS)
