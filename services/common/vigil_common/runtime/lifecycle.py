"""Graceful shutdown: SIGTERM/SIGINT set a stop event that each service's main loop watches."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)


class StopSignal:
    """A threading.Event set by SIGTERM or SIGINT (install from the main thread)."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> StopSignal:
        def _handler(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            self.event.set()

        signal.signal(signal.SIGTERM, _handler)
        signal.signal(signal.SIGINT, _handler)
        return self

    def is_set(self) -> bool:
        return self.event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.event.wait(timeout)

    def set(self) -> None:
        self.event.set()


def backoff_delays(initial: float = 0.5, maximum: float = 30.0, factor: float = 2.0) -> Callable[[], float]:
    """Return a function yielding exponentially growing delays, capped at ``maximum``."""
    state = {"next": initial}

    def _next() -> float:
        delay = state["next"]
        state["next"] = min(maximum, delay * factor)
        return delay

    return _next


def retry(
    fn: Callable[[], object],
    *,
    what: str,
    stop: StopSignal | None = None,
    attempts: int | None = None,
    initial: float = 0.5,
    maximum: float = 30.0,
    exceptions: tuple[type[BaseException], ...] = (Exception,),
) -> object:
    """Call ``fn`` until it succeeds, sleeping with exponential backoff between failures."""
    delays = backoff_delays(initial, maximum)
    n = 0
    while True:
        try:
            return fn()
        except exceptions as exc:
            n += 1
            if attempts is not None and n >= attempts:
                raise
            delay = delays()
            log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
            if stop is not None:
                if stop.wait(delay):
                    raise
            else:
                time.sleep(delay)


PRIVATE_UMASK = 0o077


def private_files() -> None:
    """Files and directories this process creates are its user's alone (0600 / 0700): the
    database holds password hashes, the data directory the footage. Called first in every
    service's ``main``; the API serves the footage itself, nothing else needs to read it."""
    os.umask(PRIVATE_UMASK)
