"""Faces within person boxes: CenterFace (MIT; installed by :mod:`vigil_detector.fetch`) on
ONNX Runtime, for cameras with ``detect_faces`` (off by default).

:func:`find_faces` takes a BGR image (the upper part of a person's box, cut from the
full-resolution frame), scales it to fit :data:`INPUT_MAX` (sides a multiple of 32, the network's
stride), runs the model and decodes its outputs (:func:`decode`, pure): a heatmap of face
centres at a quarter of the input's size, each hot cell with its box size (log scale) and
centre offset. Cells above the threshold become boxes in the image's own pixels, then
overlapping ones are suppressed (OpenCV's ``NMSBoxes``). Recognition (who it is) is not done:
no model for it ships offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from vigil_detector.boxes import Box
from vigil_detector.fetch import FACE_INPUT, FACE_MODEL, default_model_dir

INPUT_MAX = 256  # longest side given to the model (a face of 24+ px in a person's upper half)
STRIDE = 32
SCORE_THRESHOLD = 0.5
NMS_IOU = 0.3
MIN_FACE_PX = 12

Array = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Face:
    box: Box  # in the pixels of the image given to find_faces
    score: float


class FaceModel:
    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.path = path or default_model_dir() / FACE_MODEL
        if not self.path.is_file():
            raise FileNotFoundError(f"face model {self.path} missing: run python -m vigil_detector.fetch")
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def run(self, blob: Array) -> list[Array]:
        return [np.asarray(o, np.float32) for o in self.session.run(None, {FACE_INPUT: blob})]


def input_size(w: int, h: int, longest: int = INPUT_MAX) -> tuple[int, int]:
    """(width, height) for an image of ``w`` x ``h``: fits ``longest``, multiples of 32."""
    s = min(1.0, longest / max(w, h))
    return max(STRIDE, round(w * s / STRIDE) * STRIDE), max(STRIDE, round(h * s / STRIDE) * STRIDE)


def decode(heat: Array, scale: Array, offset: Array, sx: float, sy: float,
           threshold: float = SCORE_THRESHOLD) -> list[Face]:
    """CenterFace's outputs (batch 1) to faces before suppression: a cell (row y, column x) at or
    above ``threshold`` is a face of height ``4 exp(scale[0])`` and width ``4 exp(scale[1])``
    centred at ``4 (x + offset[1] + 0.5)``, ``4 (y + offset[0] + 0.5)`` input pixels; ``sx``/``sy``
    map input pixels back to the image's."""
    ys, xs = np.nonzero(heat[0, 0] >= threshold)
    faces = []
    for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
        fh = float(np.exp(scale[0, 0, y, x])) * 4
        fw = float(np.exp(scale[0, 1, y, x])) * 4
        cx = (x + float(offset[0, 1, y, x]) + 0.5) * 4
        cy = (y + float(offset[0, 0, y, x]) + 0.5) * 4
        x0, y0 = max(0.0, cx - fw / 2), max(0.0, cy - fh / 2)
        faces.append(Face(Box(round(x0 * sx), round(y0 * sy), round(fw * sx), round(fh * sy)),
                          float(heat[0, 0, y, x])))
    return faces


def suppress(faces: list[Face], iou: float = NMS_IOU) -> list[Face]:
    """Overlapping boxes of one face: the best-scoring one (best first)."""
    if not faces:
        return []
    keep = cv2.dnn.NMSBoxes([[f.box.x, f.box.y, f.box.w, f.box.h] for f in faces], [f.score for f in faces],
                            0.0, iou)
    return sorted((faces[int(i)] for i in np.asarray(keep).reshape(-1)), key=lambda f: -f.score)


def find_faces(model: FaceModel, image: npt.NDArray[np.uint8], threshold: float = SCORE_THRESHOLD) -> list[Face]:
    """The faces in a BGR image, best first, boxes clipped to it."""
    h, w = image.shape[:2]
    if min(w, h) < MIN_FACE_PX:
        return []
    iw, ih = input_size(w, h)
    blob = cv2.dnn.blobFromImage(image, 1.0, (iw, ih), (0, 0, 0), swapRB=True, crop=False)
    heat, scale, offset, _landmarks = model.run(np.asarray(blob, np.float32))
    out = []
    for face in suppress(decode(heat, scale, offset, w / iw, h / ih, threshold)):
        b = face.box
        x1, y1 = min(w, b.x + b.w), min(h, b.y + b.h)
        if x1 - b.x >= MIN_FACE_PX and y1 - b.y >= MIN_FACE_PX:
            out.append(Face(Box(b.x, b.y, x1 - b.x, y1 - b.y), face.score))
    return out


def face_region(person: Box, frame_w: int, frame_h: int) -> Box:
    """Where to look for a person's face: the upper half of the box (a standing person's head is
    there; a sitting one's too), clipped to the frame."""
    x0, y0 = max(0, person.x), max(0, person.y)
    x1, y1 = min(frame_w, person.x + person.w), min(frame_h, person.y + max(1, person.h // 2))
    return Box(x0, y0, max(0, x1 - x0), max(0, y1 - y0))
