"""The detector service's loop: motion-gated frames from the cameras' Redis streams through the
model into object events.

Every tick (``1 / VIGIL_DETECTOR_FPS`` seconds at most):

- the cameras (enabled ones in the registry, with their object zones, every 10 s) and which of
  them have motion now (an open ``motion_events`` row: the recorder's motion duty keeps those for
  every camera, measured at the edge or on the server);
- a camera with motion is due once per ``1 / VIGIL_DETECTOR_FPS``, any other once per
  ``VIGIL_DETECTOR_HEARTBEAT_S`` (a parked car that moves no pixel still gets looked at);
- a due camera's newest frame that decodes alone and was not looked at before (JPEG: the newest
  entry; H.264: the newest IDR picture with its SPS/PPS, so at most one per keyframe interval) is
  decoded at full resolution and run (:class:`vigil_detector.camera.CameraObjects`);
- every camera's tracks age on the wall clock, so an event ends when its object has not been seen
  for ``VIGIL_DETECTOR_GAP_S`` whether or not frames still come.

Several detector processes share the cameras: each looks only at those it owns
(:mod:`vigil_detector.sharing`). A frame that does not decode is counted and logged (once per
camera and minute) and skipped.
With a ``publish`` function, every event is also told on MQTT (:mod:`vigil_detector.announce`).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract import object_zones
from vigil_common.contract.envelope import Codec
from vigil_common.contract.topics import Topics
from vigil_common.db.models import Camera, MotionEvent
from vigil_common.media.frame_buffer import Latest, newest_entries, newest_keyframe
from vigil_common.media.stills import ImageError, to_bgr
from vigil_common.runtime.counters import Counters
from vigil_common.runtime.logsetup import RateLimitedLog
from vigil_common.runtime.settings import Settings
from vigil_detector import fetch
from vigil_detector.announce import Announcer, Publish
from vigil_detector.boxes import Layout
from vigil_detector.camera import CameraObjects, Sink
from vigil_detector.faces import FaceModel
from vigil_detector.model import Backend, Model, ModelSpec, default_spec, read_labels
from vigil_detector.sharing import MEMBER_TTL_S, Membership, owner
from vigil_detector.store import EventStore
from vigil_detector.tracking import Tracker
from vigil_detector.zones import WHOLE_FRAME, Zone, from_contract

log = logging.getLogger(__name__)
CAMERAS_REFRESH_S = 10.0


def model_spec(settings: Settings) -> ModelSpec:
    """The model the settings name (the default YOLOv3-tiny when none is named)."""
    common = {"input_w": settings.detector_input_size, "input_h": settings.detector_input_size,
              "threads": settings.detector_threads, "score_threshold": settings.detector_min_score}
    if not settings.detector_model:
        return default_spec(fetch.default_model_dir(), **common)
    path = Path(settings.detector_model)
    labels = read_labels(Path(settings.detector_model_labels)) if settings.detector_model_labels else ()
    return ModelSpec(path=path, labels=labels, layout=Layout(settings.detector_layout),
                     backend=Backend(settings.detector_backend),
                     config=Path(settings.detector_model_config) if settings.detector_model_config else None,
                     **common)


@dataclass
class CameraState:
    objects: CameraObjects
    last_run: float = float("-inf")  # monotonic
    last_entry: str | None = None  # the newest entry looked at (or examined, for H.264)
    zones_text: str | None = None  # the registry's object_zones as last applied


@dataclass
class Counts:
    frames: int = 0
    undecodable: int = 0
    detections: int = 0
    by_camera: dict[str, int] = field(default_factory=dict)


class DetectorService:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], client: redis.Redis, model: Model,
                 *, publish: Publish | None = None, monotonic: Callable[[], float] = time.monotonic,
                 wall_ns: Callable[[], int] = time.time_ns, instance: str | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self.client = client
        self.model = model
        self.monotonic = monotonic
        self.wall_ns = wall_ns
        self.store = EventStore(sessions, settings.data_dir, settings.tz)
        self.announcer = Announcer(self.store, publish, Topics(settings.topic_prefix)) if publish else None
        self.sink: Sink = self.announcer or self.store
        self.default_zone = Zone(WHOLE_FRAME, (), labels=settings.event_labels(),
                                 min_score=settings.detector_min_score)
        self.cameras: dict[str, CameraState] = {}
        self.counts = Counts()
        self.counters = Counters()  # for /metrics (flushed by the main loop)
        self._refreshed = float("-inf")
        self._undecodable_log = RateLimitedLog(log, 60.0)
        self._faces: FaceModel | None = None
        self._faces_failed = False
        self.membership = Membership(client, instance or f"{socket.gethostname()}-{os.getpid()}",
                                     clock=lambda: self.wall_ns() / 1e9)

    def tick(self) -> int:
        """One pass over the cameras; the number of frames run through the model."""
        now = self.monotonic()
        if now - self._refreshed >= CAMERAS_REFRESH_S:
            self._refresh_cameras()
            self._refreshed = now
        moving = self._cameras_with_motion()
        due = [cam for cam, st in self.cameras.items() if now - st.last_run >= self._interval(cam in moving)]
        ran = 0
        if due:
            newest = newest_entries(self.client, due)
            for cam in due:
                state = self.cameras[cam]
                state.last_run = now
                entry = self._frame_to_run(cam, state, newest.get(cam))
                if entry is not None and self._run(cam, state, entry):
                    ran += 1
        at = self.wall_ns()
        for state in self.cameras.values():
            state.objects.expire(at)
        return ran

    def close(self) -> None:
        """End every open event and leave the members (the service stops): the others take
        this process's cameras at their next refresh."""
        for state in self.cameras.values():
            state.objects.close()
        try:
            self.membership.leave()
        except redis.RedisError as exc:
            log.warning("could not leave the detector members (%s); they drop this one in %.0f s", exc,
                        MEMBER_TTL_S)

    def _interval(self, moving: bool) -> float:
        if moving:
            return 1.0 / self.settings.detector_fps
        return self.settings.detector_heartbeat_s or float("inf")

    def _refresh_cameras(self) -> None:
        with self.sessions() as s:
            rows = s.execute(select(Camera.id, Camera.object_zones, Camera.detect_faces)
                             .where(Camera.enabled.is_(True))).all()
        members = self.membership.members()
        mine = {r.id: r.object_zones for r in rows if owner(r.id, members) == self.membership.instance}
        enabled = {r.id for r in rows}
        faces = {r.id for r in rows if r.detect_faces}
        for cam in list(self.cameras):
            if cam not in mine:  # disabled or deleted, or another detector process owns it now
                if self.announcer and cam in enabled:
                    self.announcer.camera_handed_over(cam)  # the new owner keeps its retained state
                self.cameras.pop(cam).objects.close()
                if self.announcer and cam not in enabled:
                    self.announcer.camera_removed(cam)
        for cam, stored in mine.items():
            state = self.cameras.get(cam)
            if state is None:
                tracker = Tracker(max_gap_s=self.settings.detector_gap_s, min_hits=self.settings.detector_min_hits)
                state = self.cameras[cam] = CameraState(CameraObjects(
                    cam, self.model, self.sink, default_zone=self.default_zone, tracker=tracker))
                if stale := self.store.end_stale(cam):
                    log.info("camera %s: %d object event(s) left open by an earlier detector ended", cam, stale)
                if self.announcer:
                    self.announcer.camera_added(cam)
            if stored != state.zones_text:  # the zones changed in the registry (or are new)
                state.zones_text = stored
                state.objects.zones = from_contract(object_zones.parse(stored))
            state.objects.faces = self._face_model() if cam in faces else None

    def _face_model(self) -> FaceModel | None:
        """The face model, loaded the first time a camera asks for faces (None if it cannot be:
        logged once, and those cameras get object events without faces)."""
        if self._faces is None and not self._faces_failed:
            try:
                self._faces = FaceModel(threads=self.settings.detector_threads)
                log.info("face model loaded: %s", self._faces.path.name)
            except Exception as exc:  # noqa: BLE001 - a missing or damaged file, whatever ONNX Runtime says
                self._faces_failed = True
                log.error("faces are off: the face model cannot be loaded (%s: %s)", type(exc).__name__, exc)
        return self._faces

    def _cameras_with_motion(self) -> set[str]:
        with self.sessions() as s:
            return set(s.execute(select(MotionEvent.camera_id).where(MotionEvent.end.is_(None)).distinct()).scalars())

    def _frame_to_run(self, cam: str, state: CameraState, newest: Latest | None) -> Latest | None:
        if newest is None or newest.entry_id == state.last_entry:
            return None
        if newest.frame.codec == Codec.JPEG:
            state.last_entry = newest.entry_id
            return newest
        keyframe = newest_keyframe(self.client, cam, newest_id=newest.entry_id, after_id=state.last_entry)
        state.last_entry = newest.entry_id  # everything up to here has been examined
        return keyframe

    def _run(self, cam: str, state: CameraState, entry: Latest) -> bool:
        try:
            image = to_bgr(entry.frame)
        except ImageError as exc:
            self.counts.undecodable += 1
            self.counters.inc("vigil_detector_undecodable_total", camera=cam)
            self._undecodable_log.warning(cam, "camera %s: frame %s not decoded: %s", cam, entry.entry_id, exc)
            return False
        started = time.perf_counter()
        found = state.objects.process(entry.frame.capture_ns, image)
        self.counters.observe("vigil_detector_frame_seconds", time.perf_counter() - started)
        self.counters.inc("vigil_detector_frames_total", camera=cam)
        self.counts.frames += 1
        self.counts.detections += len(found)
        self.counts.by_camera[cam] = self.counts.by_camera.get(cam, 0) + 1
        return True
