"""Motion: detection on the newest frames (``detect``), the per-camera tracker (``state``),
motion events and their thumbnails (``events``), and the duty driving them (``duty``)."""

from vigil_recorder.motion.duty import duties

__all__ = ["duties"]
