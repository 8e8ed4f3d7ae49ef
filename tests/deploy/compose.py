"""Reading the shipped compose files the way Compose does: YAML (with anchors and merge keys),
then ``${VAR}``, ``${VAR:-default}``, ``${VAR:?message}`` and ``$$`` from an env file."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:\?|-|\?)(?P<arg>[^}]*))?\}")


class MissingVariable(ValueError):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group("name"), m.group("op"), m.group("arg") or ""
        current = env.get(name)
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if current is not None else arg
        if op in (":?", "?") and (current is None or (op == ":?" and current == "")):
            raise MissingVariable(f"{name}: {arg}")
        return current or ""

    return _VAR.sub(sub, value)


def _walk(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_walk(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _walk(value, env) for key, value in node.items()}
    return node


def load(path: Path, env: dict[str, str]) -> dict[str, Any]:
    raw = yaml.safe_load(path.read_text())
    return dict(_walk({k: v for k, v in raw.items() if not str(k).startswith("x-")}, env))


def read_env_file(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def docker_compose() -> str | None:
    return shutil.which("docker-compose")


def compose_config(file: Path, env_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``docker-compose --env-file F -f FILE [extra] config -q`` (Debian's docker-compose)."""
    exe = docker_compose()
    assert exe is not None
    return subprocess.run([exe, "--env-file", str(env_file), "-f", str(file), *extra, "config", "-q"],
                          capture_output=True, text=True, timeout=120, cwd=file.parent)


def dockerfile_stages(path: Path) -> list[list[tuple[str, str]]]:
    """Each stage of a Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[list[tuple[str, str]]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        stages[-1].append((word.upper(), rest.strip()))
    return [s for s in stages if s]
