"""``picamera2.outputs`` stand-in: the :class:`Output` base class with picamera2's signatures."""

from __future__ import annotations

from typing import Any


class Output:
    """Handles output functionality of encoders (picamera2's base class, same methods)."""

    def __init__(self, pts: Any = None) -> None:
        self.recording = False
        self.ptsoutput = pts
        self.needs_pacing = False

    def start(self) -> None:
        self.recording = True

    def stop(self) -> None:
        self.recording = False

    def outputframe(
        self, frame: bytes, keyframe: bool = True, timestamp: int | None = None, packet: Any = None, audio: bool = False
    ) -> None:
        """Called by the encoder's thread for every encoded frame (``timestamp`` in µs)."""

    def outputtimestamp(self, timestamp: int | None) -> None:
        pass
