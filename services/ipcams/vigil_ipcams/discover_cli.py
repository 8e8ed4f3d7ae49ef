"""``vigil camera discover``: the ONVIF cameras that answer a WS-Discovery probe
(``VIGIL_ONVIF_PROBE_TARGETS``), or, with ``--xaddr URL --username U`` (password on stdin), one
camera's profiles and stream URLs. Adding one is the web app's "Find cameras" or
``POST /api/v1/ip-cameras``."""

from __future__ import annotations

import argparse
import sys

from vigil_common.contract.onvif import parse_probe_targets
from vigil_common.runtime.settings import Settings
from vigil_ipcams.onvif_device import OnvifError, lookup_sync
from vigil_ipcams.probe import discover


def build_parser() -> argparse.ArgumentParser:
    find = argparse.ArgumentParser(prog="vigil camera discover",
                                   description="search the network for ONVIF cameras (WS-Discovery)")
    find.add_argument("--timeout", type=float, default=None, help="seconds to wait (VIGIL_ONVIF_PROBE_TIMEOUT_S)")
    find.add_argument("--targets", default=None, help="IPv4 addresses / networks / the multicast group to probe "
                      "(VIGIL_ONVIF_PROBE_TARGETS)")
    find.add_argument("--interface", default=None, help="local IPv4 address to send from (VIGIL_ONVIF_PROBE_INTERFACE)")
    find.add_argument("--xaddr", default=None, help="an ONVIF device service URL: print its profiles and stream URLs")
    find.add_argument("--username", default="", help="the camera's user (with --xaddr; the password is read from "
                      "stdin, never the command line)")
    return find


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    if args.xaddr:
        password = sys.stdin.readline().rstrip("\n") if args.username else ""
        try:
            info = lookup_sync(args.xaddr, args.username, password)
        except OnvifError as exc:
            print(f"vigil camera discover: {exc}", file=sys.stderr)
            return 1
        print(f"{info.manufacturer} {info.model} (firmware {info.firmware or '?'})")
        for p in info.profiles:
            print(f"  profile {p.token!r} {p.name!r}: {p.encoding} {p.width}x{p.height} @ {p.fps:g} fps  {p.uri}")
        return 0
    try:
        targets = parse_probe_targets(args.targets if args.targets is not None else settings.onvif_probe_targets)
        devices = discover(targets, timeout_s=args.timeout or settings.onvif_probe_timeout_s,
                           interface=args.interface if args.interface is not None else settings.onvif_probe_interface)
    except (ValueError, OSError) as exc:
        print(f"vigil camera discover: {exc}", file=sys.stderr)
        return 2
    if not devices:
        print("no ONVIF camera answered (a container on a bridge network: set VIGIL_ONVIF_PROBE_TARGETS "
              "to the cameras' network, e.g. 192.168.1.0/24)")
    for d in devices:
        label = " / ".join(x for x in (d.name, d.hardware, d.location) if x) or "(no name)"
        print(f"{d.address:<15} {label}  {' '.join(d.xaddrs)}  {d.urn}")
    return 0
