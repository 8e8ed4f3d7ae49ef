"""Reconciliation: the index and the disk agree (``duty``): changed day directories are
checked (``dirs``), unindexed stills swept (``stills``)."""

from vigil_recorder.reconcile.duty import duties

__all__ = ["duties"]
