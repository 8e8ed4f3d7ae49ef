"""``vigil ipcams``'s decisions: which capture processes to start and stop so that exactly the
enabled IP cameras run, each with its current URL and name (pure; the service does the I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vigil_ipcams.records import RunSpec


@dataclass(frozen=True, slots=True)
class Plan:
    stop: tuple[str, ...]  # camera ids whose process goes (removed, disabled, or changed)
    start: tuple[RunSpec, ...]  # processes to start (new, or changed: after their stop)


def plan(running: Mapping[str, RunSpec], wanted: Mapping[str, RunSpec]) -> Plan:
    stop = sorted(cam for cam, spec in running.items() if wanted.get(cam) != spec)
    start = [spec for cam, spec in sorted(wanted.items()) if running.get(cam) != spec]
    return Plan(tuple(stop), tuple(start))
