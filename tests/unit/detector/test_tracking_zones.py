"""Tracking across frames and zone filters, on hand-made detections (vigil_detector.tracking,
vigil_detector.zones)."""

from __future__ import annotations

import pytest

from vigil_detector.boxes import Box, Detection
from vigil_detector.tracking import NS_PER_S, Tracker
from vigil_detector.zones import WHOLE_FRAME, Zone, inside_polygon, zones_for


def det(label: str, x: int, y: int, w: int = 100, h: int = 200, score: float = 0.8) -> Detection:
    return Detection(label, 0, score, Box(x, y, w, h))


def s(seconds: float) -> int:
    return int(seconds * NS_PER_S)


def test_a_moving_object_is_one_track_that_starts_after_two_sightings_and_ends_after_the_gap() -> None:
    t = Tracker(max_gap_s=5, min_hits=2)
    first = t.update(s(0), [det("person", 100, 100, score=0.6)])
    assert first.started == () and [x.id for x in first.better] == [1]  # tentative, crop kept
    second = t.update(s(0.5), [det("person", 120, 100, score=0.7)])
    assert [x.id for x in second.started] == [1] and [x.id for x in second.better] == [1]
    worse = t.update(s(1.0), [det("person", 140, 100, score=0.65)])
    assert worse.started == () and worse.better == ()  # no better close-up
    assert t.update(s(5.9), []).ended == ()  # 4.9 s since the last sighting: still on
    done = t.update(s(6.1), [])
    assert [x.id for x in done.ended] == [1]
    track = done.ended[0]
    assert (track.first_ns, track.last_ns, track.hits) == (s(0), s(1.0), 3)
    assert track.best.score == 0.7 and track.best.box == Box(120, 100, 100, 200)
    assert [p.box.x for p in track.path] == [100, 120, 140]


def test_a_single_stray_detection_is_never_an_event() -> None:
    t = Tracker(min_hits=2)
    t.update(s(0), [det("dog", 500, 500)])
    later = t.update(s(10), [])
    assert later.ended == () and [x.label for x in later.dropped] == ["dog"]


def test_two_objects_and_two_labels_keep_their_own_tracks() -> None:
    t = Tracker(min_hits=1)
    a = t.update(s(0), [det("person", 0, 0), det("person", 600, 0), det("car", 0, 0, 300, 200)])
    assert len(a.started) == 3
    b = t.update(s(1), [det("person", 610, 0), det("person", 10, 0), det("car", 5, 0, 300, 200)])
    assert b.started == ()  # all matched: the same three objects
    assert {(x.label, x.hits) for x in t.tracks} == {("person", 2), ("car", 2)}
    assert sorted(x.last_box.x for x in t.tracks if x.label == "person") == [10, 610]
    # Each detection given is told its track.
    by_index = {i: tr for i, tr in b.assigned}
    assert [by_index[i].first_ns for i in range(3)] == [s(0)] * 3
    assert by_index[0].last_box.x == 610 and by_index[1].last_box.x == 10 and by_index[2].label == "car"


def test_a_far_jump_is_a_new_object() -> None:
    t = Tracker(min_hits=1, iou_threshold=0.3)
    t.update(s(0), [det("cat", 0, 0)])
    jumped = t.update(s(0.5), [det("cat", 800, 400)])
    assert len(jumped.started) == 1 and len(t.tracks) == 2


def test_end_all_closes_only_confirmed_tracks() -> None:
    t = Tracker(min_hits=2)
    t.update(s(0), [det("person", 0, 0), det("car", 500, 500)])
    t.update(s(1), [det("person", 5, 0)])
    assert [x.label for x in t.end_all()] == ["person"] and t.tracks == []


def test_bad_tracker_settings_are_refused() -> None:
    for kw in ({"iou_threshold": 0.0}, {"max_gap_s": 0}, {"min_hits": 0}):
        with pytest.raises(ValueError):
            Tracker(**kw)  # type: ignore[arg-type]


DRIVEWAY = Zone("driveway", ((0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)), labels=frozenset({"person"}),
                min_score=0.6, min_area=0.01)


def test_a_person_standing_in_the_driveway_counts_and_a_car_or_a_passer_by_does_not() -> None:
    w, h = 1280, 720
    assert zones_for(det("person", 200, 300, 100, 300), [DRIVEWAY], w, h) == ["driveway"]  # feet at y=600
    assert zones_for(det("car", 200, 300, 300, 300), [DRIVEWAY], w, h) == []  # not a label of the zone
    assert zones_for(det("person", 900, 300, 100, 300), [DRIVEWAY], w, h) == []  # on the street
    assert zones_for(det("person", 200, 100, 100, 200), [DRIVEWAY], w, h) == []  # feet at y=300: above it
    assert zones_for(det("person", 200, 300, 100, 300, score=0.55), [DRIVEWAY], w, h) == []  # too unsure
    assert zones_for(det("person", 200, 560, 20, 40), [DRIVEWAY], w, h) == []  # too small


def test_without_zones_the_whole_frame_counts_under_the_default_filter() -> None:
    assert zones_for(det("car", 0, 0, score=0.5), [], 1280, 720) == [WHOLE_FRAME]
    assert zones_for(det("car", 0, 0, score=0.4), [], 1280, 720) == []
    only_people = Zone(WHOLE_FRAME, (), labels=frozenset({"person"}), min_score=0.3)
    assert zones_for(det("car", 0, 0), [], 1280, 720, default=only_people) == []


def test_polygon_edges_and_outside_points() -> None:
    square = ((0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8))
    assert inside_polygon((0.5, 0.5), square) and inside_polygon((0.8, 0.5), square)
    assert not inside_polygon((0.1, 0.5), square) and not inside_polygon((0.5, 0.9), square)


@pytest.mark.parametrize("kw", [{"name": ""}, {"points": ((0, 0), (1, 1))}, {"points": ((0, 0), (2, 0), (0, 1))},
                                {"min_score": 1.5}, {"min_area": 1.0}])
def test_a_malformed_zone_is_refused(kw: dict[str, object]) -> None:
    args: dict[str, object] = {"name": "z", "points": ()} | kw
    with pytest.raises(ValueError):
        Zone(**args)  # type: ignore[arg-type]
