"""Runs service processes, prefixes their output, restarts the ones that die (with backoff).

This is what `vigil up` uses on one machine; in production compose's restart policy or
Kubernetes does the same job.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TextIO

log = logging.getLogger(__name__)


def restart_delay(failures: int, initial: float = 1.0, maximum: float = 30.0) -> float:
    """Backoff before the ``failures``-th consecutive restart: 1, 2, 4, ... capped at ``maximum``."""
    return min(maximum, initial * (2 ** max(0, failures - 1)))


STABLE_AFTER_S = 60.0  # a process that ran this long resets its failure count


@dataclass
class ServiceSpec:
    name: str
    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict, repr=False)  # may carry secrets
    restart: bool = True
    drop_env: tuple[str, ...] = ()  # variables of this process the child must not inherit


@dataclass
class _Running:
    spec: ServiceSpec
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    next_start: float = 0.0


class Supervisor:
    def __init__(self, out: TextIO | None = None) -> None:
        self._services: list[_Running] = []
        self._out = out or sys.stdout
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def add(self, spec: ServiceSpec) -> None:
        self._services.append(_Running(spec))

    def say(self, name: str, line: str) -> None:
        with self._lock:
            print(f"{name:>10} | {line}", file=self._out, flush=True)

    def _pump(self, name: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode(errors="replace").rstrip())

    def _spawn(self, r: _Running) -> None:
        env = {k: v for k, v in os.environ.items() if k not in r.spec.drop_env}
        env.update(r.spec.env)
        env["PYTHONUNBUFFERED"] = "1"
        r.proc = subprocess.Popen(
            list(r.spec.argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        r.started = time.monotonic()
        assert r.proc.stdout is not None
        threading.Thread(target=self._pump, args=(r.spec.name, r.proc.stdout), daemon=True).start()

    def start(self) -> None:
        """Start every added service that is not running yet."""
        for r in self._services:
            if r.proc is None and not r.next_start:
                self._spawn(r)

    def poll(self) -> None:
        """Restart exited services whose backoff has elapsed (call periodically)."""
        now = time.monotonic()
        for r in self._services:
            if r.proc is None:
                if r.next_start and now >= r.next_start:
                    self.say(r.spec.name, "restarting")
                    r.next_start = 0.0
                    self._spawn(r)
                continue
            code = r.proc.poll()
            if code is None:
                if now - r.started > STABLE_AFTER_S:
                    r.failures = 0
                continue
            r.proc = None
            if not r.spec.restart or self._stopping.is_set():
                self.say(r.spec.name, f"exited with code {code}")
                continue
            r.failures += 1
            delay = restart_delay(r.failures)
            r.next_start = now + delay
            self.say(r.spec.name, f"exited with code {code}; restarting in {delay:.0f}s")

    def names(self) -> list[str]:
        return [r.spec.name for r in self._services]

    def remove(self, name: str, timeout: float = 15.0) -> None:
        """Stop the process ``name`` (SIGTERM, then SIGKILL after ``timeout``) and forget it."""
        for r in [r for r in self._services if r.spec.name == name]:
            self._services.remove(r)
            self._terminate(r, timeout)

    def _terminate(self, r: _Running, timeout: float) -> None:
        if r.proc is not None and r.proc.poll() is None:
            r.proc.send_signal(signal.SIGTERM)
        self._reap(r, timeout)

    def _reap(self, r: _Running, timeout: float) -> None:
        """Wait up to ``timeout`` for a signalled process, then SIGKILL it."""
        if r.proc is not None and r.proc.poll() is None:
            try:
                r.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.say(r.spec.name, "did not stop in time; killing")
                r.proc.kill()
                r.proc.wait()
        r.proc = None

    def pids(self) -> dict[str, int]:
        return {r.spec.name: r.proc.pid for r in self._services if r.proc is not None}

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every process in reverse start order, then SIGKILL what is left."""
        self._stopping.set()
        running = [r for r in reversed(self._services) if r.proc is not None and r.proc.poll() is None]
        for r in running:  # every process told first, then one shared deadline
            assert r.proc is not None
            r.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for r in reversed(self._services):
            self._reap(r, max(0.1, deadline - time.monotonic()))  # signalled once, above
