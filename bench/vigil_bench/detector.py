"""``vigil bench detector``: the detector's inference per frame against a bare ``cv2.dnn`` loop.

The same 1280x720 frames (scikit-image's photos pasted at camera scale when ``python -m
tests.support.photos`` has fetched them, else a synthetic scene) go through the default model
(YOLOv3-tiny, 416x416, OpenCV DNN) two ways, at 1 and at 2 threads:

* **bare**: ``cv2.resize`` to the input, ``blobFromImage``, ``setInput``, ``forward`` — what a
  minimal script does, no decoding;
* **vigil**: :func:`vigil_detector.model.detect` — letterbox, blob, forward, decode, NMS.

Rounds alternate (bare, vigil, bare, ...) and the figure is the median of each round's ms per
frame; the ratio is bare / vigil (goal >= 0.9: what Vigil adds around the network is small).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vigil_detector.model import OpenCvModel, default_spec, detect

GOAL = 0.9
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png")


def frames(count: int = 8) -> tuple[list[np.ndarray], str]:
    photo_dir = Path(sys.prefix) / "share" / "vigil" / "test-photos"
    rng = np.random.default_rng(5)
    out = []
    read = [cv2.imread(str(photo_dir / p)) for p in PHOTOS if (photo_dir / p).is_file()]
    photos = [img for img in read if img is not None]
    for i in range(count):
        frame = np.full((720, 1280, 3), 90, np.uint8)
        frame[:, :, 1] = np.linspace(60, 140, 1280, dtype=np.uint8)
        if photos:
            img = photos[i % len(photos)]
            s = 360 / max(img.shape[:2])
            img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)))
            x, y = 80 + (i * 137) % 800, 40 + (i * 71) % 300
            frame[y:y + img.shape[0], x:x + img.shape[1]] = img
        else:
            cv2.rectangle(frame, (300 + i * 20, 200), (500 + i * 20, 600), (40, 40, 200), -1)
            frame[600:, :] = rng.integers(0, 255, (120, 1280, 3), dtype=np.uint8)
        out.append(frame)
    return out, "photos" if photos else "synthetic"


def bare_ms(net: Any, outputs: list[str], batch: list[np.ndarray], size: int, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        blob = cv2.dnn.blobFromImage(cv2.resize(batch[i % len(batch)], (size, size)), 1 / 255.0, swapRB=True)
        net.setInput(blob)
        net.forward(outputs)
    return (time.perf_counter() - start) * 1000 / n


def vigil_ms(model: OpenCvModel, batch: list[np.ndarray], n: int) -> tuple[float, int]:
    found = 0
    start = time.perf_counter()
    for i in range(n):
        found += len(detect(model, batch[i % len(batch)]))
    return (time.perf_counter() - start) * 1000 / n, found


def run(*, rounds: int = 5, per_round: int = 10, threads: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    batch, scene = frames()
    result: dict[str, Any] = {"benchmark": "detector", "model": "yolov3-tiny 416x416 (OpenCV DNN)",
                              "frames": "1280x720 " + scene, "cpus": os.cpu_count() or 0,
                              "opencv": cv2.__version__, "rounds": rounds, "frames_per_round": per_round,
                              "threads": {}}
    for t in threads:
        model = OpenCvModel(default_spec(threads=t))
        bare_net = cv2.dnn.readNetFromDarknet(str(model.spec.config), str(model.spec.path))
        outputs = list(bare_net.getUnconnectedOutLayersNames())
        cv2.setNumThreads(t)
        bare_ms(bare_net, outputs, batch, model.spec.input_w, 3)  # warm both
        vigil_ms(model, batch, 3)
        bare, ours, ratios, found = [], [], [], 0
        for _ in range(rounds):
            b = bare_ms(bare_net, outputs, batch, model.spec.input_w, per_round)
            v, f = vigil_ms(model, batch, per_round)
            bare.append(b)
            ours.append(v)
            ratios.append(b / v)
            found += f
        result["threads"][str(t)] = {
            "bare_ms_per_frame": round(statistics.median(bare), 1),
            "vigil_ms_per_frame": round(statistics.median(ours), 1),
            "ratio_bare_over_vigil": round(statistics.median(ratios), 3),
            "vigil_frames_per_s": round(1000 / statistics.median(ours), 1),
            "detections_per_frame": round(found / (rounds * per_round), 2),
        }
    return result


def format_table(r: dict[str, Any]) -> str:
    lines = [f"{r['model']}, {r['frames']} frames, {r['cpus']} CPUs, OpenCV {r['opencv']}",
             f"{'threads':<9}{'bare ms/frame':>15}{'vigil ms/frame':>16}{'ratio':>8}{'vigil fps':>11}"
             f"{'dets/frame':>12}"]
    for t, x in r["threads"].items():
        lines.append(f"{t:<9}{x['bare_ms_per_frame']:>15}{x['vigil_ms_per_frame']:>16}{x['ratio_bare_over_vigil']:>8}"
                     f"{x['vigil_frames_per_s']:>11}{x['detections_per_frame']:>12}")
    worst = min(x["ratio_bare_over_vigil"] for x in r["threads"].values())
    lines.append(f"ratio bare / vigil: {worst} at worst (goal >= {GOAL})")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="vigil bench detector", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--frames", type=int, default=10, help="frames per round and way")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = run(rounds=args.rounds, per_round=args.frames)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0
