"""Models behind one interface: a :class:`Model` takes a BGR frame and returns detections.

Two backends, chosen by the model file (or :attr:`ModelSpec.backend`):

* **OpenCV DNN** (:class:`OpenCvModel`): Darknet ``.cfg`` + ``.weights`` (the default,
  YOLOv3-tiny on COCO, installed offline by :mod:`vigil_detector.fetch`) or an ``.onnx`` file.
* **ONNX Runtime** (:class:`OnnxRuntimeModel`): an ``.onnx`` file, on the CUDA or OpenVINO
  execution provider when that build of onnxruntime is installed, else the CPU.

Both letterbox the frame into the model's input, run it, and decode the output with
:mod:`vigil_detector.boxes`; what differs is only how the network is run.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vigil_detector.boxes import Detection, Layout, Letterbox, detections

log = logging.getLogger(__name__)

# Execution providers tried in this order; the CPU is always there.
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "OpenVINOExecutionProvider", "CPUExecutionProvider")


class Backend(enum.StrEnum):
    OPENCV = "opencv"
    ONNXRUNTIME = "onnxruntime"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What a model is: its files, input size, output layout, labels and thresholds."""

    path: Path  # .weights (with config), or .onnx
    labels: tuple[str, ...]
    input_w: int = 416
    input_h: int = 416
    layout: Layout = Layout.DARKNET
    backend: Backend = Backend.OPENCV
    config: Path | None = None  # Darknet .cfg
    score_threshold: float = 0.4
    iou_threshold: float = 0.45
    threads: int = 1

    def __post_init__(self) -> None:
        if self.input_w <= 0 or self.input_h <= 0 or self.input_w % 32 or self.input_h % 32:
            raise ValueError(f"model input {self.input_w}x{self.input_h}: both sides must be positive multiples of 32")
        if not 0 < self.score_threshold < 1 or not 0 < self.iou_threshold < 1:
            raise ValueError("score and IoU thresholds must lie between 0 and 1")
        if not self.labels:
            raise ValueError("a model needs its labels")
        if self.threads < 1:
            raise ValueError("threads must be at least 1")


def read_labels(path: Path) -> tuple[str, ...]:
    """One label per line (Darknet's ``.names``), blank lines dropped."""
    labels = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not labels:
        raise ValueError(f"{path}: no labels")
    return labels


class Model(Protocol):
    spec: ModelSpec

    def infer(self, blob: np.ndarray) -> np.ndarray:
        """The raw output for one NCHW float32 blob (RGB, 0..1)."""
        ...


def blob_of(frame: np.ndarray, letterbox: Letterbox) -> np.ndarray:
    """The frame letterboxed, as the NCHW float32 RGB blob in 0..1 both backends take."""
    return cv2.dnn.blobFromImage(letterbox.apply(frame), scalefactor=1 / 255.0, swapRB=True, crop=False)


def detect(model: Model, frame: np.ndarray) -> list[Detection]:
    """Detections in ``frame`` (H x W x 3 BGR uint8), best first, boxes in the frame's pixels."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 BGR frame, got {frame.shape} {frame.dtype}")
    spec = model.spec
    box = Letterbox.fit(frame.shape[1], frame.shape[0], spec.input_w, spec.input_h)
    output = model.infer(blob_of(frame, box))
    return detections(output, spec.layout, box, spec.labels, score_threshold=spec.score_threshold,
                      iou_threshold=spec.iou_threshold)


class OpenCvModel:
    """OpenCV DNN on the CPU: Darknet (``config`` + ``path``) or ONNX (``path``)."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        if spec.config is not None:
            self.net = cv2.dnn.readNetFromDarknet(str(spec.config), str(spec.path))
        else:
            self.net = cv2.dnn.readNet(str(spec.path))
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self.outputs = list(self.net.getUnconnectedOutLayersNames())

    def infer(self, blob: np.ndarray) -> np.ndarray:
        # cv2.setNumThreads is process-wide: one detector model per process is the design.
        cv2.setNumThreads(self.spec.threads)
        self.net.setInput(blob)
        outs = self.net.forward(self.outputs)
        if self.spec.layout is Layout.DARKNET:
            return np.concatenate([o.reshape(-1, o.shape[-1]) for o in outs])
        return np.asarray(outs[0])


class OnnxRuntimeModel:
    """ONNX Runtime with the best execution provider this install has."""

    def __init__(self, spec: ModelSpec, providers: Sequence[str] | None = None) -> None:
        import onnxruntime as ort

        self.spec = spec
        available = set(ort.get_available_providers())
        chosen = [p for p in (providers or PREFERRED_PROVIDERS) if p in available] or ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = spec.threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(spec.path), sess_options=options, providers=chosen)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f"{spec.path}: expected one input, the model has {len(inputs)}")
        self.input_name = inputs[0].name
        self.providers = self.session.get_providers()
        log.info("onnxruntime model %s on %s", spec.path.name, ", ".join(self.providers))

    def infer(self, blob: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input_name: blob})[0])


def load(spec: ModelSpec) -> Model:
    if spec.backend is Backend.ONNXRUNTIME:
        if spec.path.suffix != ".onnx":
            raise ValueError(f"{spec.path}: ONNX Runtime runs .onnx models only")
        return OnnxRuntimeModel(spec)
    return OpenCvModel(spec)


def default_spec(model_dir: Path | None = None, **overrides: object) -> ModelSpec:
    """The default model: YOLOv3-tiny (COCO) on OpenCV DNN, from :mod:`vigil_detector.fetch`'s
    directory (``python -m vigil_detector.fetch`` installs it)."""
    from vigil_detector import fetch

    d = model_dir or fetch.default_model_dir()
    if bad := fetch.missing(d):
        raise FileNotFoundError(f"detector model files missing or altered in {d}: {', '.join(bad)} "
                                "(python -m vigil_detector.fetch installs them)")
    spec = ModelSpec(path=d / "yolov3-tiny.weights", config=d / "yolov3-tiny.cfg", labels=read_labels(d / "coco.names"))
    return replace(spec, **overrides) if overrides else spec  # type: ignore[arg-type]
