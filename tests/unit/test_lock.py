"""Installs are locked (issue 11): this environment holds exactly the lock it was installed from,
the locks agree with each other and with the ranges the packages declare, every pin carries its
hashes, and every range has an upper bound (the next major we have not tested)."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.lockfiles import LOCKS, OURS, ROOT, applicable, installed, mismatches, read_lock

LOCK_FILES = ("dev.txt", "server.txt", "capture.txt", "capture-pi.txt")
# `make` exports the lock it installed from (make upgrade-check: a freshly resolved one).
THIS_LOCK = Path(os.environ.get("VIGIL_LOCK_FILE", LOCKS / "dev.txt"))
PI = {"platform_machine": "aarch64", "python_full_version": "3.11.2", "python_version": "3.11",
      "sys_platform": "linux", "platform_system": "Linux", "implementation_name": "cpython",
      "platform_python_implementation": "CPython", "os_name": "posix"}


# Extras no lock installs: on the Pi, picamera2 comes from the Raspberry Pi archive (apt).
UNLOCKED_EXTRAS = {("vigil-capture", "picamera")}


def declared() -> list[tuple[str, str | None, Requirement]]:
    """Each of our packages' requirements: (package, extra or None, requirement)."""
    out: list[tuple[str, str | None, Requirement]] = []
    for path in [*sorted((ROOT / "services").glob("*/pyproject.toml")), ROOT / "bench" / "pyproject.toml"]:
        project = tomllib.loads(path.read_text())["project"]
        out += [(project["name"], None, Requirement(r)) for r in project.get("dependencies", [])]
        for extra, reqs in project.get("optional-dependencies", {}).items():
            out += [(project["name"], extra, Requirement(r)) for r in reqs]
    return out


def test_this_environment_is_exactly_the_lock() -> None:
    lock = applicable(read_lock(THIS_LOCK))
    have = installed(Path(sys.executable))
    assert mismatches(lock, have) == []
    assert OURS <= set(have)  # and our packages, from the tree


@pytest.mark.parametrize("name", LOCK_FILES)
def test_every_pin_has_hashes(name: str) -> None:
    pins = read_lock(LOCKS / name)
    assert pins
    for pin in pins.values():
        assert pin.hashes and all(h.startswith("sha256:") and len(h) == 71 for h in pin.hashes), pin
        assert pin.name not in OURS


@pytest.mark.parametrize("name", ("server.txt", "capture.txt", "capture-pi.txt"))
def test_the_server_and_camera_locks_pin_what_the_suite_runs_on(name: str) -> None:
    dev = read_lock(LOCKS / "dev.txt")
    for key, pin in read_lock(LOCKS / name).items():
        assert key in dev and dev[key].version == pin.version, (name, pin)
        assert set(pin.hashes) == set(dev[key].hashes), (name, pin.name)


def test_the_camera_locks_hold_no_server_package() -> None:
    for name in ("capture.txt", "capture-pi.txt"):
        names = {pin.name for pin in read_lock(LOCKS / name).values()}
        assert not names & {"fastapi", "sqlalchemy", "psycopg", "psycopg-binary", "rq", "uvicorn", "redis", "alembic"}
    pi = {pin.name for pin in read_lock(LOCKS / "capture-pi.txt").values()}
    full = {pin.name for pin in read_lock(LOCKS / "capture.txt").values()}
    assert full - pi == {"numpy", "opencv-python-headless"}  # from Debian on the Pi


def test_the_pi_lock_installs_on_a_pi() -> None:
    lock = applicable(read_lock(LOCKS / "capture-pi.txt"), PI)
    assert {"paho-mqtt", "pydantic", "pydantic-core", "pydantic-settings"} <= set(lock)


def test_every_declared_range_is_bounded_and_the_locks_satisfy_it() -> None:
    dev = applicable(read_lock(LOCKS / "dev.txt"))
    for package, extra, req in declared():
        name = canonicalize_name(req.name)
        if name in OURS:
            continue
        assert any(s.operator in ("<", "<=", "~=", "==") for s in req.specifier), f"{package}: {req} has no upper bound"
        if (package, extra) in UNLOCKED_EXTRAS or (req.marker is not None and not req.marker.evaluate()):
            continue
        assert name in dev, f"{package}: {req.name} is not in the lock (run make lock)"
        assert req.specifier.contains(dev[name], prereleases=True), \
            f"{package}: {req} but the lock pins {dev[name]} (run make lock)"
    for path in sorted(LOCKS.glob("*.in")):
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith(("-r", "-e")):
                continue
            req = Requirement(line)
            assert any(s.operator == "<" for s in req.specifier), f"{path.name}: {req} has no upper bound"
            assert req.specifier.contains(dev[canonicalize_name(req.name)]), f"{path.name}: {req} (run make lock)"
