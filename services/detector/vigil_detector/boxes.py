"""Box geometry and decoding shared by every YOLO-style model, pure (numpy in, dataclasses out).

A frame is *letterboxed* into the model's square-ish input (scaled to fit, centred, padded with
grey), so a 16:9 camera frame keeps its proportions; the model's boxes come back in input
coordinates and :meth:`Letterbox.to_frame` maps them to the frame's pixels.

Output rows, one per candidate box, in one of three layouts (:class:`Layout`):

``darknet``
    OpenCV DNN's YOLO region layer: ``cx, cy, w, h`` as fractions of the input, the objectness,
    then one score per class that already includes the objectness.
``yolov5``
    ``cx, cy, w, h`` in input pixels, the objectness, then per-class probabilities (score =
    objectness x probability). YOLOv5/v7 ONNX exports, shape ``(1, N, 5 + C)``.
``yolov8``
    ``cx, cy, w, h`` in input pixels, then per-class scores, no objectness. YOLOv8/v11 ONNX
    exports, shape ``(1, 4 + C, N)`` (transposed; :func:`rows_of` turns it round).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114  # the grey Ultralytics and Darknet letterbox with


class Layout(enum.StrEnum):
    DARKNET = "darknet"
    YOLOV5 = "yolov5"
    YOLOV8 = "yolov8"


@dataclass(frozen=True, slots=True)
class Box:
    """A box in a frame's pixels: top-left corner, width, height (integers, inside the frame)."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h

    def iou(self, other: Box) -> float:
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    class_id: int
    score: float
    box: Box


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a ``frame_w`` x ``frame_h`` frame sits inside a ``input_w`` x ``input_h`` input."""

    frame_w: int
    frame_h: int
    input_w: int
    input_h: int
    scale: float
    pad_x: float
    pad_y: float

    @classmethod
    def fit(cls, frame_w: int, frame_h: int, input_w: int, input_h: int) -> Letterbox:
        if min(frame_w, frame_h, input_w, input_h) <= 0:
            raise ValueError("frame and input sizes must be positive")
        scale = min(input_w / frame_w, input_h / frame_h)
        pad_x = (input_w - round(frame_w * scale)) / 2
        pad_y = (input_h - round(frame_h * scale)) / 2
        return cls(frame_w, frame_h, input_w, input_h, scale, pad_x, pad_y)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """The frame (H x W x 3, uint8) scaled and padded to the input size."""
        if frame.shape[1] != self.frame_w or frame.shape[0] != self.frame_h:
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]}, expected {self.frame_w}x{self.frame_h}")
        w, h = round(self.frame_w * self.scale), round(self.frame_h * self.scale)
        interpolation = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR
        scaled = cv2.resize(frame, (w, h), interpolation=interpolation)
        out = np.full((self.input_h, self.input_w, 3), PAD_VALUE, np.uint8)
        top, left = int(self.pad_y), int(self.pad_x)
        out[top:top + h, left:left + w] = scaled
        return out

    def to_frame(self, cx: float, cy: float, w: float, h: float) -> Box:
        """A centre-size box in input pixels to a corner box in frame pixels, clipped to the frame."""
        x0 = (cx - w / 2 - self.pad_x) / self.scale
        y0 = (cy - h / 2 - self.pad_y) / self.scale
        x1 = (cx + w / 2 - self.pad_x) / self.scale
        y1 = (cy + h / 2 - self.pad_y) / self.scale
        x0, x1 = max(0.0, x0), min(float(self.frame_w), x1)
        y0, y1 = max(0.0, y0), min(float(self.frame_h), y1)
        return Box(round(x0), round(y0), max(0, round(x1) - round(x0)), max(0, round(y1) - round(y0)))


def rows_of(output: np.ndarray, layout: Layout) -> np.ndarray:
    """A model's raw output as a 2-D array of candidate rows (one per box)."""
    out = np.asarray(output, dtype=np.float32)
    if layout is Layout.YOLOV8:
        if out.ndim == 3:
            out = out[0]
        if out.ndim != 2:
            raise ValueError(f"yolov8 output must be (1, 4 + classes, boxes), got {output.shape}")
        return np.ascontiguousarray(out.T)
    return out.reshape(-1, out.shape[-1])


