"""``vigil capture``: the composition root of the camera service.

Exit codes: 0 after a graceful stop (SIGTERM/SIGINT), 1 if the source cannot be opened or a
capture thread dies, 2 for invalid settings (camera id, flags, environment).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from pydantic import ValidationError

from vigil_capture import __version__
from vigil_capture.access_units import EncodedSource
from vigil_capture.edge_encoder import EdgeEncoder
from vigil_capture.picamera_h264 import PicameraH264Source
from vigil_capture.rtsp_passthrough import RtspPassthroughSource
from vigil_capture.scene import SceneSource
from vigil_capture.service import CaptureService, ServiceOptions
from vigil_capture.settings import CaptureSettings
from vigil_capture.sources import Source, SourceError, SourceKind, SourceSpec, make_source, parse_source
from vigil_common.bus.mqtt import parse_mqtt_url
from vigil_common.contract.ids import InvalidIdError, require_camera_id
from vigil_common.runtime.lifecycle import StopSignal
from vigil_common.runtime.logsetup import setup_logging
from vigil_common.runtime.settings import Settings

log = logging.getLogger("vigil_capture")

PROG = "vigil capture"


class UsageError(ValueError):
    """Invalid settings: reported on stderr, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run a camera: source -> overlay -> H.264 or JPEG -> MQTT. Flags override VIGIL_* variables.",
    )
    add = parser.add_argument
    add("--camera-id", help="camera id, ^[a-z0-9][a-z0-9_-]{0,31}$ (VIGIL_CAMERA_ID)")
    add(
        "--source",
        help="synthetic | scene (demo: photos of a person, a cat, a motorbike walk by) | picamera | "
        "device index (0) | video file | rtsp:// or http(s):// URL (VIGIL_SOURCE, default synthetic)",
    )
    add("--mqtt-url", help="mqtt://[user:pass@]host[:port] (VIGIL_MQTT_URL)")
    add("--topic-prefix", help="MQTT topic prefix (VIGIL_TOPIC_PREFIX, default vigil)")
    add("--fps", type=float, help="frame rate cap (VIGIL_FPS, default 10; 0 = unthrottled)")
    add("--width", type=int, help="output width (VIGIL_WIDTH, default 1280)")
    add("--height", type=int, help="output height (VIGIL_HEIGHT, default 720)")
    add("--quality", type=int, help="JPEG quality 1-100 (VIGIL_QUALITY, default 80)")
    add("--codec", choices=("h264", "jpeg"),
        help="what the camera sends: h264 (encoded here, or the camera's own for rtsp:// and picamera) "
        "or jpeg (VIGIL_CODEC, default h264)")
    add("--gop-s", type=float, help="seconds between H.264 keyframes, 0.2-10 (VIGIL_GOP_S, default 2)")
    add("--crf", type=int, help="libx264 quality 0-51, lower is better (VIGIL_CRF, default 23)")
    add("--rtsp-transport", choices=("tcp", "udp"),
        help="RTSP over TCP (VIGIL_RTSP_TRANSPORT, default tcp) or UDP (packet loss is then detected and the "
             "damaged frames dropped up to the next keyframe)")
    add("--name", help="camera name shown in the overlay (VIGIL_NAME, default the camera id)")
    add("--location", help="camera location shown in the overlay (VIGIL_LOCATION)")
    add("--no-overlay", dest="overlay", action="store_const", const=False, help="no time/name overlay")
    add("--no-autostart", dest="autostart", action="store_const", const=False, help="start stopped")
    add("--no-motion", dest="edge_motion", action="store_const", const=False,
        help="do not measure motion on this camera (the server then decodes its frames for it)")
    add("--heartbeat-s", type=float, help="heartbeat interval in seconds (VIGIL_HEARTBEAT_S, default 5)")
    add("--max-inflight", type=int, help=argparse.SUPPRESS)
    add("--buffer-size", type=int, help=argparse.SUPPRESS)
    add("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def load_settings(args: argparse.Namespace) -> tuple[Settings, CaptureSettings, SourceSpec]:
    """Environment settings with the given flags on top, validated. Raises :class:`UsageError`."""
    given: dict[str, Any] = {key: value for key, value in vars(args).items() if value is not None}
    common_keys = ("mqtt_url", "topic_prefix")
    try:
        common = Settings(**{key: given.pop(key) for key in common_keys if key in given})
        capture = CaptureSettings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise UsageError(f"invalid settings: {problems}") from exc
    if not capture.camera_id:
        raise UsageError("--camera-id is required (or set VIGIL_CAMERA_ID)")
    try:
        require_camera_id(capture.camera_id)
        parse_mqtt_url(common.mqtt_url)
        spec = parse_source(capture.source)
    except (InvalidIdError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    return common, capture, spec


def build_source(spec: SourceSpec, capture: CaptureSettings) -> Source | EncodedSource:
    """With ``--codec h264``, cameras that encode themselves are forwarded untouched: an RTSP
    camera (its own H.264) and the Pi camera (its hardware encoder). Everything else yields
    images, encoded here (``EdgeEncoder``) or as JPEG; an http(s) feed is usually MJPEG."""
    if capture.codec == "h264":
        if spec.kind is SourceKind.URL and str(spec.target).lower().startswith(("rtsp://", "rtsps://")):
            return RtspPassthroughSource(str(spec.target), transport=capture.rtsp_transport)
        if spec.kind is SourceKind.PICAMERA:
            return PicameraH264Source(capture.width, capture.height, capture.fps or 30.0, gop_s=capture.gop_s)
    if spec.kind is SourceKind.SCENE:
        return SceneSource(capture.width, capture.height)
    return make_source(spec, capture.width, capture.height)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        common, capture, spec = load_settings(args)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    setup_logging("capture", common.log_level, common.log_format)
    source = build_source(spec, capture)
    try:
        source.open()
    except SourceError as exc:
        log.error("cannot open source: %s", exc)
        print(f"{PROG}: cannot open source: {exc}", file=sys.stderr)
        return 1
    stop = StopSignal().install()
    options = ServiceOptions(
        camera_id=capture.camera_id,
        mqtt_url=common.mqtt_url,
        topic_prefix=common.topic_prefix,
        heartbeat_s=capture.heartbeat_s,
        autostart=capture.autostart,
        max_inflight=capture.max_inflight,
        buffer_size=capture.buffer_size,
        edge_motion=capture.edge_motion,
    )
    log.info("source: %s", spec.describe())
    service: CaptureService | None = None
    try:
        encoder = EdgeEncoder(capture.fps, capture.gop_s, capture.crf) if capture.codec == "h264" else None
        service = CaptureService(options, source, capture.capture_config(), encoder)
        return service.run(stop)
    finally:
        # A grab thread still blocked inside the source must not have it closed under it.
        if service is None or not service.pipeline.running:
            source.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
