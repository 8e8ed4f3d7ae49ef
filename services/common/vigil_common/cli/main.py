"""The ``vigil`` command-line tool: one subcommand per service, plus up / migrate / user / bench.

Each service lives in its own package (``vigil_<service>``) and is imported only when its
subcommand runs, so a Pi with only ``vigil-capture`` installed can run ``vigil capture``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

# subcommand -> (module, help). The module exposes ``main(argv: list[str]) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("vigil_common.cli.up", "run the whole stack with demo cameras (embedded defaults)"),
    "capture": ("vigil_capture.main", "run a camera: source -> overlay -> encode -> MQTT"),
    "ingest": ("vigil_ingest.main", "MQTT -> validation -> Redis streams, registry, recorder jobs"),
    "recorder": ("vigil_recorder.main", "an RQ worker turning frame windows into H.264 MP4 segments"),
    "api": ("vigil_api.main", "the HTTP API and web app"),
    "notifier": ("vigil_notifier.main", "e-mail alerts: camera outages, recoveries, new cameras"),
    "detector": ("vigil_detector.main", "object detection on motion-gated frames (docs/detector.md)"),
    "ipcams": ("vigil_ipcams.main", "capture the IP cameras (ONVIF / RTSP) added in the web app, on the server"),
    "export": ("vigil_recorder.exports.cli", "cut a camera's footage between two times into one MP4"),
    "migrate": ("vigil_common.cli.db", "apply database migrations"),
    "user": ("vigil_common.cli.db", "manage users: add, passwd, delete, list"),
    "camera": ("vigil_common.cli.provision", "`vigil camera add ID` (a Pi camera), `vigil camera discover` (ONVIF)"),
    "health": ("vigil_common.cli.health", "container health probe: exit 0 when this host's service is alive"),
    "bench": ("vigil_common.cli.bench", "benchmarks: ingest, recorder, capture, noloss"),
}

PACKAGE_OF = {
    "vigil_capture": "vigil-capture",
    "vigil_ingest": "vigil-ingest",
    "vigil_recorder": "vigil-recorder",
    "vigil_api": "vigil-api",
    "vigil_notifier": "vigil-notifier",
    "vigil_detector": "vigil-detector",
    "vigil_ipcams": "vigil-ipcams",
}


def _usage() -> str:
    lines = ["usage: vigil <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_m, help_) in COMMANDS.items()]
    lines += ["", "Run `vigil <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version"):
        from vigil_common import __version__

        print(f"vigil {__version__}")
        return 0
    name, rest = args[0], args[1:]
    from vigil_common.runtime.lifecycle import private_files

    private_files()
    if name not in COMMANDS:
        print(f"vigil: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name = COMMANDS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.split(".")[0]
        if exc.name and (exc.name == top or exc.name.startswith(top + ".")) and top in PACKAGE_OF:
            print(f"vigil {name}: package {PACKAGE_OF[top]} is not installed here", file=sys.stderr)
            return 2
        raise
    entry: Callable[[list[str]], int] = module.main
    if module_name == "vigil_common.cli.db":
        return entry([name, *rest])
    return int(entry(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