def candidates(rows: np.ndarray, layout: Layout, letterbox: Letterbox, score_threshold: float
               ) -> tuple[list[Box], list[float], list[int]]:
    """Rows above ``score_threshold``: their boxes in frame pixels, scores and class ids."""
    first_class = 4 if layout is Layout.YOLOV8 else 5
    if rows.ndim != 2 or rows.shape[1] <= first_class:
        raise ValueError(f"{layout} rows need more than {first_class} columns, got shape {rows.shape}")
    class_scores = rows[:, first_class:]
    if layout is Layout.YOLOV5:
        class_scores = class_scores * rows[:, 4:5]
    class_ids = np.argmax(class_scores, axis=1)
    scores = class_scores[np.arange(len(rows)), class_ids]
    keep = np.flatnonzero(scores >= score_threshold)
    xywh = rows[keep, :4].astype(np.float64)
    if layout is Layout.DARKNET:
        xywh *= (letterbox.input_w, letterbox.input_h, letterbox.input_w, letterbox.input_h)
    boxes = [letterbox.to_frame(*map(float, r)) for r in xywh]
    return boxes, [float(scores[i]) for i in keep], [int(class_ids[i]) for i in keep]


# Two boxes of one class, one lying this much inside the other, are the same object (YOLO-tiny's
# two output scales often box the whole and a part of it, whose IoU is low).
CONTAINED = 0.8


def contained_in(inner: Box, outer: Box) -> float:
    """The fraction of ``inner``'s area that lies inside ``outer``."""
    ix = max(0, min(inner.x + inner.w, outer.x + outer.w) - max(inner.x, outer.x))
    iy = max(0, min(inner.y + inner.h, outer.y + outer.h) - max(inner.y, outer.y))
    return ix * iy / inner.area if inner.area > 0 else 0.0


def suppress(boxes: Sequence[Box], scores: Sequence[float], class_ids: Sequence[int], score_threshold: float,
             iou_threshold: float) -> list[int]:
    """Per-class non-maximum suppression (OpenCV's ``NMSBoxesBatched``): the indices kept, best
    score first. Empty boxes are never kept."""
    usable = [i for i, b in enumerate(boxes) if b.w > 0 and b.h > 0]
    if not usable:
        return []
    kept = cv2.dnn.NMSBoxesBatched(
        [(boxes[i].x, boxes[i].y, boxes[i].w, boxes[i].h) for i in usable],
        [float(scores[i]) for i in usable], [int(class_ids[i]) for i in usable],
        float(score_threshold), float(iou_threshold))
    return sorted((usable[int(k)] for k in np.asarray(kept).reshape(-1)), key=lambda i: -scores[i])


def merge_nested(found: Sequence[Detection]) -> list[Detection]:
    """Detections (best first) with each pair of one class where one box lies :data:`CONTAINED`
    inside the other made one: the better score, the larger box (the whole object, for its
    close-up)."""
    out: list[Detection] = []
    for det in found:
        for k, kept in enumerate(out):
            if kept.class_id != det.class_id:
                continue
            small, large = (det.box, kept.box) if det.box.area <= kept.box.area else (kept.box, det.box)
            if contained_in(small, large) >= CONTAINED:
                out[k] = Detection(kept.label, kept.class_id, max(kept.score, det.score), large)
                break
        else:
            out.append(det)
    return out


def detections(output: np.ndarray, layout: Layout, letterbox: Letterbox, labels: Sequence[str], *,
               score_threshold: float, iou_threshold: float) -> list[Detection]:
    """Decode and suppress one frame's raw output (all of a Darknet net's output layers
    concatenated) into detections, best first."""
    boxes, scores, class_ids = candidates(rows_of(output, layout), layout, letterbox, score_threshold)
    out = []
    for i in suppress(boxes, scores, class_ids, score_threshold, iou_threshold):
        cid = class_ids[i]
        out.append(Detection(labels[cid] if 0 <= cid < len(labels) else str(cid), cid, scores[i], boxes[i]))
    return merge_nested(out)
