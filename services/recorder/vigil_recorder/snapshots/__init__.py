"""Snapshots: a still per camera every ``VIGIL_SNAPSHOT_INTERVAL_S``, from the newest
decodable frame in its buffer (``duty``)."""

from vigil_recorder.snapshots.duty import duties

__all__ = ["duties"]
