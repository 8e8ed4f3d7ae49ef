"""A real RTSP camera for tests: GStreamer's gst-rtsp-server, run with Debian's ``/usr/bin/python3``
(the venv's Python cannot import ``gi``; see scripts/ensure-rtsp-server.sh for the packages).

Serves ``videotestsrc ! x264enc tune=zerolatency key-int-max=N ! rtph264pay`` (or x265enc and
rtph265pay with ``--codec h265``) at ``rtsp://127.0.0.1:PORT/PATH``. One pipeline is shared by
every client (``set_shared``), so what two clients receive is the same encoding.

- ``--bframes 2``: x264 without ``tune=zerolatency`` (which forbids B-frames), ``bframes=2``.
- ``--user/--password``: RTSP basic authentication; anything else gets 401.
- ``--no-inband-parameter-sets``: SPS/PPS only in the SDP (``sprop-parameter-sets``), as many
  cameras do: the client must put them back before each IDR.
- ``SIGUSR1``: switch between ``--size`` and ``--alt-size`` mid-stream (the capsfilter changes,
  x264enc restarts with a new SPS and an IDR); the stream itself stays up.
- Prints ``READY <port>`` on stdout once it listens; ``SIGTERM``/``SIGINT`` stop it.

Not a module for the venv: nothing in ``tests`` imports it.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def _caps(size: tuple[int, int], fps: int) -> str:
    return f"video/x-raw,width={size[0]},height={size[1]},framerate={fps}/1"


def launch_line(args: argparse.Namespace) -> str:
    src = f"videotestsrc is-live=true pattern={args.pattern} ! timeoverlay"
    caps = f"capsfilter name=caps caps={_caps(args.size, args.fps)}"
    if args.codec == "h265":
        enc = f"x265enc tune=zerolatency key-int-max={args.key_int} speed-preset=ultrafast"
        pay = "rtph265pay name=pay0 pt=96 config-interval=-1"
    else:
        # ultrafast and zerolatency both turn B-frames off, and Baseline has none: a B-frame
        # camera is "veryfast", Main profile, no zerolatency.
        if args.bframes:
            tune, preset, profile = "", "veryfast", "main"
        else:
            tune, preset, profile = "tune=zerolatency ", "ultrafast", "baseline"
        enc = (
            f"x264enc {tune}speed-preset={preset} key-int-max={args.key_int} bframes={args.bframes} "
            f"b-adapt=false bitrate={args.bitrate} threads={args.threads} ! video/x-h264,profile={profile}"
        )
        if args.no_inband_parameter_sets:
            # avc stream format: SPS/PPS only in codec_data, hence only in the SDP's
            # sprop-parameter-sets (with config-interval 0): IDRs arrive without them.
            enc = enc.replace("x264enc ", "x264enc option-string=repeat-headers=0 ", 1) + ",stream-format=avc"
        # config-interval 0: SPS/PPS only in the SDP (sprop-parameter-sets) unless the encoder
        # repeats them; -1: before every IDR. Cameras do both, so both can be asked for.
        pay = f"rtph264pay name=pay0 pt=96 config-interval={args.config_interval}"
        if args.drop_probability:
            # Packet loss on the way: small RTP packets (a picture spans many) of which some never
            # leave the server, so the client gets access units with holes (identity takes the
            # payloader's name: the media factory streams what the element named pay0 outputs).
            pay = (f"rtph264pay name=rtppay pt=96 mtu=400 config-interval={args.config_interval} ! "
                   f"identity name=pay0 drop-probability={args.drop_probability}")
    return f"( {src} ! {caps} ! videoconvert ! {enc} ! {pay} )"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/stream")
    parser.add_argument("--size", type=_size, default=(320, 240), help="WxH")
    parser.add_argument("--alt-size", type=_size, default=(480, 272), help="WxH after SIGUSR1")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--key-int", type=int, default=15, help="frames between keyframes")
    parser.add_argument("--bframes", type=int, default=0)
    parser.add_argument("--bitrate", type=int, default=1024, help="kbit/s")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--config-interval", type=int, default=0)
    parser.add_argument("--no-inband-parameter-sets", action="store_true",
                        help="SPS/PPS only in the SDP, never before an IDR")
    parser.add_argument("--codec", choices=("h264", "h265"), default="h264")
    parser.add_argument("--pattern", default="ball")
    parser.add_argument("--drop-probability", type=float, default=0.0, help="RTP packets lost on the way")
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    args = parser.parse_args(argv)

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args))
    factory.set_shared(True)
    factory.set_eos_shutdown(False)

    state = {"alt": False, "capsfilter": None}

    def media_configure(_factory: object, media: GstRtspServer.RTSPMedia) -> None:
        state["capsfilter"] = media.get_element().get_by_name("caps")

    factory.connect("media-configure", media_configure)

    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "camera-user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        server.set_auth(auth)
        factory.add_role_from_structure(
            Gst.Structure.new_from_string(
                "camera-user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
        )
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr)
        return 1

    loop = GLib.MainLoop()

    def switch_size() -> bool:
        state["alt"] = not state["alt"]
        capsfilter = state["capsfilter"]
        if capsfilter is not None:
            size = args.alt_size if state["alt"] else args.size
            capsfilter.set_property("caps", Gst.Caps.from_string(_caps(size, args.fps)))
            print(f"SIZE {size[0]}x{size[1]}", flush=True)
        return True

    def stop() -> bool:
        loop.quit()
        return False

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, switch_size)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, stop)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, stop)
    print(f"READY {args.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
