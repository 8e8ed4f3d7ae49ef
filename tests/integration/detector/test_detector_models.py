"""The detector's models on real pictures: YOLOv3-tiny (the default, installed offline by
``python -m vigil_detector.fetch``) through OpenCV DNN on scikit-image's photos pasted at camera
scale into a 1280x720 frame, and the ONNX Runtime backend on a small ONNX model built here."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.photos import photo
from vigil_detector.boxes import Box, Layout
from vigil_detector.model import Backend, ModelSpec, OnnxRuntimeModel, default_spec, detect, load

pytestmark = pytest.mark.integration

FRAME = (720, 1280)


@pytest.fixture(scope="module")
def yolo():  # type: ignore[no-untyped-def]
    return load(default_spec())


def scene(name: str, at: tuple[int, int], longest: int = 360, background: int = 90) -> tuple[np.ndarray, Box]:
    """A 1280x720 frame with the photo scaled to ``longest`` pixels pasted at ``at`` (x, y)."""
    img = cv2.imread(str(photo(name)))
    assert img is not None
    s = longest / max(img.shape[:2])
    img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    frame = np.full((*FRAME, 3), background, np.uint8)
    x, y = at
    frame[y:y + img.shape[0], x:x + img.shape[1]] = img
    return frame, Box(x, y, img.shape[1], img.shape[0])


def inside(box: Box, area: Box) -> bool:
    """``box`` lies on ``area``, give or take 8 % of its size (YOLO-tiny's boxes are loose)."""
    slack = round(0.08 * max(area.w, area.h))
    return (box.x >= area.x - slack and box.y >= area.y - slack and box.x + box.w <= area.x + area.w + slack
            and box.y + box.h <= area.y + area.h + slack)


@pytest.mark.parametrize(("name", "label", "at"), [
    ("astronaut.png", "person", (500, 200)),
    ("astronaut.png", "person", (60, 330)),
    ("chelsea.png", "cat", (820, 120)),
    ("motorcycle_left.png", "motorbike", (300, 400)),
])
def test_the_default_model_finds_the_subject_and_boxes_it(yolo, name: str, label: str,  # type: ignore[no-untyped-def]
                                                          at: tuple[int, int]) -> None:
    frame, pasted = scene(name, at)
    found = detect(yolo, frame)
    assert found, f"nothing found in {name}"
    best = found[0]
    assert best.label == label and best.score >= 0.5, found
    # The box lies on the photo and covers a good part of it (the subject fills most of each photo).
    assert inside(best.box, pasted), (best.box, pasted)
    assert best.box.area >= 0.3 * pasted.area, (best.box, pasted)
    assert [d.label for d in found].count(label) == 1, found  # one object, one box


def test_two_subjects_in_one_frame_are_both_found(yolo) -> None:  # type: ignore[no-untyped-def]
    frame, person = scene("astronaut.png", (40, 200))
    cat_frame, cat = scene("chelsea.png", (800, 300))
    frame[cat.y:cat.y + cat.h, cat.x:cat.x + cat.w] = cat_frame[cat.y:cat.y + cat.h, cat.x:cat.x + cat.w]
    found = {d.label: d for d in detect(yolo, frame)}
    assert {"person", "cat"} <= set(found), found
    assert inside(found["person"].box, person) and inside(found["cat"].box, cat)


@pytest.mark.parametrize("kind", ["blank", "dark", "noise", "gradient"])
def test_frames_without_a_subject_give_no_detection(yolo, kind: str) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    frames = {
        "blank": np.full((*FRAME, 3), 128, np.uint8),
        "dark": np.zeros((*FRAME, 3), np.uint8),
        "noise": rng.integers(0, 256, (*FRAME, 3), dtype=np.uint8),
        "gradient": np.dstack([np.tile(np.linspace(0, 255, FRAME[1], dtype=np.uint8), (FRAME[0], 1))] * 3),
    }
    assert detect(yolo, frames[kind]) == []


def test_a_frame_that_is_not_bgr_uint8_is_refused(yolo) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="uint8 BGR"):
        detect(yolo, np.zeros((720, 1280), np.uint8))
    with pytest.raises(ValueError, match="uint8 BGR"):
        detect(yolo, np.zeros((720, 1280, 3), np.float32))


def brightness_model(path: Path, size: int = 320) -> Path:
    """A YOLOv8-layout ONNX model: one box, the centre quarter of the input, whose class-0 score is
    the input's mean brightness (class 1 scores 0): it sees its input, so a white frame gives a
    detection and a black one none."""
    import onnx
    from onnx import TensorProto, helper

    half = size / 2
    box = helper.make_tensor("box", TensorProto.FLOAT, [1, 4, 1], [half, half, half, half])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [1, 1, 1], [0.0])
    shape = helper.make_tensor("shape", TensorProto.INT64, [3], [1, 1, 1])
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["mean4", "shape"], ["mean"]),
        helper.make_node("Concat", ["box", "mean", "zero"], ["output0"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "brightness",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 6, 1])],
        initializer=[box, zero, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("backend", [Backend.ONNXRUNTIME, Backend.OPENCV])
def test_an_onnx_model_runs_on_either_backend(tmp_path: Path, backend: Backend) -> None:
    spec = ModelSpec(path=brightness_model(tmp_path / "bright.onnx"), labels=("bright", "dark"), input_w=320,
                     input_h=320, layout=Layout.YOLOV8, backend=backend, score_threshold=0.5)
    model = load(spec)
    if backend is Backend.ONNXRUNTIME:
        assert isinstance(model, OnnxRuntimeModel) and "CPUExecutionProvider" in model.providers
    white = np.full((*FRAME, 3), 255, np.uint8)
    found = detect(model, white)
    # The letterbox pads the 16:9 frame with grey: the mean is below 1, above the threshold.
    assert [d.label for d in found] == ["bright"] and 0.6 < found[0].score < 1.0
    # The input's centre (160x160 of 320x320), mapped back through the letterbox (scale 1/4,
    # 70 px of padding above and below the frame).
    assert found[0].box == Box(320, 40, 640, 640)
    assert detect(model, np.zeros((*FRAME, 3), np.uint8)) == []


def test_onnx_runtime_refuses_a_model_that_is_not_onnx(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.onnx"):
        load(ModelSpec(path=tmp_path / "m.weights", labels=("a",), backend=Backend.ONNXRUNTIME))


def test_the_close_up_of_a_detection_covers_the_subject_at_full_resolution(yolo) -> None:  # type: ignore[no-untyped-def]
    from vigil_detector.closeups import closeup_jpeg

    frame, pasted = scene("chelsea.png", (700, 300))
    best = detect(yolo, frame)[0]
    data, crop = closeup_jpeg(frame, best.box)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and (img.shape[1], img.shape[0]) == (crop.w, crop.h)
    # The crop holds the whole box (grown by the margin) and most of the pasted photo.
    assert crop.x <= best.box.x and crop.y <= best.box.y
    assert crop.x + crop.w >= best.box.x + best.box.w and crop.y + crop.h >= best.box.y + best.box.h
    ix = max(0, min(crop.x + crop.w, pasted.x + pasted.w) - max(crop.x, pasted.x))
    iy = max(0, min(crop.y + crop.h, pasted.y + pasted.h) - max(crop.y, pasted.y))
    assert ix * iy >= 0.8 * pasted.area
    # Full resolution: the crop's pixels are the frame's own (up to JPEG loss).
    original = frame[crop.y:crop.y + crop.h, crop.x:crop.x + crop.w].astype(int)
    assert np.abs(img.astype(int) - original).mean() < 6
