"""Reading the lock files in requirements/ (pip's hash-checking format, as uv writes it) and the
set of distributions installed in an environment, for the tests that compare the two."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "requirements"
OURS = frozenset({"vigil-common", "vigil-capture", "vigil-ingest", "vigil-recorder", "vigil-api", "vigil-notifier",
                  "vigil-detector", "vigil-ipcams", "vigil-bench"})
_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)"
                    r"\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str
    marker: str | None
    hashes: tuple[str, ...]

    def applies(self, env: dict[str, str] | None = None) -> bool:
        return self.marker is None or Marker(self.marker).evaluate(env)  # type: ignore[arg-type]


def read_lock(path: Path) -> dict[tuple[str, str | None], Pin]:
    """Every ``name==version [; marker]`` entry with its ``--hash`` lines, keyed by (name, marker)."""
    pins: dict[tuple[str, str | None], Pin] = {}
    current: dict[str, object] | None = None

    def flush() -> None:
        if current is not None:
            pin = Pin(str(current["name"]), str(current["version"]), current["marker"],  # type: ignore[arg-type]
                      tuple(current["hashes"]))  # type: ignore[arg-type]
            pins[(pin.name, pin.marker)] = pin

    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _ENTRY.match(line)
        if m:
            flush()
            current = {"name": canonicalize_name(m["name"]), "version": m["version"],
                       "marker": m["marker"].strip() if m["marker"] else None, "hashes": []}
            continue
        if line.startswith("--hash=") and current is not None:
            current["hashes"].append(line.removeprefix("--hash=").rstrip(" \\"))  # type: ignore[attr-defined]
            continue
        raise AssertionError(f"{path.name}: unexpected line {raw!r}")
    flush()
    return pins


def applicable(pins: dict[tuple[str, str | None], Pin], env: dict[str, str] | None = None) -> dict[str, str]:
    """name -> version of the entries whose marker holds in ``env`` (default: this interpreter)."""
    out: dict[str, str] = {}
    for pin in pins.values():
        if pin.applies(env):
            assert pin.name not in out, f"{pin.name} pinned twice for this environment"
            out[pin.name] = pin.version
    return out


def installed(python: Path) -> dict[str, str]:
    """name -> version of every distribution ``python``'s environment holds (pip's view)."""
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                         capture_output=True, text=True, check=True)
    return {canonicalize_name(d["name"]): d["version"] for d in json.loads(out.stdout)}


def mismatches(lock: dict[str, str], have: dict[str, str], *, others: frozenset[str] = OURS) -> list[str]:
    """What differs between a lock (for this environment) and an installed set (ours aside)."""
    problems = [f"{name}: locked {version}, installed {have.get(name, 'nothing')}"
                for name, version in sorted(lock.items()) if have.get(name) != version]
    problems += [f"{name} {version} is installed but not in the lock"
                 for name, version in sorted(have.items()) if name not in lock and name not in others]
    return problems
