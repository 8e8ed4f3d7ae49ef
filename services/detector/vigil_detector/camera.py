"""One camera's detections, frame by frame: the model, the zones, the tracker and the store.

:meth:`CameraObjects.process` takes a decoded frame and its capture time and does the rest:
detections filtered by the camera's zones, tracks updated, close-ups cropped from this frame
for tracks whose best sighting it holds (kept in memory for tentative tracks, at most one JPEG
per track), and the store told what started, improved and ended. With a face model (the
camera's ``detect_faces``), each person's box is searched for a face too (its upper half,
:mod:`vigil_detector.faces`), and the best-scoring face of the track is kept as its face close-up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from vigil_detector.boxes import Box, Detection
from vigil_detector.closeups import closeup_jpeg
from vigil_detector.faces import FaceModel, face_region, find_faces
from vigil_detector.model import Model, detect
from vigil_detector.tracking import Track, Tracker, Update
from vigil_detector.zones import Zone, zones_for

log = logging.getLogger(__name__)
MIN_FACE_REGION = 16  # px: a person too small to show a face is not searched


class Sink(Protocol):
    def started(self, camera_id: str, track: Track, closeup: bytes, size: tuple[int, int],
                zones: list[str]) -> int: ...

    def improved(self, camera_id: str, track: Track, closeup: bytes) -> None: ...

    def ended(self, camera_id: str, track: Track) -> int | None: ...

    def face(self, camera_id: str, track: Track, closeup: bytes) -> None: ...


@dataclass
class CameraObjects:
    camera_id: str
    model: Model
    sink: Sink
    zones: Sequence[Zone] = ()
    default_zone: Zone | None = None
    tracker: Tracker = field(default_factory=Tracker)
    crops: dict[int, bytes] = field(default_factory=dict)
    track_zones: dict[int, set[str]] = field(default_factory=dict)
    faces: FaceModel | None = None  # None: this camera does not look for faces
    face_crops: dict[int, tuple[float, bytes]] = field(default_factory=dict)  # track -> (score, JPEG)

    def process(self, at_ns: int, frame: np.ndarray) -> list[Detection]:
        """Run one frame (BGR, full resolution); the detections that counted in a zone."""
        h, w = frame.shape[:2]
        counted: list[Detection] = []
        where: list[list[str]] = []
        for det in detect(self.model, frame):
            names = zones_for(det, self.zones, w, h, self.default_zone)
            if names:
                counted.append(det)
                where.append(names)
        update = self.tracker.update(at_ns, counted)
        for index, track in update.assigned:  # the zones each track has counted in
            self.track_zones.setdefault(track.id, set()).update(where[index])
        started = {t.id for t in update.started}
        for track in update.better:
            self.crops[track.id] = closeup_jpeg(frame, track.best.box)[0]
        for track in update.started:
            self.sink.started(self.camera_id, track, self.crops[track.id], (w, h),
                              sorted(self.track_zones.get(track.id, ())))
        for track in update.better:
            if track.confirmed and track.id not in started:
                self.sink.improved(self.camera_id, track, self.crops[track.id])
        if self.faces is not None:
            self._look_for_faces(frame, counted, update)
        self._settle(update)
        return counted

    def _look_for_faces(self, frame: np.ndarray, counted: list[Detection], update: Update) -> None:
        """Each person's best face so far (kept for tentative tracks too), told to the sink when
        it improves on an event, or when the track becomes one."""
        assert self.faces is not None
        h, w = frame.shape[:2]
        tell: dict[int, Track] = {t.id: t for t in update.started}
        for index, track in update.assigned:
            det = counted[index]
            if det.label != "person":
                continue
            region = face_region(det.box, w, h)
            if region.w < MIN_FACE_REGION or region.h < MIN_FACE_REGION:
                continue
            try:
                found = find_faces(self.faces, frame[region.y:region.y + region.h, region.x:region.x + region.w])
            except Exception as exc:  # noqa: BLE001 - ONNX Runtime refused the model: faces off, objects go on
                log.error("camera %s: faces off: the face model failed (%s: %s)", self.camera_id,
                          type(exc).__name__, exc)
                self.faces = None
                return
            if not found or found[0].score <= self.face_crops.get(track.id, (0.0, b""))[0]:
                continue
            b = found[0].box
            self.face_crops[track.id] = (found[0].score, closeup_jpeg(frame, Box(region.x + b.x, region.y + b.y,
                                                                                 b.w, b.h))[0])
            tell[track.id] = track
        for track in tell.values():
            if track.confirmed and track.id in self.face_crops:
                self.sink.face(self.camera_id, track, self.face_crops[track.id][1])

    def expire(self, at_ns: int) -> None:
        """End the events whose object has not been seen for the tracker's gap by ``at_ns``
        (called on the wall clock whether or not frames come)."""
        self._settle(self.tracker.update(at_ns, []))

    def _settle(self, update: Update) -> None:
        for track in (*update.ended, *update.dropped):
            self._forget(track)
        for track in update.ended:
            self.sink.ended(self.camera_id, track)

    def close(self) -> None:
        """End every open event (the camera stopped, or the detector stops)."""
        for track in self.tracker.end_all():
            self.sink.ended(self.camera_id, track)
            self._forget(track)
        self.crops.clear()
        self.track_zones.clear()
        self.face_crops.clear()

    def _forget(self, track: Track) -> None:
        self.crops.pop(track.id, None)
        self.track_zones.pop(track.id, None)
        self.face_crops.pop(track.id, None)
