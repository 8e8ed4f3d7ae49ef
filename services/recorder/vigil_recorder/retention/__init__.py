"""Retention: the periodic pass keeping the disk within ``VIGIL_RETENTION_*`` and
``VIGIL_MIN_FREE_BYTES`` (``duty``); the deletions themselves are :mod:`vigil_recorder.storage`'s."""

from vigil_recorder.retention.duty import duties, run_pass

__all__ = ["duties", "run_pass"]
