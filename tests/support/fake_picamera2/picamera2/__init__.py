"""A stand-in ``picamera2`` for tests, put on ``sys.path`` by ``tests.support.picamera``.

:class:`Picamera2` covers what Vigil calls: ``create_video_configuration(main=..., controls=...)``,
``configure``, ``start``/``stop``/``close``, ``capture_array`` (a BGR pattern, picamera2's
``RGB888`` memory order) for the image path, and ``start_recording(encoder, output)`` /
``stop_recording()`` for the encoded path, which drive :class:`picamera2.encoders.H264Encoder`
(real H.264 from PyAV's libx264) like the real library: the encoder gets the main stream's
size and the configured frame rate, its outputs are started with it.

Test hooks: ``Picamera2.instances``; ``Picamera2.fail_start`` (``start``/``start_recording``
raise like libcamera without a camera).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from picamera2 import encoders, outputs  # noqa: F401 - submodules, as in the real package

__all__ = ["Picamera2"]


class Picamera2:
    instances: ClassVar[list[Picamera2]] = []
    fail_start: ClassVar[bool] = False

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_num = camera_num
        self.calls: list[str] = []
        self.config: dict[str, Any] | None = None
        self.started = False
        self.encoder: Any = None
        Picamera2.instances.append(self)

    def create_video_configuration(
        self, main: dict[str, Any] | None = None, controls: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        self.calls.append("create_video_configuration")
        main = {"size": (1280, 720), "format": "XBGR8888", **(main or {})}
        return {"use_case": "video", "main": main, "controls": dict(controls or {}), **kwargs}

    def configure(self, config: dict[str, Any]) -> None:
        self.calls.append("configure")
        self.config = config

    def start(self) -> None:
        self.calls.append("start")
        if Picamera2.fail_start:
            raise RuntimeError("Camera __init__ sequence did not complete.")
        self.started = True

    def capture_array(self, name: str = "main") -> np.ndarray:
        assert self.config is not None and self.started
        width, height = self.config["main"]["size"]
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[:, :, 0] = 200  # blue: RGB888 is B, G, R in memory
        return frame

    def start_recording(self, encoder: Any, output: Any, pts: Any = None, config: Any = None,
                        quality: Any = None, name: str | None = None) -> None:
        self.calls.append("start_recording")
        if config is not None:
            self.configure(config)
        assert self.config is not None, "configure the camera first"
        encoder.size = tuple(self.config["main"]["size"])
        rate = self.config.get("controls", {}).get("FrameRate")
        if encoder.framerate is None and rate:
            encoder.framerate = float(rate)
        encoder.output = output
        self.start()
        self.encoder = encoder
        encoder.start(quality)

    def stop_recording(self) -> None:
        self.calls.append("stop_recording")
        if self.encoder is not None and self.encoder.running:
            self.encoder.stop()
        self.stop()

    def stop(self) -> None:
        self.calls.append("stop")
        self.started = False

    def close(self) -> None:
        self.calls.append("close")
