"""Exports: a camera's footage between two times as one MP4 (``build``, the RQ job
``vigil_recorder.exports.run_export``), on the rules in ``plan`` (pure); ``cli`` is
``vigil export``."""

from vigil_recorder.exports.build import run_export

__all__ = ["run_export"]
