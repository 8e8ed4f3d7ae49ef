"""The images install from the locks: each Dockerfile's install steps, run here as they are written
(its COPY lines into a scratch context, its RUN lines with /opt/vigil, /src and /app pointed at
scratch directories), give a virtual environment that holds exactly its lock and our packages.
No Docker engine is needed; what the base image brings (Python, Debian packages) is not checked.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.compose import dockerfile_stages
from tests.lockfiles import ROOT, applicable, installed, mismatches, read_lock

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the stage that installs into /opt/vigil."""
    return next(s for s in dockerfile_stages(dockerfile)
                if any("/opt/vigil/bin/pip" in rest for w, rest in s if w == "RUN"))


def run_install(dockerfile: Path, tmp: Path) -> Path:
    """Replay the stage: COPY into ``tmp/src``, the pip RUN lines against ``tmp/venv``."""
    venv, src, app = tmp / "venv", tmp / "src", tmp / "app"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for word, rest in instructions(dockerfile):
        if word == "COPY" and not rest.startswith("--from"):
            source, dest = rest.split()
            target = Path(str(dest).replace("/src", str(src), 1))
            if source == ".":  # the whole (filtered) context: what the image's install uses of it
                for part in ("services", "frontend", "requirements"):
                    shutil.copytree(ROOT / part, target / part,
                                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
            elif (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, target)
        elif word == "RUN" and "/opt/vigil/bin/pip" in rest:
            script = rest.replace("/opt/vigil", str(venv)).replace("/src", str(src)).replace("/app", str(app))
            out = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
            assert out.returncode == 0, f"{dockerfile.name}: {rest}\n{out.stdout[-3000:]}{out.stderr[-3000:]}"
    return venv / "bin" / "python"


def test_the_server_image_installs_exactly_the_server_lock(tmp_path: Path) -> None:
    python = run_install(ROOT / "Dockerfile", tmp_path)
    have = installed(python)
    ours = frozenset({"vigil-common", "vigil-ingest", "vigil-recorder", "vigil-api", "vigil-notifier",
                      "vigil-detector", "vigil-capture", "vigil-ipcams"})
    assert mismatches(applicable(read_lock(ROOT / "requirements" / "server.txt")), have, others=ours) == []
    assert ours <= set(have)  # vigil-capture for the IP cameras the server captures (vigil ipcams)
    out = subprocess.run([str(python.parent / "vigil"), "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "app" / "frontend" / "index.html").is_file()


def test_the_pi_image_installs_exactly_the_camera_lock(tmp_path: Path) -> None:
    python = run_install(ROOT / "deploy" / "pi" / "Dockerfile", tmp_path)
    have = installed(python)
    ours = frozenset({"vigil-common", "vigil-capture"})
    # numpy and OpenCV come from Debian in the image (apt, before this stage's pip lines)
    assert mismatches(applicable(read_lock(ROOT / "requirements" / "capture-pi.txt")), have, others=ours) == []
    assert ours <= set(have)
    assert not {"fastapi", "sqlalchemy", "psycopg", "rq", "redis"} & set(have)
