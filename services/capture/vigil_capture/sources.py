"""Frame sources behind one interface, chosen by the ``--source`` string.

=============================  ==========  ==============================================
``--source``                   kind        class
=============================  ==========  ==============================================
``synthetic``                  synthetic   :class:`SyntheticSource` (deterministic pattern)
``scene``                      scene       :class:`vigil_capture.scene.SceneSource` (demo: photos walk by;
                                           built by ``vigil_capture.main.build_source``)
``picamera``                   picamera    :class:`PicameraSource` (picamera2, on a Pi)
``0``, ``1``, ``/dev/video0``  device      :class:`StreamSource` (USB / V4L2 via OpenCV)
``rtsp://``, ``http(s)://``    url         :class:`StreamSource` (OpenCV's FFmpeg backend)
any other string               file        :class:`FileSource` (a video file, looped)
=============================  ==========  ==============================================

Every source returns BGR ``uint8`` frames (or ``None`` when no frame is available right now)
and is used from one thread only (the grab thread). Only the *kind* is ever reported or
published; URLs may carry credentials and are logged through :func:`redact_url` only.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from vigil_capture.images import Image, as_image
from vigil_common.runtime.lifecycle import backoff_delays
from vigil_common.runtime.logsetup import RateLimitedLog

log = logging.getLogger(__name__)
_limited = RateLimitedLog(log)

URL_SCHEMES = ("rtsp", "rtsps", "http", "https")
_DEVICE_PATH_RE = re.compile(r"^/dev/video(\d+)$")


class SourceKind(StrEnum):
    SYNTHETIC = "synthetic"
    SCENE = "scene"
    FILE = "file"
    DEVICE = "device"
    URL = "url"
    PICAMERA = "picamera"


class SourceError(RuntimeError):
    """A source that cannot be opened (bad path, no device, unreachable URL, no picamera2)."""


class Source(Protocol):
    """What the capture pipeline needs from a camera."""

    @property
    def kind(self) -> str:
        """One of :class:`SourceKind` (never a URL or a path)."""
        ...

    def open(self) -> None:
        """Open the source; raise :class:`SourceError` if it cannot deliver frames."""
        ...

    def read(self) -> Image | None:
        """The next BGR frame, or ``None`` if none is available right now (the caller retries)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A parsed ``--source`` string: its kind and what to open (path, device index or URL)."""

    kind: SourceKind
    target: str | int = ""

    def describe(self) -> str:
        """A loggable description (URL credentials redacted)."""
        if self.kind is SourceKind.URL:
            return f"url {redact_url(str(self.target))}"
        if self.kind in (SourceKind.FILE, SourceKind.DEVICE):
            return f"{self.kind.value} {self.target}"
        return self.kind.value


def parse_source(spec: str) -> SourceSpec:
    """Classify a ``--source`` string (see the module docstring). Raises ValueError if empty."""
    text = spec.strip()
    if not text:
        raise ValueError("source is empty")
    lowered = text.lower()
    if lowered == SourceKind.SYNTHETIC.value:
        return SourceSpec(SourceKind.SYNTHETIC)
    if lowered == SourceKind.PICAMERA.value:
        return SourceSpec(SourceKind.PICAMERA)
    if lowered == SourceKind.SCENE.value:
        return SourceSpec(SourceKind.SCENE)
    if text.isdigit():
        return SourceSpec(SourceKind.DEVICE, int(text))
    device = _DEVICE_PATH_RE.match(text)
    if device:
        return SourceSpec(SourceKind.DEVICE, int(device.group(1)))
    scheme = lowered.split("://", 1)[0] if "://" in lowered else ""
    if scheme in URL_SCHEMES:
        if not urlsplit(text).hostname:
            raise ValueError("source URL has no host")
        return SourceSpec(SourceKind.URL, text)
    if scheme:
        raise ValueError(f"unsupported source URL scheme {scheme!r} (use one of {', '.join(URL_SCHEMES)})")
    return SourceSpec(SourceKind.FILE, text)


def redact_url(url: str) -> str:
    """``rtsp://user:secret@host/x`` -> ``rtsp://user:***@host/x``; query strings are dropped too."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}"
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def make_source(spec: SourceSpec, width: int, height: int) -> Source:
    """Build (not open) the source for ``spec``; ``width``/``height`` is the requested size."""
    if spec.kind is SourceKind.SYNTHETIC:
        return SyntheticSource(width, height)
    if spec.kind is SourceKind.PICAMERA:
        return PicameraSource(width, height)
    if spec.kind is SourceKind.SCENE:
        raise ValueError("scene sources are built by vigil_capture.main.build_source (vigil_capture.scene)")
    if spec.kind is SourceKind.FILE:
        return FileSource(Path(str(spec.target)))
    if spec.kind is SourceKind.DEVICE:
        index = int(spec.target)
        return StreamSource(SourceKind.DEVICE, f"device {index}", lambda: open_device(index, width, height))
    url = str(spec.target)
    return StreamSource(SourceKind.URL, redact_url(url), lambda: open_url(url))


