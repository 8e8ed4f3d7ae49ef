"""Capture settings from the environment (and ``.env``); command-line flags override them.

=======================  =========================  ==========
variable                 flag                       default
=======================  =========================  ==========
``VIGIL_CAMERA_ID``      ``--camera-id``            (required)
``VIGIL_SOURCE``         ``--source``               synthetic
``VIGIL_FPS``            ``--fps``                  10
``VIGIL_WIDTH``          ``--width``                1280
``VIGIL_HEIGHT``         ``--height``               720
``VIGIL_QUALITY``        ``--quality``              80 (JPEG)
``VIGIL_CODEC``          ``--codec``                h264 (``h264`` or ``jpeg``)
``VIGIL_GOP_S``          ``--gop-s``                2 (seconds between H.264 keyframes)
``VIGIL_CRF``            ``--crf``                  23 (libx264 quality, 0-51, lower is better)
``VIGIL_RTSP_TRANSPORT`` ``--rtsp-transport``       tcp (``udp`` for cameras without RTSP over TCP)
``VIGIL_NAME``           ``--name``                 the camera id
``VIGIL_LOCATION``       ``--location``             (empty)
``VIGIL_OVERLAY``        ``--no-overlay``           true
``VIGIL_AUTOSTART``      ``--no-autostart``         true
``VIGIL_EDGE_MOTION``    ``--no-motion``            true (measure motion here; the server's
                                                    ``motion_config`` says how)
``VIGIL_HEARTBEAT_S``    ``--heartbeat-s``          5
``VIGIL_MQTT_URL``       ``--mqtt-url``             (shared ``Settings``)
``VIGIL_TOPIC_PREFIX``   ``--topic-prefix``         (shared ``Settings``)
=======================  =========================  ==========

``VIGIL_LOG_LEVEL`` / ``VIGIL_LOG_FORMAT`` come from the shared ``Settings`` as for every service.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from vigil_capture.config import MAX_FPS, CaptureConfig


class CaptureSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", env_file=".env", extra="ignore")

    camera_id: str = ""
    source: str = "synthetic"
    fps: float = Field(default=10.0, ge=0, le=MAX_FPS, description="0 = unthrottled")
    width: int = Field(default=1280, ge=16, le=7680)
    height: int = Field(default=720, ge=16, le=4320)
    quality: int = Field(default=80, ge=1, le=100)
    codec: Literal["h264", "jpeg"] = "h264"
    gop_s: float = Field(default=2.0, ge=0.2, le=10.0)
    crf: int = Field(default=23, ge=0, le=51)
    rtsp_transport: Literal["tcp", "udp"] = "tcp"
    name: str = Field(default="", max_length=128)
    location: str = Field(default="", max_length=128)
    overlay: bool = True
    autostart: bool = True
    edge_motion: bool = True
    heartbeat_s: float = Field(default=5.0, gt=0, le=3600)
    max_inflight: int = Field(default=8, ge=1, le=1024)
    buffer_size: int = Field(default=3, ge=1, le=64)

    def capture_config(self) -> CaptureConfig:
        return CaptureConfig(
            fps=self.fps,
            width=self.width,
            height=self.height,
            quality=self.quality,
            overlay=self.overlay,
            name=self.name or self.camera_id,
            location=self.location,
        )
