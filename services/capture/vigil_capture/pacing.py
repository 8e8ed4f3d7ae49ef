"""Frame pacing for the grab loop: grabs on a fixed time grid, so the rate does not drift.

Grab ``k`` is due at ``start + k / fps``. A grab that is a little late does not move the
grid; one that is more than a whole period late skips the missed slots instead of bursting.
Pure: the caller passes the (monotonic) time in.
"""

from __future__ import annotations


class Pacer:
    def __init__(self, fps: float, now: float) -> None:
        self.fps = 0.0
        self._period = 0.0
        self._next = now
        self.skipped = 0
        self.set_fps(fps, now)

    def set_fps(self, fps: float, now: float) -> None:
        """Change the rate (0 = unthrottled); the next grab is due at once."""
        if fps < 0:
            raise ValueError("fps must be >= 0")
        self.fps = fps
        self._period = 1.0 / fps if fps > 0 else 0.0
        self._next = now

    def delay(self, now: float) -> float:
        """Seconds until the next grab is due (0 if due now)."""
        return max(0.0, self._next - now)

    def grabbed(self, now: float) -> None:
        """Record a grab at ``now`` and schedule the next slot on the grid."""
        if self._period == 0.0:
            self._next = now
            return
        self._next += self._period
        if self._next <= now:
            missed = int((now - self._next) / self._period) + 1
            self.skipped += missed
            self._next += missed * self._period
