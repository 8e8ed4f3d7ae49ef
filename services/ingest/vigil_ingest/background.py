"""The plumbing ingest's background threads share: a daemon thread running ``_run`` until
``stop()``, a stop event to wait on, and a ``healthy`` flag the service reports."""

from __future__ import annotations

import threading


class BackgroundLoop:
    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.healthy = True

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to finish (it may drain its work first), waiting up to ``timeout``."""
        self._stop.set()
        self._thread.join(timeout)