# --- synthetic ---------------------------------------------------------------------------


class SyntheticSource:
    """A deterministic moving test pattern: gradient background, a bouncing box, a frame counter.

    ``render(i)`` depends only on ``i`` and the size, so the same index always gives the same
    image. The background is computed once; a frame costs one copy plus two small drawings.
    """

    kind = SourceKind.SYNTHETIC.value

    def __init__(self, width: int, height: int) -> None:
        if width < 16 or height < 16:
            raise ValueError("synthetic frames must be at least 16x16")
        self.width = width
        self.height = height
        self.index = 0
        self._background: Image | None = None

    def open(self) -> None:
        self._background = self._make_background()
        self.index = 0

    def read(self) -> Image | None:
        frame = self.render(self.index)
        self.index += 1
        return frame

    def close(self) -> None:
        self._background = None

    def render(self, index: int) -> Image:
        if self._background is None:
            self._background = self._make_background()
        frame = self._background.copy()
        box = max(8, self.height // 6)
        step = max(1, self.width // 160)
        x = _bounce(index * step, self.width - box)
        y = _bounce(index * step * 2 // 3, self.height - box)
        cv2.rectangle(frame, (x, y), (x + box - 1, y + box - 1), _palette(index), cv2.FILLED)
        scale = max(0.4, self.height / 720)
        cv2.putText(
            frame,
            f"#{index}",
            (max(2, self.width // 40), self.height - max(4, self.height // 30)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            max(1, round(scale * 2)),
            cv2.LINE_8,
        )
        return frame

    def _make_background(self) -> Image:
        xs = np.linspace(0, 255, self.width, dtype=np.float32)
        ys = np.linspace(0, 255, self.height, dtype=np.float32)
        background = np.empty((self.height, self.width, 3), dtype=np.uint8)
        background[:, :, 0] = xs[np.newaxis, :].astype(np.uint8)  # blue grows left -> right
        background[:, :, 1] = ys[:, np.newaxis].astype(np.uint8)  # green grows top -> bottom
        background[:, :, 2] = 96
        return background


def _bounce(position: int, span: int) -> int:
    """Triangle wave: ``position`` folded back and forth over ``[0, span]``."""
    if span <= 0:
        return 0
    phase = position % (2 * span)
    return phase if phase <= span else 2 * span - phase


def _palette(index: int) -> tuple[int, int, int]:
    hue_steps = ((255, 255, 255), (0, 0, 255), (0, 255, 255), (255, 0, 255))
    return hue_steps[(index // 30) % len(hue_steps)]


# --- OpenCV captures (file, device, URL) ---------------------------------------------------


class CaptureLike(Protocol):
    """The part of ``cv2.VideoCapture`` the sources use (a fake can stand in for tests)."""

    def isOpened(self) -> bool: ...

    def read(self) -> tuple[bool, Any]: ...

    def set(self, prop_id: int, value: float) -> bool: ...

    def release(self) -> None: ...


def open_device(index: int, width: int, height: int) -> CaptureLike:
    """A USB/V4L2 camera, asked for ``width`` x ``height`` and a one-frame buffer (low latency)."""
    capture = cv2.VideoCapture(index)
    if capture.isOpened():
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return capture


def open_url(url: str, timeout_ms: int = 10_000) -> CaptureLike:
    """An RTSP/HTTP stream via OpenCV's FFmpeg backend, with open and read timeouts.

    RTSP goes over TCP unless ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` says otherwise (UDP loses
    packets on Wi-Fi, which shows as smeared frames).
    """
    if url.lower().startswith("rtsp"):
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    if capture.isOpened():
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return capture


def _frame_or_none(ok: bool, frame: Any) -> Image | None:
    if not ok or frame is None or getattr(frame, "size", 0) == 0:
        return None
    image = as_image(frame)
    if image.ndim == 2:  # some devices deliver grey frames
        return as_image(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    return image


class FileSource:
    """A video file read with OpenCV and looped at the end (pacing is the pipeline's job)."""

    kind = SourceKind.FILE.value

    def __init__(self, path: Path, open_capture: Callable[[str], CaptureLike] | None = None) -> None:
        self.path = path
        self.loops = 0
        self._open_capture = open_capture or (lambda p: cv2.VideoCapture(p))
        self._capture: CaptureLike | None = None
        self._first: Image | None = None

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"video file {self.path} does not exist")
        self._capture = self._open_capture(str(self.path))
        self._first = _frame_or_none(*self._capture.read()) if self._capture.isOpened() else None
        if self._first is None:
            self.close()
            raise SourceError(f"cannot read video frames from {self.path}")

    def read(self) -> Image | None:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        if self._capture is None:
            return None
        frame = _frame_or_none(*self._capture.read())
        if frame is not None:
            return frame
        return self._rewind()

    def _rewind(self) -> Image | None:
        """At the end of the file: seek to the start, or reopen if the container cannot seek."""
        assert self._capture is not None
        self.loops += 1
        self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        frame = _frame_or_none(*self._capture.read())
        if frame is None:
            self._capture.release()
            self._capture = self._open_capture(str(self.path))
            frame = _frame_or_none(*self._capture.read())
        if frame is None:
            _limited.warning("file_read", "cannot read %s any more", self.path)
        return frame

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class StreamSource:
    """A live OpenCV capture (device or URL) that reconnects with backoff when it drops.

    ``open()`` must succeed once (a wrong URL or missing device is a configuration error);
    after that a failed read closes the capture and later reads retry the connection with
    exponential backoff, returning ``None`` in between.
    """

    def __init__(
        self,
        kind: SourceKind,
        label: str,
        open_capture: Callable[[], CaptureLike],
        *,
        clock: Callable[[], float] = time.monotonic,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._kind = kind
        self.label = label
        self._open_capture = open_capture
        self._clock = clock
        self._initial = initial_backoff_s
        self._maximum = max_backoff_s
        self._delays = backoff_delays(initial_backoff_s, max_backoff_s)
        self._capture: CaptureLike | None = None
        self._retry_at = 0.0
        self.reconnects = 0

    @property
    def kind(self) -> str:
        return self._kind.value

    @property
    def connected(self) -> bool:
        return self._capture is not None

    def open(self) -> None:
        capture = self._open_capture()
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"{self.label} did not open (unreachable, wrong URL or credentials, or no such device)")
        self._capture = capture
        log.info("opened %s", self.label)

    def read(self) -> Image | None:
        if self._capture is None and not self._reconnect():
            return None
        assert self._capture is not None
        frame = _frame_or_none(*self._capture.read())
        if frame is None:
            log.warning("%s stopped delivering frames; reconnecting", self.label)
            self._drop_capture()
            return None
        self._delays = backoff_delays(self._initial, self._maximum)  # healthy again: reset
        return frame

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _drop_capture(self) -> None:
        self.close()
        self._retry_at = self._clock() + self._delays()

    def _reconnect(self) -> bool:
        if self._clock() < self._retry_at:
            return False
        capture = self._open_capture()
        if not capture.isOpened():
            capture.release()
            delay = self._delays()
            self._retry_at = self._clock() + delay
            _limited.warning(f"reconnect:{self.label}", "cannot reopen %s; retrying in %.1fs", self.label, delay)
            return False
        self._capture = capture
        self.reconnects += 1
        log.info("reconnected to %s", self.label)
        return True


# --- Raspberry Pi camera -------------------------------------------------------------------


class PicameraSource:
    """The Raspberry Pi camera via picamera2, imported only when this source is opened.

    picamera2's ``RGB888`` format is laid out B, G, R in memory: OpenCV's order, no conversion.
    """

    kind = SourceKind.PICAMERA.value

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._camera: Any = None

    def open(self) -> None:
        try:
            module = importlib.import_module("picamera2")
        except ImportError as exc:
            raise SourceError("picamera2 is not installed (Raspberry Pi OS: apt install python3-picamera2)") from exc
        try:
            camera = module.Picamera2()
            config = camera.create_video_configuration(main={"size": (self.width, self.height), "format": "RGB888"})
            camera.configure(config)
            camera.start()
        except Exception as exc:  # libcamera raises many kinds; all mean "no usable camera"
            raise SourceError(f"cannot start the Pi camera: {exc}") from exc
        self._camera = camera

    def read(self) -> Image | None:
        if self._camera is None:
            return None
        try:
            array = self._camera.capture_array()
        except Exception as exc:  # noqa: BLE001 - keep grabbing; the failure is logged
            _limited.warning("picamera_read", "Pi camera capture failed: %s", exc)
            return None
        image = np.asarray(array)
        if image.ndim != 3 or image.dtype != np.uint8:
            _limited.warning("picamera_shape", "unexpected Pi camera frame %s %s", image.shape, image.dtype)
            return None
        if image.shape[2] == 4:  # XRGB8888-style buffers: drop the padding byte
            image = np.ascontiguousarray(image[:, :, :3])
        return as_image(image)

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is None:
            return
        for step in ("stop", "close"):
            try:
                getattr(camera, step)()
            except Exception as exc:  # noqa: BLE001 - closing must not raise during shutdown
                log.warning("Pi camera %s failed: %s", step, exc)
