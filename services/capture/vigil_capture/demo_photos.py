"""Real photos for the demo camera (``--source scene``) and the detector's tests, from
scikit-image's wheel: hash-checked, offline once fetched.

scikit-image ships photos in its wheel (``skimage/data/``): a person (``astronaut``), a cat
(``chelsea``), a cup (``coffee``), a motorbike (``motorcycle_left``). The wheel is fetched with
``pip download --no-deps`` (scikit-image itself is not installed: only its pictures are used; pip's
index, proxy and cache apply) and the four files extracted, each checked against its SHA-256, into
:func:`photo_dir`. ``make install`` runs ``python -m vigil_capture.demo_photos``; nothing fetches
them at run time (a scene camera without them says which command does).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "scikit-image==0.26.0"
# Any platform's wheel carries the same pictures; one fixed platform keeps the download the same.
PLATFORM = ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "cp",
            "--abi", "cp311")
PHOTOS = {
    "astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    "coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    "motorcycle_left.png": "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
}
FETCH = f"{sys.executable} -m vigil_capture.demo_photos"
ENV_DIR = "VIGIL_DEMO_PHOTOS_DIR"


def photo_dir() -> Path:
    """``$VIGIL_DEMO_PHOTOS_DIR``, else ``<python prefix>/share/vigil/demo-photos``."""
    return Path(os.environ.get(ENV_DIR) or Path(sys.prefix) / "share" / "vigil" / "demo-photos")


def missing(directory: Path | None = None) -> list[str]:
    """The photos that are absent or whose SHA-256 is wrong."""
    d = directory or photo_dir()
    return [name for name, digest in PHOTOS.items()
            if not (d / name).is_file() or hashlib.sha256((d / name).read_bytes()).hexdigest() != digest]


def photo(name: str, directory: Path | None = None) -> Path:
    """The path of one photo; raises with the fetch command when the photos are not there."""
    d = directory or photo_dir()
    if missing(d):
        raise FileNotFoundError(f"demo photos missing in {d}: run {FETCH}")
    return d / name


def ensure(directory: Path | None = None) -> Path:
    """Fetch and extract the photos unless all four are already there and intact."""
    d = directory or photo_dir()
    if not missing(d):
        return d
    d.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vigil-photos-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                        *PLATFORM, WHEEL, "-d", tmp], check=True)
        wheel = next(Path(tmp).glob("scikit_image-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            for name, digest in PHOTOS.items():
                data = z.read(f"skimage/data/{name}")
                if hashlib.sha256(data).hexdigest() != digest:
                    raise RuntimeError(f"{wheel.name}: skimage/data/{name} has an unexpected SHA-256")
                partial = d / f".{name}.partial"
                partial.write_bytes(data)
                partial.replace(d / name)
    return d


def main(argv: list[str]) -> int:
    if argv == ["--check"]:  # exit 1 when a photo is missing or altered (``vigil up`` asks)
        bad = missing()
        print(f"{photo_dir()}: " + (f"missing or altered: {', '.join(bad)}" if bad else "all demo photos present"))
        return 1 if bad else 0
    print(f"demo photos: {ensure()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
