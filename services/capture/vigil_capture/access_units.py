"""Encoded video on the camera side: access units, the sources that yield them, and the rule for
dropping them.

An :class:`EncodedSource` hands over H.264 the camera (RTSP passthrough, the Pi's hardware
encoder) or the capture process itself (libx264 at the edge) already encoded. Its access units
go out as VGF1 codec-2 frames (docs/protocol.md): Annex B, one access unit per frame, SPS and PPS
in band on every keyframe.

:class:`KeyframeGate` is the sender's dropping rule: once a frame is dropped, every frame up to
the next keyframe is dropped too (a P frame without its reference decodes to garbage), and
each is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One encoded picture, ready to wrap in a VGF1 envelope."""

    data: bytes  # Annex B; a keyframe carries SPS and PPS in band
    keyframe: bool
    capture_ns: int  # wall-clock capture time, ns since the epoch, monotonic per source
    width: int
    height: int
    # Known to be incomplete (packets lost on the way): never sent; the sender drops it and every
    # unit up to the next keyframe, as for a unit it dropped itself.
    damaged: bool = False


@runtime_checkable
class EncodedSource(Protocol):
    """A camera that yields encoded access units (used from one thread, like :class:`Source`)."""

    @property
    def kind(self) -> str:
        """One of ``SourceKind`` (never a URL or a path)."""
        ...

    @property
    def codec(self) -> str:
        """``"h264"``."""
        ...

    def open(self) -> None:
        """Open the source; raise ``SourceError`` (one line, no credentials) if it cannot."""
        ...

    def read(self) -> AccessUnit | None:
        """The next access unit, or ``None`` if none is available right now (the caller retries)."""
        ...

    def close(self) -> None: ...


class KeyframeGate:
    """Decides which encoded frames may still be sent after a drop.

    Call :meth:`dropped` for a frame that could not be sent, and :meth:`admit` before sending
    each frame: it refuses (and counts) every frame after a drop until the next keyframe.
    Not thread-safe: one sender thread owns it.
    """

    def __init__(self) -> None:
        self._broken = False
        self.skipped = 0  # frames refused because their reference was dropped

    @property
    def waiting_for_keyframe(self) -> bool:
        return self._broken

    def admit(self, keyframe: bool) -> bool:
        if keyframe:
            self._broken = False
        if self._broken:
            self.skipped += 1
            return False
        return True

    def dropped(self) -> None:
        self._broken = True
