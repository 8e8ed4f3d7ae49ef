"""H.264 at the edge: the capture process encodes its (overlaid) frames with PyAV's libx264, so
the server only remuxes (``vigil capture --codec h264``, the default for USB, file and
synthetic sources).

``ultrafast`` + ``zerolatency``: no B-frames and no lookahead, so every frame in gives one
access unit out at once, in capture order (what the recorder's remux and live view assume). A
keyframe every ``gop_s`` seconds; libx264 repeats SPS and PPS before every IDR when the codec
has no global header, which is what the VGF1 codec-2 rules ask (docs/protocol.md). After a
frame was lost on the way out the sender forces an IDR (:meth:`EdgeEncoder.force_keyframe`),
so the receiver waits one frame, not a whole GOP.

PyAV is imported when the first encoder is built, so a JPEG-only camera does not need it.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from vigil_capture.access_units import AccessUnit
from vigil_capture.images import Image
from vigil_common.contract import h264

if TYPE_CHECKING:
    from av.video.codeccontext import VideoCodecContext

CLOCK_HZ = 90_000
PRESET = "ultrafast"
DEFAULT_CRF = 23
AVCOL_RANGE_MPEG = 1  # limited range, what swscale's bgr24 -> yuv420p produces
AVCOL_SPC_SMPTE170M = 6  # BT.601, as the recorder tags its own encodes


class EncoderError(RuntimeError):
    """libx264 is missing or refused a frame."""


def gop_frames(fps: float, gop_s: float) -> int:
    """Frames between keyframes (an unthrottled source counts as 30 fps)."""
    return max(1, round((fps or 30.0) * gop_s))


class EdgeEncoder:
    """BGR images in, Annex B access units out. Used from one thread (the publish thread).

    The encoder is (re)built at the first frame and whenever the frame size, the fps or the
    keyframe interval change (a ``configure`` command); a rebuilt encoder starts with an IDR.
    """

    def __init__(self, fps: float, gop_s: float = 2.0, crf: int = DEFAULT_CRF, threads: int = 0) -> None:
        self.fps = fps
        self.gop_s = gop_s
        self.crf = crf
        self.threads = threads
        self._cc: VideoCodecContext | None = None
        self._shape: tuple[int, int, float, float] | None = None
        self._first_ns: int | None = None
        self._last_pts = -1
        self._capture: dict[int, int] = {}
        self._force = False
        self.keyframes_forced = 0

    def force_keyframe(self) -> None:
        """Make the next frame an IDR (the one before it was lost downstream)."""
        self._force = True

    def encode(self, image: Image, capture_ns: int) -> list[AccessUnit]:
        import av
        from av.video.frame import PictureType, VideoFrame

        height, width = image.shape[:2]
        width, height = width - width % 2, height - height % 2
        shape = (width, height, self.fps, self.gop_s)
        if self._cc is None or shape != self._shape:
            self._open(width, height)
            self._shape = shape
        assert self._cc is not None
        picture = VideoFrame.from_ndarray(image[:height, :width], format="bgr24").reformat(format="yuv420p")
        if self._first_ns is None:
            self._first_ns = capture_ns
        pts = max(self._last_pts + 1, (capture_ns - self._first_ns) * CLOCK_HZ // 1_000_000_000)
        self._last_pts = pts
        picture.pts = pts
        picture.time_base = Fraction(1, CLOCK_HZ)
        if self._force:
            picture.pict_type = PictureType.I
            self._force = False
            self.keyframes_forced += 1
        self._capture[pts] = capture_ns
        try:
            packets = self._cc.encode(picture)
        except (av.FFmpegError, ValueError) as exc:
            self._capture.pop(pts, None)
            raise EncoderError(f"libx264 refused a {width}x{height} frame: {exc}") from exc
        return [self._unit(packet, width, height) for packet in packets]

    def _unit(self, packet: Any, width: int, height: int) -> AccessUnit:
        data = bytes(packet)
        capture_ns = self._capture.pop(packet.pts, None) if packet.pts is not None else None
        if capture_ns is None:  # cannot happen with zerolatency (one packet per frame, in order)
            capture_ns = self._first_ns or 0
        keyframe = bool(packet.is_keyframe) and h264.can_start_segment(data)
        return AccessUnit(data, keyframe, capture_ns, width, height)

    def _open(self, width: int, height: int) -> None:
        import av
        from av.video.codeccontext import VideoCodecContext

        try:
            cc = av.CodecContext.create("libx264", "w")
        except (av.FFmpegError, ValueError) as exc:
            raise EncoderError(f"no libx264 encoder in this PyAV build: {exc}") from exc
        assert isinstance(cc, VideoCodecContext)
        cc.width, cc.height, cc.pix_fmt = width, height, "yuv420p"
        cc.time_base = Fraction(1, CLOCK_HZ)
        cc.framerate = Fraction(self.fps or 30.0).limit_denominator(1001)
        cc.gop_size = gop_frames(self.fps, self.gop_s)
        cc.max_b_frames = 0
        cc.color_range = AVCOL_RANGE_MPEG
        cc.colorspace = AVCOL_SPC_SMPTE170M
        cc.options = {"preset": PRESET, "tune": "zerolatency", "crf": str(self.crf), "forced-idr": "1",
                      "threads": str(self.threads)}
        self._cc = cc
        self._first_ns = None
        self._last_pts = -1
        self._capture.clear()
        self._force = False

    def close(self) -> None:
        self._cc = None
        self._capture.clear()
