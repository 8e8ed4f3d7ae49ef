"""The detector's settings: how often it looks, which model, what becomes an event."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

DEFAULT_EVENT_LABELS = "person,bicycle,car,motorbike,bus,truck,bird,cat,dog,horse"


class DetectorSettings(BaseModel):
    # Frames per camera per second while motion lasts (H.264 cameras: at most their keyframe
    # rate, since only keyframes decode alone), and one frame this often without motion (0: never).
    detector_fps: float = Field(default=2.0, gt=0, le=10)
    detector_heartbeat_s: float = Field(default=30.0, ge=0, le=3600)
    # The model: empty = the default YOLOv3-tiny (python -m vigil_detector.fetch installs it).
    detector_model: str = ""  # a .weights (with detector_model_config) or .onnx file
    detector_model_config: str = ""  # Darknet .cfg
    detector_model_labels: str = ""  # one label per line
    detector_backend: Literal["opencv", "onnxruntime"] = "opencv"
    detector_layout: Literal["darknet", "yolov5", "yolov8"] = "darknet"
    detector_input_size: int = Field(default=416, ge=32, le=1920, multiple_of=32)
    detector_threads: int = Field(default=1, ge=1, le=64)
    # What becomes an event (without per-camera zones): these labels, at this score or more.
    detector_labels: str = DEFAULT_EVENT_LABELS
    detector_min_score: float = Field(default=0.5, ge=0.05, le=0.99)
    detector_min_hits: int = Field(default=2, ge=1, le=20)  # sightings before a track is an event
    detector_gap_s: float = Field(default=5.0, gt=0, le=300)  # unseen this long: the event ends

    def event_labels(self) -> frozenset[str]:
        return frozenset(x.strip() for x in self.detector_labels.split(",") if x.strip())
