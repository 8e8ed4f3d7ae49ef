"""RTSP cameras for the passthrough bench's floor: GStreamer's gst-rtsp-server serving an MP4 of
H.264 at real time, as IP cameras serve their main stream. Run with Debian's ``/usr/bin/python3``
(the venv's Python cannot import ``gi``; scripts/ensure-rtsp-server.sh installs the packages);
nothing in the venv imports this module.

``python3 rtsp_file_camera.py --port P --file stream.mp4`` serves ``rtsp://127.0.0.1:P/cam``.
The mount is not shared: every client gets its own pipeline from the start of the file, paced by
the pipeline clock (``qtdemux ! rtph264pay``: the camera's access units, not re-encoded, SPS/PPS
before every IDR). Prints ``READY <port>`` once it listens; ``SIGTERM``/``SIGINT`` stop it.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", required=True, help="an MP4 holding one H.264 track")
    args = parser.parse_args(argv)

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = GLib.strescape(args.file)
    factory.set_launch(f'( filesrc location="{location}" ! qtdemux ! rtph264pay name=pay0 pt=96 config-interval=-1 )')
    factory.set_shared(False)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()

    def stop() -> bool:
        loop.quit()
        return False

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, stop)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, stop)
    print(f"READY {args.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
