"""Box geometry, decoding and suppression on hand-made arrays (vigil_detector.boxes)."""

from __future__ import annotations

import numpy as np
import pytest

from vigil_detector.boxes import (
    Box,
    Detection,
    Layout,
    Letterbox,
    candidates,
    contained_in,
    detections,
    merge_nested,
    rows_of,
    suppress,
)

LABELS = ("person", "bicycle", "car")


def test_a_wide_frame_is_scaled_to_fit_and_padded_top_and_bottom() -> None:
    lb = Letterbox.fit(1280, 720, 416, 416)
    assert lb.scale == pytest.approx(416 / 1280)
    assert lb.pad_x == 0 and lb.pad_y == pytest.approx((416 - 234) / 2)
    out = lb.apply(np.zeros((720, 1280, 3), np.uint8))
    assert out.shape == (416, 416, 3)
    assert (out[:90] == 114).all() and (out[-90:] == 114).all() and (out[100:300] == 0).all()


def test_boxes_map_back_to_frame_pixels_and_are_clipped() -> None:
    lb = Letterbox.fit(1280, 720, 416, 416)
    # The frame's centre 320 x 180 box, in input pixels.
    box = lb.to_frame(208, 208, 320 * lb.scale, 180 * lb.scale)
    assert box == Box(480, 270, 320, 180)
    # A box hanging over the frame's edge (into the padding) is clipped to the frame.
    edge = lb.to_frame(10, lb.pad_y + 5, 40, 40)
    assert edge.x == 0 and edge.y == 0 and edge.w > 0 and edge.h > 0


def test_a_frame_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 1280x720"):
        Letterbox.fit(1280, 720, 416, 416).apply(np.zeros((480, 640, 3), np.uint8))
    with pytest.raises(ValueError):
        Letterbox.fit(0, 720, 416, 416)


def darknet_row(cx: float, cy: float, w: float, h: float, obj: float, scores: tuple[float, ...]) -> list[float]:
    return [cx, cy, w, h, obj, *scores]


def test_darknet_rows_are_fractions_of_the_input_with_the_objectness_folded_in() -> None:
    lb = Letterbox.fit(416, 416, 416, 416)
    rows = np.array([darknet_row(0.5, 0.5, 0.25, 0.5, 0.9, (0.0, 0.8, 0.1)),
                     darknet_row(0.1, 0.1, 0.1, 0.1, 0.9, (0.2, 0.1, 0.0))], np.float32)
    boxes, scores, ids = candidates(rows, Layout.DARKNET, lb, score_threshold=0.3)
    assert ids == [1] and scores == [pytest.approx(0.8)]
    assert boxes == [Box(156, 104, 104, 208)]


def test_yolov5_scores_are_objectness_times_class_probability() -> None:
    lb = Letterbox.fit(640, 640, 640, 640)
    rows = np.array([[320, 320, 100, 50, 0.5, 0.9, 0.0, 0.0],   # 0.45: kept
                     [100, 100, 20, 20, 0.3, 0.0, 0.0, 0.9]], np.float32)  # 0.27: dropped
    boxes, scores, ids = candidates(rows_of(rows[None], Layout.YOLOV5), Layout.YOLOV5, lb, 0.4)
    assert ids == [0] and scores == [pytest.approx(0.45)] and boxes == [Box(270, 295, 100, 50)]


def test_yolov8_output_is_transposed_and_has_no_objectness() -> None:
    lb = Letterbox.fit(640, 640, 640, 640)
    rows = np.array([[320, 320, 100, 50, 0.1, 0.0, 0.7]], np.float32)
    output = rows.T[None]  # (1, 4 + classes, boxes)
    assert output.shape == (1, 7, 1)
    found = detections(output, Layout.YOLOV8, lb, LABELS, score_threshold=0.5, iou_threshold=0.45)
    assert [(d.label, round(d.score, 2), d.box) for d in found] == [("car", 0.7, Box(270, 295, 100, 50))]


def test_rows_with_too_few_columns_are_refused() -> None:
    lb = Letterbox.fit(416, 416, 416, 416)
    with pytest.raises(ValueError, match="columns"):
        candidates(np.zeros((3, 5), np.float32), Layout.DARKNET, lb, 0.5)


def test_overlapping_boxes_of_one_class_keep_the_best_and_other_classes_are_untouched() -> None:
    boxes = [Box(100, 100, 100, 100), Box(105, 105, 100, 100), Box(100, 100, 100, 100), Box(400, 400, 50, 50)]
    scores = [0.7, 0.9, 0.8, 0.6]
    ids = [0, 0, 2, 0]
    assert suppress(boxes, scores, ids, 0.5, 0.45) == [1, 2, 3]


def test_a_box_inside_another_of_its_class_is_the_same_object_with_the_larger_box() -> None:
    whole, part = Box(100, 100, 300, 300), Box(150, 150, 100, 120)  # IoU 0.13, fully inside
    assert whole.iou(part) < 0.45 and contained_in(part, whole) == 1.0
    assert suppress([whole, part], [0.9, 0.6], [0, 0], 0.5, 0.45) == [0, 1]  # NMS alone keeps both
    for scores in ((0.9, 0.6), (0.6, 0.9)):  # whichever scores better
        found = [Detection("person", 0, scores[0], whole), Detection("person", 0, scores[1], part)]
        found.sort(key=lambda d: -d.score)
        assert merge_nested(found) == [Detection("person", 0, 0.9, whole)]
    other = [Detection("person", 0, 0.9, whole), Detection("dog", 16, 0.6, part)]
    assert merge_nested(other) == other  # another class stays


def test_empty_boxes_and_scores_below_the_threshold_are_never_kept() -> None:
    assert suppress([Box(0, 0, 0, 10), Box(5, 5, 10, 10)], [0.9, 0.3], [0, 0], 0.5, 0.45) == []
    assert suppress([], [], [], 0.5, 0.45) == []


def test_a_class_id_beyond_the_labels_is_named_by_its_number() -> None:
    lb = Letterbox.fit(640, 640, 640, 640)
    rows = np.array([[320, 320, 100, 50, 1.0, 0, 0, 0, 0.9]], np.float32)
    assert [d.label for d in detections(rows, Layout.YOLOV5, lb, LABELS, score_threshold=0.5,
                                        iou_threshold=0.45)] == ["3"]


def test_a_close_up_box_grows_by_its_margin_stays_in_the_frame_and_has_a_minimum_size() -> None:
    from vigil_detector.closeups import crop_box

    assert crop_box(Box(100, 100, 100, 200), 1280, 720) == Box(85, 70, 130, 260)
    edge = crop_box(Box(1200, 650, 80, 70), 1280, 720)
    assert edge.x + edge.w <= 1280 and edge.y + edge.h <= 720 and edge.w >= 80 and edge.h >= 70
    tiny = crop_box(Box(10, 10, 8, 8), 1280, 720)
    assert tiny.w == 64 and tiny.h == 64 and tiny.x == 0 and tiny.y == 0
    with pytest.raises(ValueError):
        crop_box(Box(0, 0, 0, 5), 1280, 720)
