"""Day videos: one MP4 per camera and day, assembled by remux (``build``, the RQ job
``vigil_recorder.days.assemble_day``), scheduled once a day has ended (``schedule``), on the
rules in ``plan`` (pure)."""

from vigil_recorder.days.build import assemble_day, duties

__all__ = ["assemble_day", "duties"]
