"""``vigil bench <name>``: dispatch to a benchmark of the ``vigil_bench`` package (bench/,
installed by ``make``; development only, no image ships it).

Every benchmark prints its figure and the ratio to a raw baseline measured in the same run.
"""

from __future__ import annotations

import importlib
import sys

BENCHES: dict[str, tuple[str, str]] = {
    "capture": ("vigil_bench.capture", "capture pipeline vs bare cv2.imencode"),
    "recorder": ("vigil_bench.recorder", "JPEG -> H.264 segments vs bare PyAV"),
    "recorder-scale": ("vigil_bench.recorder_scale", "recorder workers N=1 vs N=2: camera load, CPU per camera"),
    "ingest": ("vigil_bench.ingest", "ingest throughput vs bare paho subscriber; publish -> Redis latency"),
    "noloss": ("vigil_bench.noloss", "8 cameras x 15 fps x 320x240, 45 s: frames inside recordings"),
    "detector": ("vigil_bench.detector", "YOLOv3-tiny inference per frame, 1 and 2 threads, vs a bare cv2.dnn loop"),
    "passthrough": ("vigil_bench.passthrough", "server CPU per 1080p30 camera: H.264 remux vs JPEG vs ffmpeg -c copy"),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: vigil bench {" + ",".join([*BENCHES, "all"]) + "} [options]\n")
        for name, (_m, help_) in BENCHES.items():
            print(f"  {name:<9} {help_}")
        return 0
    name, rest = argv[0], argv[1:]
    names = list(BENCHES) if name == "all" else [name]
    status = 0
    for n in names:
        if n not in BENCHES:
            print(f"vigil bench: unknown benchmark {n!r}", file=sys.stderr)
            return 2
        print(f"\n=== vigil bench {n} ===", flush=True)
        try:
            module = importlib.import_module(BENCHES[n][0])
        except ModuleNotFoundError as exc:
            if exc.name != "vigil_bench":
                raise
            print("vigil bench: the benchmarks are not installed here (a development checkout has them: "
                  "make bench)", file=sys.stderr)
            return 2
        status |= int(module.main(rest) or 0)
    return status
