"""The demo camera (``vigil capture --source scene``) shows what the default model finds: a
person, a cat and a motorbike walk through a still yard in turn, and the yard between them is
empty. Its frames go through YOLOv3-tiny here; the whole path (camera -> detector -> events,
MQTT) is in test_detector_mqtt.py and the demo stack's test."""

from __future__ import annotations

import numpy as np
import pytest

from vigil_capture.main import build_source
from vigil_capture.scene import STAY_S, VISIT_S, WALK_S, SceneSource
from vigil_capture.settings import CaptureSettings
from vigil_capture.sources import SourceError, SourceKind, parse_source
from vigil_detector.model import default_spec, detect, load

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def yolo():  # type: ignore[no-untyped-def]
    return load(default_spec())


@pytest.mark.parametrize("size", [(640, 360), (1280, 720)])
def test_each_visitor_is_found_while_in_the_yard_and_nothing_when_it_is_empty(yolo, size) -> None:  # type: ignore[no-untyped-def]
    scene = SceneSource(*size, clock=lambda: 0.0)
    scene.open()
    for visit, label in enumerate(("person", "cat", "motorbike")):
        start = visit * VISIT_S
        for into in (WALK_S * 0.75, WALK_S + STAY_S / 2, WALK_S + STAY_S + WALK_S / 4):
            where = scene.placement(start + into)
            assert where is not None and where.index == visit
            found = detect(yolo, scene.render(start + into))
            assert [d.label for d in found] == [label], (label, into, found)
            box = found[0].box
            # The box lies where the photo was pasted (bottom on the ground line, half the height).
            assert abs(box.y + box.h - round(size[1] * 0.92)) <= 0.08 * size[1], (label, box)
        empty = start + 2 * WALK_S + STAY_S + 1.0
        assert scene.placement(empty) is None
        assert detect(yolo, scene.render(empty)) == []


def test_the_scene_moves_and_repeats() -> None:
    scene = SceneSource(640, 360, clock=lambda: 0.0)
    scene.open()
    a, b = scene.render(WALK_S + 1.0), scene.render(WALK_S + 1.5)
    assert np.count_nonzero(np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > 30) > 500  # motion to detect
    assert np.array_equal(scene.render(5.0), scene.render(5.0 + 3 * VISIT_S))  # the three visitors loop


def test_scene_source_is_chosen_by_name_and_says_which_command_fetches_missing_photos(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = parse_source("scene")
    assert spec.kind is SourceKind.SCENE
    built = build_source(spec, CaptureSettings(_env_file=None, camera_id="demo-2", source="scene", width=640,
                                               height=360))
    assert isinstance(built, SceneSource) and (built.width, built.height) == (640, 360)
    with pytest.raises(SourceError, match=r"vigil_capture\.demo_photos"):
        SceneSource(640, 360, photo_dir=tmp_path).open()
