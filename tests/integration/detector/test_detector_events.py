"""Frames through the default model into object events: tracks, zones, close-ups on disk and
rows in PostgreSQL (vigil_detector.camera, vigil_detector.store)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest

from tests.integration.detector.test_detector_models import FRAME, scene
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_detector.camera import CameraObjects
from vigil_detector.model import Model, default_spec, load
from vigil_detector.store import EventStore
from vigil_detector.tracking import NS_PER_S, Tracker
from vigil_detector.zones import WHOLE_FRAME, Zone

pytestmark = pytest.mark.integration

T0 = 1_764_000_000 * NS_PER_S


@pytest.fixture(scope="module")
def yolo() -> Model:
    return load(default_spec())


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[EventStore]:
    engine = make_engine(database_url)
    try:
        yield EventStore(make_sessionmaker(engine), tmp_path / "data", ZoneInfo("UTC"))
    finally:
        engine.dispose()


def feed(cam: CameraObjects, photo: str, xs: list[int], y: int = 200, then_blank_s: float = 6.0) -> None:
    """The photo at each x, half a second apart, then blank frames until the track's gap runs out."""
    t = T0
    for x in xs:
        frame, _ = scene(photo, (x, y))
        cam.process(t, frame)
        t += NS_PER_S // 2
    blank = np.full((*FRAME, 3), 90, np.uint8)
    end = t + int(then_blank_s * NS_PER_S)
    while t <= end:
        cam.process(t, blank)
        t += NS_PER_S


def test_a_person_walking_by_is_one_event_with_a_close_up(yolo: Model, store: EventStore) -> None:
    cam = CameraObjects("cam-door", yolo, store, tracker=Tracker(max_gap_s=5, min_hits=2))
    feed(cam, "astronaut.png", [400, 430, 460, 490])
    [event] = store.events("cam-door")
    assert event.label == "person" and event.zones == WHOLE_FRAME and event.end is not None
    assert (event.end - event.start).total_seconds() == pytest.approx(1.5)
    assert (event.width, event.height) == (1280, 720)
    track = json.loads(event.track)
    assert len(track) == 4 and [p[1] for p in track] == sorted(p[1] for p in track)  # walking right
    assert event.closeup_path is not None and event.closeup_path.startswith("closeups/cam-door/")
    img = cv2.imread(str(store.data_dir / event.closeup_path))
    assert img is not None and img.shape[0] >= 300 and img.shape[1] >= 250  # the person at full size
    assert not list(store.data_dir.rglob("*.partial"))


def test_a_stray_frame_is_no_event_and_two_kinds_are_two(yolo: Model, store: EventStore) -> None:
    cam = CameraObjects("cam-yard", yolo, store, tracker=Tracker(max_gap_s=5, min_hits=2))
    feed(cam, "astronaut.png", [400])  # seen once: never confirmed
    assert store.events("cam-yard") == []
    frame, _ = scene("astronaut.png", (40, 200))
    cat, c = scene("chelsea.png", (820, 300))
    frame[c.y:c.y + c.h, c.x:c.x + c.w] = cat[c.y:c.y + c.h, c.x:c.x + c.w]
    t = T0 + 100 * NS_PER_S
    for k in range(3):
        cam.process(t + k * NS_PER_S // 2, frame)
    cam.close()
    assert sorted(e.label for e in store.events("cam-yard")) == ["cat", "person"]
    assert all(e.end is not None for e in store.events("cam-yard"))


def test_zones_and_labels_decide_what_becomes_an_event(yolo: Model, store: EventStore) -> None:
    porch = Zone("porch", ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)), labels=frozenset({"person"}))
    cam = CameraObjects("cam-porch", yolo, store, zones=[porch], tracker=Tracker(max_gap_s=5, min_hits=2))
    feed(cam, "astronaut.png", [40, 60, 80])  # a person, but on the left half: not on the porch
    feed(cam, "chelsea.png", [820, 830, 840])  # on the porch, but a cat
    assert store.events("cam-porch") == []
    feed(cam, "astronaut.png", [800, 820, 840])  # a person on the porch
    [event] = store.events("cam-porch")
    assert event.label == "person" and event.zones == "porch"


@pytest.fixture(scope="module")
def face_model():  # type: ignore[no-untyped-def]
    from vigil_detector.faces import FaceModel

    return FaceModel()


def test_a_camera_with_faces_keeps_the_persons_best_face(yolo: Model, store: EventStore, face_model) -> None:  # type: ignore[no-untyped-def]
    """``detect_faces``: CenterFace in the upper half of each person's box; the best face is
    stored next to the close-up. A cat has none, and a camera without faces stores none."""
    cam = CameraObjects("cam-faces", yolo, store, tracker=Tracker(max_gap_s=5, min_hits=2), faces=face_model)
    feed(cam, "astronaut.png", [400, 430, 460, 490], y=200)
    [event] = store.events("cam-faces")
    assert event.face_path is not None and event.face_path.endswith("_face.jpg")
    face = cv2.imread(str(store.data_dir / event.face_path))
    person = cv2.imread(str(store.data_dir / event.closeup_path))  # type: ignore[arg-type]
    assert face is not None and person is not None
    # The astronaut's face: about a fifth of the photo's width (360 px scale), much smaller than
    # the person's close-up, and taller than wide.
    assert 64 <= face.shape[1] < person.shape[1] / 2 and face.shape[0] >= face.shape[1] * 0.9
    cats = CameraObjects("cam-cat", yolo, store, tracker=Tracker(max_gap_s=5, min_hits=2), faces=face_model)
    feed(cats, "chelsea.png", [700, 720, 740])
    [cat] = store.events("cam-cat")
    assert cat.label == "cat" and cat.face_path is None
    plain = CameraObjects("cam-plain", yolo, store, tracker=Tracker(max_gap_s=5, min_hits=2))
    feed(plain, "astronaut.png", [400, 430, 460])
    [person_event] = store.events("cam-plain")
    assert person_event.face_path is None
